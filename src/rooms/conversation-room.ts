/**
 * ConversationRoom: one Durable Object per conversation, the ordering point of its events.
 *
 * Every event (message created, status changed) is appended here: the room takes the next seq,
 * writes D1 in one batch, and only when that succeeds commits the seq to its own SQLite log and
 * broadcasts the frame. Appends are serialized, so a failed D1 write leaves no gap and two writers
 * never share a seq. The log keeps the last LOG_LIMIT events for clients that resume.
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { type NewMessage, restartStatements, type StatusChange, statusChangeStatements } from "../db/queries/messages";
import { conversations, messageEvents, messages } from "../db/schema";
import { iso } from "../domain/time";
import { presentMessage } from "../http/present";
import type { LoggedFrame, MessageJson, ServerFrame } from "../shared/frames";

export const LOG_LIMIT = 1000;

export type AppendMessageResult =
  | { outcome: "created"; message: MessageJson }
  | { outcome: "duplicate"; constraint: "provider_sid" | "idempotency_key" };

export type ApplyStatusResult = { applied: true; seq: number } | { applied: false };

export class ConversationRoom extends DurableObject<Env> {
  private lastSeq = 0;
  private initialized = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL);`,
      );
      const row = this.ctx.storage.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'lastSeq'")
        .toArray()[0];
      if (row) {
        this.lastSeq = Number(row.value);
        this.initialized = true;
      }
    });
  }

  /** Runs appends one at a time (D1 I/O happens inside, so the input gate alone would interleave them). */
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** A room created for an existing conversation (or whose storage was lost) starts after D1's last seq. */
  private async ensureInitialized(conversationId: string): Promise<void> {
    if (this.initialized) return;
    const row = await this.env.DB.prepare(
      "SELECT max(coalesce((SELECT last_seq FROM conversations WHERE id = ?1), 0), coalesce((SELECT max(seq) FROM messages WHERE conversation_id = ?1), 0)) AS seq",
    )
      .bind(conversationId)
      .first<{ seq: number }>();
    this.lastSeq = row?.seq ?? 0;
    this.initialized = true;
  }

  private commit(frame: LoggedFrame): void {
    this.lastSeq = frame.seq;
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO events (seq, frame) VALUES (?, ?)",
      frame.seq,
      JSON.stringify(frame),
    );
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('lastSeq', ?)", String(frame.seq));
    if (frame.seq > LOG_LIMIT) this.ctx.storage.sql.exec("DELETE FROM events WHERE seq <= ?", frame.seq - LOG_LIMIT);
    this.broadcast(frame);
  }

  protected broadcast(frame: ServerFrame, except?: WebSocket): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except) continue;
      try {
        ws.send(text);
      } catch {
        // A socket that is closing; its close handler cleans up.
      }
    }
  }

  /** Stores a new message (inbound or outbound) at the next seq. Duplicates (same sid or idempotency key) store nothing. */
  async appendMessage(row: NewMessage): Promise<AppendMessageResult> {
    return this.serialize(async () => {
      await this.ensureInitialized(row.conversationId);
      const seq = this.lastSeq + 1;
      const db = createDb(this.env.DB);
      const now = row.createdAt ?? Date.now();
      const full = { ...row, seq, createdAt: now, updatedAt: now };
      try {
        await db.batch([
          db.insert(messages).values(full),
          db.insert(messageEvents).values({
            workspaceId: row.workspaceId,
            messageId: row.id,
            status: row.status,
            source: row.direction === "inbound" ? "webhook" : "api",
            at: now,
          }),
          db
            .update(conversations)
            .set({ lastSeq: seq, lastMessageId: row.id, lastMessageAt: now })
            .where(eq(conversations.id, row.conversationId)),
        ]);
      } catch (err) {
        const text = err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err);
        if (/UNIQUE constraint failed: messages\.provider_sid/.test(text))
          return { outcome: "duplicate", constraint: "provider_sid" };
        if (/UNIQUE constraint failed: messages\.workspace_id, messages\.idempotency_key/.test(text)) {
          return { outcome: "duplicate", constraint: "idempotency_key" };
        }
        throw err;
      }
      const stored = await db.query.messages.findFirst({ where: eq(messages.id, row.id) });
      if (!stored) throw new Error(`message ${row.id} missing right after insert`);
      const message = presentMessage(stored);
      this.commit({ type: "message", seq, message });
      return { outcome: "created", message };
    });
  }

  /** Records a status report and moves the status forward when it ranks higher (invariant 3). */
  async applyStatus(conversationId: string, change: StatusChange): Promise<ApplyStatusResult> {
    return this.commitStatusChange(
      conversationId,
      change.messageId,
      change.at,
      statusChangeStatements(this.env.DB, change),
    );
  }

  /** Manual retry of a failed message: the one sanctioned move backwards, recorded as its own event. */
  async restartFailed(conversationId: string, messageId: string): Promise<ApplyStatusResult> {
    const at = Date.now();
    return this.commitStatusChange(conversationId, messageId, at, restartStatements(this.env.DB, messageId, at));
  }

  private commitStatusChange(
    conversationId: string,
    messageId: string,
    at: number,
    statements: D1PreparedStatement[],
  ): Promise<ApplyStatusResult> {
    return this.serialize(async () => {
      await this.ensureInitialized(conversationId);
      const results = await this.env.DB.batch<{ id: string; status: string; errorCode: number | null }>(statements);
      const moved = results.at(-1)?.results[0];
      if (!moved) return { applied: false };
      const seq = this.lastSeq + 1;
      // The mirror in D1 is advisory (the room's log is authoritative); a lost write here costs nothing.
      await this.env.DB.prepare("UPDATE conversations SET last_seq = ?1 WHERE id = ?2 AND last_seq < ?1")
        .bind(seq, conversationId)
        .run();
      this.commit({ type: "status", seq, messageId, status: moved.status, errorCode: moved.errorCode, at: iso(at) });
      return { applied: true, seq };
    });
  }

  /** The last seq this room assigned. */
  async getLastSeq(conversationId: string): Promise<number> {
    await this.ensureInitialized(conversationId);
    return this.lastSeq;
  }

  /** Logged frames after `afterSeq`, or null when the log no longer reaches back that far. */
  async eventsAfter(conversationId: string, afterSeq: number): Promise<LoggedFrame[] | null> {
    await this.ensureInitialized(conversationId);
    return this.readLog(afterSeq);
  }

  protected readLog(afterSeq: number): LoggedFrame[] | null {
    if (afterSeq >= this.lastSeq) return [];
    const oldest = this.ctx.storage.sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM events").one().seq;
    if (oldest === null || oldest > afterSeq + 1) return null;
    return this.ctx.storage.sql
      .exec<{ frame: string }>("SELECT frame FROM events WHERE seq > ? ORDER BY seq", afterSeq)
      .toArray()
      .map((r) => JSON.parse(r.frame) as LoggedFrame);
  }
}

export function roomFor(env: Env, conversationId: string): DurableObjectStub<ConversationRoom> {
  return env.CONVERSATION_ROOM.get(env.CONVERSATION_ROOM.idFromName(conversationId));
}
