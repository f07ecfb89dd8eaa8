/**
 * Render chat templates with Python's Jinja2 configured as transformers configures it
 * (`render_jinja_template`: sandboxed, trim_blocks, lstrip_blocks, loopcontrols, a json.dumps
 * `tojson` with ensure_ascii=False, `raise_exception`): an independent reference for gymrl's
 * renders. Unavailable (null) when python3 with jinja2 is not installed; tests then skip it.
 */
import { spawnSync } from "node:child_process";

const SCRIPT = String.raw`
import json, sys
import jinja2, jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
req = json.load(sys.stdin)
def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
out = []
for ctx in req["contexts"]:
    out.append(env.from_string(req["template"]).render(**ctx))
json.dump(out, sys.stdout)
`;

let available: boolean | null = null;

export function pythonJinjaAvailable(): boolean {
  if (available === null) {
    const r = spawnSync("python3", ["-c", "import jinja2"], { encoding: "utf8" });
    available = r.status === 0;
  }
  return available;
}

/** Each context rendered by Jinja2 (contexts are JSON: functions and undefined keys are dropped). */
export function renderWithPythonJinja(template: string, contexts: Record<string, unknown>[]): string[] {
  const r = spawnSync("python3", ["-c", SCRIPT], { input: JSON.stringify({ template, contexts }), encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python3 jinja2 render failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}
