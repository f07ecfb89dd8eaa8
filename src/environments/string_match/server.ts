/**
 * string_match, ported from NeMo Gym `resources_servers/string_match/app.py`
 * (StringMatchResourcesServer): extract an answer from the assistant's text by the row's
 * `extraction_mode` (boxed | final_answer (default; falls back to boxed) | last_line |
 * full_response) and grade it against `expected_answer` (grade.ts; exact when `case_sensitive`).
 * Fields: reward, expected_answer, extracted_answer.
 */
import { defineResourcesServer } from "../../gym/servers/resources/define.ts";
import { assistantTexts } from "../_shared/response-text.ts";
import { answersMatch, extractAnswer, type ExtractionMode } from "./grade.ts";

export default defineResourcesServer({
  name: "StringMatchResourcesServer",
  verify: (body) => {
    const text = assistantTexts(body.response.output).join("\n").trim();
    const expected = String(body.expected_answer ?? "");
    const extracted = extractAnswer(text, (body.extraction_mode as ExtractionMode | undefined) ?? "final_answer");
    const reward = extracted !== null && expected ? answersMatch(extracted, expected, body.case_sensitive === true) : 0.0;
    return { reward, expected_answer: expected, extracted_answer: extracted };
  },
});
