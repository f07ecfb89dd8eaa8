/**
 * Runs the Python worker's own unit tests (python/tests, stdlib unittest) under `npm test`, with the
 * interpreter the launcher would choose. Skipped where no interpreter imports torch.
 */
import { execFile } from "node:child_process";
import { describe, expect, test } from "vitest";
import { findTorchPython, PYTHON_PACKAGE_ROOT } from "./launcher.ts";

const python = await findTorchPython().catch(() => null);

// CI installs python3-torch: there the torch suites must run, not skip
test.runIf(process.env.GYMRL_REQUIRE_TORCH === "1")("an interpreter imports torch (GYMRL_REQUIRE_TORCH=1)", () => {
  expect(python, "no interpreter imports torch: apt-get install python3-torch, or set GYMRL_PYTHON").not.toBeNull();
});

describe.skipIf(!python)("python/tests (unittest)", () => {
  test("the gymrl_torch suite passes", async () => {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        python!.python,
        ["-m", "unittest", "discover", "-s", "tests", "-t", "."],
        { cwd: PYTHON_PACKAGE_ROOT, env: { ...process.env, PYTHONPATH: PYTHON_PACKAGE_ROOT, OMP_NUM_THREADS: "1" }, timeout: 170_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
    });
    if (code !== 0) console.error(output);
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/Ran \d+ tests/);
  }, 180_000);
});
