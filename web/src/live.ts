/**
 * A WebSocket that reconnects with backoff and reports its state, so the page can show a banner and
 * resume from its last seq. Pings keep intermediaries from closing idle sockets (the room answers
 * them without waking up).
 */
import type { z } from "zod";

export type LiveState = "connecting" | "open" | "reconnecting" | "closed";

/**
 * Frames are parsed with the shared wire schema (src/shared/frames.ts); a frame that does not match
 * is dropped with a console warning instead of being half-read.
 */
export class LiveSocket<F> {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ping: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly path: string,
    private readonly schema: z.ZodType<F>,
    private readonly onFrame: (frame: F) => void,
    private readonly onState: (state: LiveState) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ping) clearInterval(this.ping);
    this.ws?.close(1000, "leaving");
    this.ws = null;
    this.onState("closed");
  }

  send(frame: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private connect(): void {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${this.path}`;
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onState("open");
      if (this.ping) clearInterval(this.ping);
      this.ping = setInterval(() => this.send({ type: "ping" }), 25_000);
    };
    ws.onmessage = (e) => {
      let json: unknown;
      try {
        json = JSON.parse(String(e.data));
      } catch {
        return; // not ours
      }
      if ((json as { type?: unknown } | null)?.type === "pong") return;
      const frame = this.schema.safeParse(json);
      if (frame.success) this.onFrame(frame.data);
      else console.warn("parley: ignored a frame that does not match the wire schema", frame.error.issues);
    };
    ws.onclose = () => {
      if (this.ping) clearInterval(this.ping);
      if (this.stopped || this.ws !== ws) return;
      this.attempt++;
      this.onState("reconnecting");
      const delay = Math.min(10_000, 500 * 2 ** Math.min(this.attempt - 1, 5)) * (0.75 + Math.random() * 0.5);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
}
