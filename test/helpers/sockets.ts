/** Real WebSockets through the Worker's fetch handler, with a frame log and waiters. */
import { exports } from "cloudflare:workers";
import type { Caller } from "./api";
import { ORIGIN } from "./api";

export interface TestSocket {
  ws: WebSocket;
  frames: any[];
  next(pred: (f: any) => boolean, ms?: number): Promise<any>;
  send(frame: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
}

export async function upgrade(path: string, who: Caller, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { Upgrade: "websocket", Origin: ORIGIN, ...headers };
  if (who.cookie) h.Cookie = who.cookie;
  if (who.key) h.Authorization = `Bearer ${who.key}`;
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { headers: h }));
}

export async function openSocket(path: string, who: Caller): Promise<TestSocket> {
  const res = await upgrade(path, who);
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  const frames: any[] = [];
  const waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  let onClose: (v: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((r) => {
    onClose = r;
  });
  ws.accept();
  ws.addEventListener("message", (e) => {
    const f = JSON.parse(String(e.data));
    frames.push(f);
    for (const w of [...waiters]) {
      if (w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  ws.addEventListener("close", (e) => onClose({ code: e.code, reason: e.reason }));
  return {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    next: (pred, ms = 5000) =>
      new Promise((resolve, reject) => {
        const hit = frames.find(pred);
        if (hit) return resolve(hit);
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`no matching frame in ${ms} ms; got ${JSON.stringify(frames).slice(0, 400)}`));
          }
        }, ms);
      }),
  };
}

/** Waits until `count` frames match, or fails. */
export async function collect(
  socket: TestSocket,
  pred: (f: any) => boolean,
  count: number,
  ms = 10_000,
): Promise<any[]> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const hits = socket.frames.filter(pred);
    if (hits.length >= count) return hits;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`expected ${count} frames, got ${socket.frames.filter(pred).length}`);
}
