/** Server-sent events as OpenAI streams them: `data: <json>\n\n` lines ending with `data: [DONE]`. */
import type { ServerResponse } from "node:http";

export class SseWriter {
  started = false;
  constructor(private readonly res: ServerResponse) {}

  send(value: unknown): void {
    if (!this.started) {
      this.res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      this.started = true;
    }
    this.res.write(`data: ${JSON.stringify(value)}\n\n`);
  }

  done(): void {
    if (!this.started) this.send({});
    this.res.end("data: [DONE]\n\n");
  }
}
