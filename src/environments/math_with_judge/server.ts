/**
 * math_with_judge, ported from NeMo Gym `resources_servers/math_with_judge/app.py`
 * (LibraryJudgeMathResourcesServer) WITHOUT the LLM judge: the assistant's output_text parts are
 * concatenated, the last `\boxed{}` is checked against the row's `expected_answer` by a TypeScript
 * checker (check.ts, in place of math_verify/SymPy), and reward = library_reward.
 * Fields: reward, expected_answer (echoed), extracted_answer, library_reward, judge_evaluations
 * (always null: no judge is called). `should_use_judge: true` in the config is refused at verify,
 * since silently skipping the judge would change rewards. See README.md.
 */
import { defineResourcesServer } from "../../gym/servers/resources/define.ts";
import { assistantTexts } from "../_shared/response-text.ts";
import { checkBoxedAnswer } from "./check.ts";

export default defineResourcesServer({
  name: "LibraryJudgeMathResourcesServer",
  reverifyMode: "stateless",
  verify: (body, _session, ctx) => {
    const text = assistantTexts(body.response.output).join("");
    const { reward, extracted } = checkBoxedAnswer(String(body.expected_answer ?? ""), text);
    // NeMo Gym asks the judge only when the library says "not equal"; without a judge that call cannot be made.
    if (ctx.config.should_use_judge === true && reward <= 0.5 && extracted !== null) {
      throw new Error("math_with_judge: should_use_judge is true but gymrl's port has no LLM judge; set should_use_judge: false");
    }
    return { reward, extracted_answer: extracted, library_reward: reward, judge_evaluations: null };
  },
});
