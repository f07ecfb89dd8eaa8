export { exportGguf, GgufExportError, permuteForRope, type GgufExportOptions, type GgufExportResult } from "./export.ts";
export { f16BitsToF32, f32ToF16Bits } from "./f16.ts";
export { TokenType } from "./tokenizer-metadata.ts";
export { GGUF_ALIGNMENT, GgmlType, GgufType, writeGguf, type GgufTensor, type GgufValue } from "./writer.ts";
