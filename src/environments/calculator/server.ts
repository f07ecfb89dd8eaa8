/**
 * calculator: a multi-step, learnable tool-use environment for the tiny demo model. The model
 * calls `calculate {"expr": "347*29"}` (→ "10063", the result as text) and then answers
 * `\boxed{10063}`. Every rollout thus has two model calls, exercising tool calls and the
 * on-policy prefix splice.
 *
 * Reward 1.0 when the last boxed number equals `expected_answer` AND, with `require_tool_call: true`
 * (the default; config), the calculate tool was called at least once — so the policy cannot skip
 * the tool by answering from memory. Fields: expected_answer, extracted_answer, tool_calls (how
 * many calculate calls the response made).
 */
import { z } from "zod";
import { defineResourcesServer, tool } from "../../gym/servers/resources/define.ts";
import { assistantTexts, functionCalls, lastBoxed } from "../_shared/response-text.ts";
import { evaluate, ExprError, formatResult } from "./expr.ts";

export default defineResourcesServer({
  name: "CalculatorResourcesServer",
  reverifyMode: "stateless",
  tools: {
    // The number's JSON text is the tool output the model sees: "10063". Errors are text too, so the model can read them.
    calculate: tool(z.object({ expr: z.string() }), ({ expr }) => {
      try {
        return Number(formatResult(evaluate(expr)));
      } catch (e) {
        if (e instanceof ExprError) return `error: ${e.message}`;
        throw e;
      }
    }),
  },
  verify: (body, _session, ctx) => {
    const output = body.response.output;
    const boxed = lastBoxed(assistantTexts(output).join("\n"))?.trim() ?? null;
    const extracted = boxed !== null && /^-?\d+(\.\d+)?$/.test(boxed) ? boxed : null;
    const expected = String(body.expected_answer);
    const toolCalls = functionCalls(output).filter((c) => c.name === "calculate").length;
    const requireTool = ctx.config.require_tool_call !== false;
    const correct = extracted !== null && Number(extracted) === Number(expected) && (!requireTool || toolCalls > 0);
    return { reward: correct ? 1.0 : 0.0, expected_answer: expected, extracted_answer: extracted, tool_calls: toolCalls };
  },
});
