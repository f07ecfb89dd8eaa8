/**
 * The 27 workplace tools by their upstream names, and `callTool`: how upstream's catch-all route
 * runs one. Keyword arguments a method does not take are Python's TypeError; any exception a tool
 * raises comes back as the text "Error executing tool '<name>': <message>" for the model to read.
 */
import { PyError } from "../py.ts";
import type { Sandbox } from "../sandbox.ts";
import { analyticsTools } from "./analytics.ts";
import { calendarTools } from "./calendar.ts";
import type { Kwargs, ToolImpl } from "./common.ts";
import { crmTools } from "./crm.ts";
import { directoryTools } from "./directory.ts";
import { emailTools } from "./email.ts";
import { projectManagementTools } from "./project-management.ts";

export type { Kwargs, ToolImpl } from "./common.ts";

/** In upstream's registration order (utils.get_tools). */
export const TOOLS: Readonly<Record<string, ToolImpl>> = {
  ...directoryTools,
  ...emailTools,
  ...calendarTools,
  ...analyticsTools,
  ...projectManagementTools,
  ...crmTools,
};

/**
 * `function(**args)` for the tool `name`; throws PyError (a Python exception) for an unknown tool,
 * arguments that are not an object, or an unexpected keyword.
 */
export function invokeTool(sb: Sandbox, name: string, args: unknown): unknown {
  const t = Object.hasOwn(TOOLS, name) ? TOOLS[name] : undefined;
  if (!t) throw new PyError(`'${name}'`); // the KeyError of tool_env["functions"][name]
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new PyError(`${t.cls}.${t.method}() argument after ** must be a mapping, not ${Array.isArray(args) ? "list" : args === null ? "NoneType" : typeof args === "string" ? "str" : typeof args === "number" ? (Number.isInteger(args) ? "int" : "float") : "bool"}`);
  }
  for (const k of Object.keys(args)) {
    if (!t.params.includes(k)) throw new PyError(`${t.cls}.${t.method}() got an unexpected keyword argument '${k}'`);
  }
  return t.run(sb, args as Kwargs);
}

/**
 * Upstream's route for `POST /<name>`: null arguments dropped (pydantic's exclude_unset + `is not
 * None`), the result as `{output}`, any exception as `{output: "Error executing tool ..."}` — never an
 * HTTP error, so the model can correct itself.
 */
export function callTool(sb: Sandbox, name: string, body: unknown): { output: unknown } {
  try {
    const args = body !== null && typeof body === "object" && !Array.isArray(body) ? Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null)) : body;
    return { output: invokeTool(sb, name, args) };
  } catch (e) {
    // upstream catches every Exception here; a JS error is the analogue of one
    return { output: `Error executing tool '${name}': ${(e as Error).message}` };
  }
}
