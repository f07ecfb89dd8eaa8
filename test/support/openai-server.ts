/** Start the OpenAI-compatible server on a free loopback port for a test, with the real Qwen3 tokenizer. */
import type { Server } from "node:http";
import OpenAI from "openai";
import type { GenerationEngine } from "../../src/engine/types.ts";
import { createOpenAIServer, type OpenAIServerOptions } from "../../src/server/app.ts";
import { listen } from "../../src/server/http.ts";
import { chatTokenizerFrom, qwenOutputParser } from "../../src/server/tokenizer-adapter.ts";
import { loadQwen3Tokenizer } from "../../src/tokenizer/index.ts";

export const QWEN_EOS = 151645; // <|im_end|>
export const QWEN_ENDOFTEXT = 151643;

export interface RunningServer {
  baseUrl: string;
  client: OpenAI;
  server: Server;
  close(): Promise<void>;
}

export async function startTestServer(
  engine: GenerationEngine,
  extra: Partial<OpenAIServerOptions> = {},
): Promise<RunningServer> {
  const tok = loadQwen3Tokenizer();
  const server = createOpenAIServer({
    engine,
    tokenizer: chatTokenizerFrom(tok),
    parser: qwenOutputParser,
    modelName: "gymrl-test",
    stopTokenIds: [QWEN_EOS, QWEN_ENDOFTEXT],
    ...extra,
  });
  const baseUrl = await listen(server, "127.0.0.1", 0);
  const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: extra.apiKey ?? "unused", maxRetries: 0 });
  return {
    baseUrl,
    client,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
