/**
 * The scripted policy (test/gym/helpers/scripted-policy.ts) as a process of its own, so a test can
 * stop it with real signals: `node --import tsx policy-process.ts` prints `POLICY_URL <base url>`
 * and serves until killed. Its script answers example_single_tool_call: a get_weather call, then
 * "Cold.". Test support only.
 */
import { completion, startScriptedPolicy } from "../../gym/helpers/scripted-policy.ts";

const policy = await startScriptedPolicy((body) => {
  const step = (body.messages as { role: string }[]).filter((m) => m.role === "assistant").length;
  return step === 0
    ? completion({ toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"SF"}' }], prompt: [1, 2], generation: [3, 4] })
    : completion({ content: "Cold.", prompt: [1, 2, 3, 4, 5], generation: [6, 7] });
});
process.stdout.write(`POLICY_URL ${policy.baseUrl}\n`);
// leave with the test runner even if it dies without killing us
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
