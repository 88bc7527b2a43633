/**
 * A Durable Object's presence flag in D1 (`workspaces.inbox_listeners` for an InboxStream,
 * `conversations.room_listeners` for a ConversationRoom): set and committed before the object accepts
 * a socket, cleared when nobody needs its frames any more. Writers read the flag in the batch that
 * commits their change and leave the object out while it is clear.
 *
 * `sync()` brings the flag in line with `wanted()`. Writes run one at a time and each decides when it
 * runs, so a clear that races a new socket's set cannot land after it. What was last written is
 * remembered (null: nothing since the object started, or a write failed), so most syncs write nothing.
 */
import { log } from "../log";

export class PresenceFlag {
  private tail: Promise<void> = Promise.resolve();
  written: boolean | null = null;

  constructor(
    /** Whether the flag should be set now; `leaving`: a socket that is closing, not counted. */
    private readonly wanted: (leaving?: WebSocket) => boolean,
    private readonly write: (on: boolean) => Promise<unknown>,
    private readonly what: Record<string, string>,
  ) {}

  sync(leaving?: WebSocket): Promise<void> {
    const task = async () => {
      const on = this.wanted(leaving);
      if (this.written === on) return;
      await this.write(on);
      this.written = on;
    };
    const run = this.tail.then(task, task);
    this.tail = run.catch((err: unknown) => {
      this.written = null; // unknown: the next sync writes again
      log("warn", "presence flag write failed", { ...this.what, error: String(err) });
    });
    return run;
  }
}
