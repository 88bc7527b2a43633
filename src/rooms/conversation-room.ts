/**
 * ConversationRoom: one Durable Object per conversation, the ordering point of its events.
 *
 * Every event (message created, status changed) gets its seq in D1, in the same batch that writes it
 * (the conversation's `last_seq`; see mirrorSeqStatement), so two writers never share a seq and a
 * failed write takes none. Most events are written here (appends are serialized); the outbound
 * consumer writes a whole batch's results in one D1 round trip and hands each room its frames
 * (deliverCommitted). Either way a frame is logged and broadcast only in seq order: one that arrives
 * ahead of an earlier seq still on its way is held until that one comes, for at most GAP_WAIT_MS
 * (after a crash between a D1 commit and its frame it never does: the room then drops its resume
 * log, so clients resuming across the hole reload instead of missing an event). The log keeps the
 * last LOG_LIMIT events for clients that resume.
 */
import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { countingD1, type D1Count, newCount } from "../db/counted";
import {
  type ConversationChange,
  type ConversationStateRow,
  conversationChangeStatements,
  conversationStateStatement,
  mirrorSeqStatement,
  reopenStatements,
  setRoomListeners,
} from "../db/queries/conversations";
import {
  appendMessageStatements,
  conversationSeqInD1,
  editScheduledStatements,
  getMessageById,
  inboxListening,
  markReadUpTo,
  type NewMessage,
  type RecordedStatus,
  recordStatusChanges,
  replaceMediaStatements,
  restartStatements,
  type StatusChange,
  statusChangeStatements,
  storedMessage,
} from "../db/queries/messages";
import { noteStatements } from "../db/queries/notes";
import type { MediaItem, messages } from "../db/schema";
import { isUniqueViolation } from "../db/unique";
import { iso } from "../domain/time";
import { log } from "../log";
import { emitEvent, statusEventData } from "../messaging/events";
import { presentConversationState, presentMessage, presentNote } from "../messaging/present";
import {
  ClientFrameSchema,
  type ConversationStateJson,
  type LoggedFrame,
  type MessageJson,
  type NoteJson,
  type ServerFrame,
} from "../shared/frames";
import { inboxFor } from "./inbox-stream";
import { PresenceFlag } from "./presence";
import {
  CREDENTIAL_CHECK_MS,
  closeForCredentials,
  IDENTITY_HEADER,
  MAX_FRAME_BYTES,
  MAX_STRIKES,
  reciprocalCloseCode,
  SocketIdentitySchema,
  type SocketState,
  socketsWithEndedCredentials,
  TYPING_MAX_PER_WINDOW,
  TYPING_TTL_MS,
  TYPING_WINDOW_MS,
} from "./sockets";

export const LOG_LIMIT = 1000;
/** The log is trimmed back to LOG_LIMIT entries every LOG_TRIM frames (one write a frame otherwise). */
const LOG_TRIM = 64;
/**
 * How long a frame numbered past the room's next seq waits for the earlier ones (the consumer's frames
 * reach the room a moment after its D1 commit) before the room gives up on them as lost.
 */
export const GAP_WAIT_MS = 3000;
/**
 * How long a room stays attended after its last socket closed: writers keep handing it their frames
 * (its conversations.room_listeners flag stays set), so a client that reconnects within it resumes
 * frame by frame. After it the room clears the flag and writers leave it out.
 */
export const ROOM_GRACE_MS = 60_000;

export type AppendMessageResult = (
  | { outcome: "created"; message: MessageJson }
  | { outcome: "duplicate"; constraint: "provider_sid" | "idempotency_key" }
) & { d1: D1Count };

/** `d1`: what the call cost the database (the caller adds it to its own count). */
export type ApplyStatusResult = ({ applied: true; seq: number } | { applied: false }) & { d1: D1Count };

export class ConversationRoom extends DurableObject<Env> {
  private lastSeq = 0;
  private initialized = false;
  private workspaceId: string | null = null;
  /**
   * The conversation this room serves: its own name (`ctx.id.name`, as partyserver does), so no call
   * has to pass it. A `#suffix` is ignored (tests name a second room object for one conversation so).
   */
  private readonly conversationId: string;
  private tail: Promise<unknown> = Promise.resolve();
  private lastCredentialCheck = 0;
  /** Frames D1 numbered past lastSeq + 1, waiting for the ones before them (see accept). */
  private readonly held = new Map<number, { frame: LoggedFrame; inbox: boolean }>();
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  /** The workspace's inbox stream (kept: its id is a hash of the name, worked out once). */
  private inbox: { workspaceId: string; stub: ReturnType<typeof inboxFor> } | null = null;
  /** An inbox publish is on its way; another change since it started asks for one more (notifyInbox). */
  private publishing = false;
  private publishAgain = false;
  /** Waiters for lastSeq to reach a seq (ensureInitialized), resolved as frames are committed. */
  private readonly seqWaiters = new Set<{ seq: number; resolve: () => void }>();
  /** No event was ever committed here (a new room): nobody can be waiting for a log, so a gap is skipped at once. */
  private fresh = true;
  /** Sockets on their way in (fetch, from the presence write to acceptWebSocket). */
  private accepting = 0;
  /** The conversation's room_listeners flag: set while the room is attended(). */
  private readonly presence: PresenceFlag;
  /** When the last socket closed (meta `leftAt`, so the grace outlives an eviction); 0: none ever did. */
  private leftAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.conversationId = (ctx.id.name ?? "").split("#")[0] ?? "";
    this.presence = new PresenceFlag(
      () => this.attended(),
      (on) => setRoomListeners(this.env.DB, this.conversationId, on),
      { conversationId: this.conversationId },
    );
    // Pings are answered by the runtime without waking the object (idle sockets cost nothing).
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    ctx.blockConcurrencyWhile(async () => {
      this.ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL);`,
      );
      const meta = new Map(
        this.ctx.storage.sql
          .exec<{ key: string; value: string }>("SELECT key, value FROM meta")
          .toArray()
          .map((r) => [r.key, r.value]),
      );
      // The last logged frame's seq (meta's lastSeq is written only when the log is emptied: skipGap,
      // forget). Not yet trusted: ensureInitialized checks it against D1 on first use (see there).
      const logged = this.ctx.storage.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM events").one().seq;
      this.lastSeq = Math.max(Number(meta.get("lastSeq") ?? 0), logged ?? 0);
      this.fresh = !meta.has("lastSeq") && logged === null;
      this.workspaceId = meta.get("workspaceId") ?? null;
      this.leftAt = Number(meta.get("leftAt") ?? 0);
    });
  }

  /**
   * Whether anyone may still need this room's frames and log: a socket is open or on its way in, or the
   * last one closed less than ROOM_GRACE_MS ago. An unattended room skips gaps at once (writers leave it
   * out, and nobody can resume across them: the log is dropped) instead of waiting for frames.
   */
  private attended(): boolean {
    return this.accepting > 0 || this.hasSocketsBesides() || Date.now() < this.leftAt + ROOM_GRACE_MS;
  }

  private hasSocketsBesides(leaving?: WebSocket): boolean {
    return this.ctx.getWebSockets().some((ws) => ws !== leaving);
  }

  /** A writer handed this room a frame while nobody has it open (a flag left set): clear the flag. */
  private healPresence(): void {
    if (this.presence.written !== false && !this.attended()) this.ctx.waitUntil(this.presence.sync());
  }

  /** `closing` was the last socket: the grace starts, and the alarm clears the flag when it ends. */
  private async leaving(closing: WebSocket): Promise<void> {
    if (this.hasSocketsBesides(closing)) return;
    this.leftAt = Date.now();
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('leftAt', ?)", String(this.leftAt));
    await this.scheduleAlarm(this.leftAt + ROOM_GRACE_MS);
  }

  /** Remembers which workspace this room's conversation belongs to (for inbox updates after hibernation). */
  private remember(workspaceId: string | null): void {
    if (workspaceId && this.workspaceId !== workspaceId) {
      this.workspaceId = workspaceId;
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('workspaceId', ?)", workspaceId);
    }
  }

  /**
   * Tells the workspace's inbox stream that this conversation changed (after the frame went out). The
   * stream sends the conversation as it is now, so changes made while a publish is on its way need one
   * more publish after it, not one each: a message and its status frames in quick succession cost the
   * stream one or two calls instead of four.
   */
  private notifyInbox(): void {
    const { workspaceId, conversationId } = this;
    if (!workspaceId || !conversationId) return;
    if (this.publishing) {
      this.publishAgain = true;
      return;
    }
    if (this.inbox?.workspaceId !== workspaceId) this.inbox = { workspaceId, stub: inboxFor(this.env, workspaceId) };
    const stub = this.inbox.stub;
    this.publishing = true;
    this.ctx.waitUntil(
      (async () => {
        try {
          do {
            this.publishAgain = false;
            await stub
              .publish(conversationId)
              .catch((err: unknown) => log("warn", "inbox publish failed", { conversationId, error: String(err) }));
          } while (this.publishAgain);
        } finally {
          this.publishing = false;
        }
      })(),
    );
  }

  /** Runs appends one at a time (D1 I/O happens inside, so the input gate alone would interleave them). */
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * On first use after the object starts (a read: hello, resume, read marker), the room's seq is checked
   * against D1's. D1 can be ahead: frames of the consumer's last batch are on their way (they fill the gap
   * within GAP_WAIT_MS), or the room crashed after D1 committed an event and before it logged the frame,
   * lost its storage, or was created for an existing conversation. What is still missing after the wait
   * is skipped: the room continues after D1's seq and drops its log, which now has a hole, so clients
   * that resume across it are told to reload instead of silently missing the event.
   */
  private async ensureInitialized(d1: D1Database = this.env.DB, wait = this.attended()): Promise<void> {
    if (this.initialized) return;
    const d1Seq = await conversationSeqInD1(d1, this.conversationId);
    if (d1Seq > this.lastSeq && !this.fresh && wait) await this.waitForSeq(d1Seq);
    if (d1Seq > this.lastSeq) this.skipGap(d1Seq, !wait);
    this.initialized = true;
  }

  /** Resolves when lastSeq reaches `seq` or GAP_WAIT_MS has passed, whichever is first. */
  private waitForSeq(seq: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          this.seqWaiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, GAP_WAIT_MS);
      this.seqWaiters.add(waiter);
    });
  }

  /**
   * Takes a frame whose event D1 has committed: the next seq is logged and broadcast at once (with any
   * held frames it unblocks); a later one waits for the seqs before it (see GAP_WAIT_MS); an earlier
   * one was given up on and is not logged again. `inbox`: whether the workspace's inbox stream is told
   * (false when the batch that committed the event read that nobody has the inbox open: see
   * InboxStream's presence).
   */
  private accept(frame: LoggedFrame, inbox = true): void {
    if (frame.seq <= this.lastSeq) return;
    if (frame.seq > this.lastSeq + 1) {
      const attended = this.attended();
      if ((this.fresh && this.held.size === 0) || !attended) {
        this.skipGap(frame.seq - 1, !attended);
      } else {
        this.held.set(frame.seq, { frame, inbox });
        this.gapTimer ??= setTimeout(() => {
          this.gapTimer = null;
          if (this.held.size === 0) return;
          log("warn", "events missing before the room's held frames; skipping them and dropping the resume log", {
            conversationId: this.conversationId,
            roomSeq: this.lastSeq,
            heldFrom: Math.min(...this.held.keys()),
          });
          this.skipGap(Math.min(...this.held.keys()) - 1);
        }, GAP_WAIT_MS);
        return;
      }
    }
    this.commit(frame, inbox);
    for (let next = this.held.get(this.lastSeq + 1); next; next = this.held.get(this.lastSeq + 1)) {
      this.held.delete(next.frame.seq);
      this.commit(next.frame, next.inbox);
    }
    if (this.held.size === 0 && this.gapTimer) {
      clearTimeout(this.gapTimer);
      this.gapTimer = null;
    }
  }

  /**
   * Gives up on the events up to `through` that never reached the room (their D1 writes committed, their
   * frames are lost): the log drops everything (it has a hole now), the room continues after `through`,
   * and held frames beyond it go out in order.
   */
  private skipGap(through: number, expected = false): void {
    if (through <= this.lastSeq) return;
    if (this.lastSeq > 0 && !expected) {
      log("warn", "room behind D1; continuing after D1's seq and dropping the resume log", {
        conversationId: this.conversationId,
        roomSeq: this.lastSeq,
        d1Seq: through,
      });
    }
    this.ctx.storage.sql.exec("DELETE FROM events");
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('lastSeq', ?)", String(through));
    this.lastSeq = through;
    this.fresh = false;
    for (const seq of this.held.keys()) if (seq <= through) this.held.delete(seq);
    const next = this.held.get(through + 1);
    if (next) {
      this.held.delete(next.frame.seq);
      this.accept(next.frame, next.inbox);
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const waiter of this.seqWaiters) if (this.lastSeq >= waiter.seq) waiter.resolve();
  }

  /** After a seq conflict in D1 (another writer took it): re-read D1's seq before the next attempt. */
  private async resync(d1: D1Database): Promise<void> {
    this.initialized = false;
    await this.ensureInitialized(d1);
  }

  private commit(frame: LoggedFrame, inbox: boolean): void {
    this.lastSeq = frame.seq;
    this.fresh = false;
    // Sent first: the log is only a cache of what D1 has committed (a room that lost its last entries
    // skips them and resumers reload: ensureInitialized), so nothing waits for its write.
    const text = JSON.stringify(frame);
    this.sendToAll(text);
    // One write a frame (the room's lastSeq is the log's highest seq); older entries go LOG_TRIM at a time.
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO events (seq, frame) VALUES (?, ?)", frame.seq, text);
    if (frame.seq > LOG_LIMIT && frame.seq % LOG_TRIM === 0) {
      this.ctx.storage.sql.exec("DELETE FROM events WHERE seq <= ?", frame.seq - LOG_LIMIT);
    }
    if (inbox) this.notifyInbox();
    if (this.seqWaiters.size > 0) this.wakeWaiters();
  }

  protected broadcast(frame: ServerFrame, except?: WebSocket): void {
    this.sendToAll(JSON.stringify(frame), except);
  }

  private sendToAll(text: string, except?: WebSocket): void {
    // No credential check per frame (the hot path): the alarm closes sockets whose credentials ended
    // within CREDENTIAL_CHECK_MS, and a closed socket gets nothing more.
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
  async appendMessage(row: NewMessage, opts: { reopen?: boolean } = {}): Promise<AppendMessageResult> {
    return this.serialize(async () => {
      const count = newCount();
      const d1 = countingD1(this.env.DB, count);
      // No read first: the insert itself takes the next seq D1 allows (see appendMessageStatements), and the
      // room adopts what D1 returns.
      this.remember(row.workspaceId);
      for (let attempt = 1; ; attempt++) {
        const result = await this.insertMessage(row, d1, opts.reopen ?? false);
        if (result !== "seq_taken") return { ...result, d1: count };
        if (attempt === 2) throw new Error(`seq conflict in conversation ${row.conversationId} after a resync`);
        await this.resync(d1);
      }
    });
  }

  private async insertMessage(
    row: NewMessage,
    d1: D1Database,
    reopenIfClosed: boolean,
  ): Promise<
    | { outcome: "created"; message: MessageJson }
    | { outcome: "duplicate"; constraint: "provider_sid" | "idempotency_key" }
    | "seq_taken"
  > {
    const now = row.createdAt ?? Date.now();
    let stored: typeof messages.$inferSelect | undefined;
    let reopened: ConversationStateRow | undefined;
    let reopenSeq: number | undefined;
    let listening = true;
    // A customer's text reopens a snoozed or resolved conversation: its own event, in the same batch.
    // (Only asked for when the caller saw the conversation snoozed or resolved: the common case costs nothing.)
    const reopen =
      row.direction === "inbound" && reopenIfClosed ? reopenStatements(d1, row.conversationId, this.lastSeq + 2) : [];
    try {
      const [inserted, , latest, ...rest] = await d1.batch([
        ...appendMessageStatements(d1, { ...row, createdAt: now }, this.lastSeq + 1),
        ...reopen,
      ]);
      stored = storedMessage(inserted);
      listening = inboxListening(latest);
      if (reopen.length > 0) {
        const [moved, seqRows, stateRows] = rest.map((r) => r.results) as [
          { id: string }[],
          { seq: number }[],
          ConversationStateRow[],
        ];
        if (moved?.[0]) {
          reopenSeq = seqRows?.[0]?.seq;
          reopened = stateRows?.[0];
        }
      }
    } catch (err) {
      if (isUniqueViolation(err, "messages.provider_sid")) return { outcome: "duplicate", constraint: "provider_sid" };
      if (isUniqueViolation(err, "messages.workspace_id, messages.idempotency_key")) {
        return { outcome: "duplicate", constraint: "idempotency_key" };
      }
      if (isUniqueViolation(err, "messages.conversation_id, messages.seq")) return "seq_taken";
      throw err;
    }
    if (!stored) throw new Error(`message ${row.id} was not returned by its insert`);
    const seq = stored.seq;
    const message = presentMessage(stored);
    this.accept({ type: "message", seq, message }, listening);
    if (reopened && reopenSeq !== undefined) {
      this.accept(
        { type: "conversation", seq: reopenSeq, conversation: presentConversationState(reopened) },
        listening,
      );
    }
    return { outcome: "created", message };
  }

  /** Adds an internal note at the next seq (a `note` frame); null when the conversation is not in the note's workspace. */
  async addNote(note: {
    id: string;
    workspaceId: string;
    conversationId: string;
    userId: string | null;
    body: string;
    mentions: string[];
  }): Promise<NoteJson | null> {
    return this.serialize(async () => {
      const d1 = this.env.DB;
      const now = Date.now();
      const results = await d1.batch(
        noteStatements(d1, { ...note, conversationId: this.conversationId }, this.lastSeq + 1, now),
      );
      const seq = (results[1]?.results[0] as { seq?: number } | undefined)?.seq;
      const row = results[2]?.results[0] as Parameters<typeof presentNote>[0] | undefined;
      if (seq === undefined || !row) return null;
      this.remember(note.workspaceId);
      const json = presentNote(row);
      this.accept({ type: "note", seq, note: json });
      return json;
    });
  }

  /**
   * Changes the conversation's workflow state (assignee, status, snooze, labels): one D1 batch that
   * applies the change, takes the next seq and reads the new state back; then the `conversation` frame.
   * Null when the conversation is not in `workspaceId` (callers check first; this is the guard).
   */
  async changeState(
    workspaceId: string,
    change: ConversationChange,
  ): Promise<{ state: ConversationStateJson; seq: number } | null> {
    return this.serialize(async () => {
      const d1 = this.env.DB;
      const statements = conversationChangeStatements(d1, workspaceId, this.conversationId, change);
      const results = await d1.batch([
        ...statements,
        mirrorSeqStatement(d1, this.conversationId, this.lastSeq + 1),
        conversationStateStatement(d1, this.conversationId),
      ]);
      const updated = results[statements.length - 1]?.results[0];
      const seq = (results[statements.length]?.results[0] as { seq?: number } | undefined)?.seq;
      const row = results[statements.length + 1]?.results[0] as ConversationStateRow | undefined;
      if (!updated || seq === undefined || !row) return null;
      this.remember(workspaceId);
      const state = presentConversationState(row);
      this.accept({ type: "conversation", seq, conversation: state });
      // Integration events for the changes integrators follow.
      const about = { conversationId: this.conversationId, conversation: state };
      if (change.assigneeId) this.ctx.waitUntil(emitEvent(this.env, workspaceId, "conversation.assigned", about));
      if (change.status === "resolved")
        this.ctx.waitUntil(emitEvent(this.env, workspaceId, "conversation.resolved", about));
      return { state, seq };
    });
  }

  /** Records a status report and moves the status forward when it ranks higher (invariant 3). */
  async applyStatus(change: StatusChange): Promise<ApplyStatusResult> {
    return this.commitStatusChange(change.at, change.messageId, (d1) => statusChangeStatements(d1, change));
  }

  /** Manual retry of a failed message: the one sanctioned move backwards, recorded as its own event. */
  async restartFailed(messageId: string): Promise<ApplyStatusResult> {
    const at = Date.now();
    return this.commitStatusChange(at, messageId, (d1) => restartStatements(d1, messageId, at));
  }

  /**
   * Edits a message that is still scheduled (body, send time). The change is an ordered event: the
   * room logs and broadcasts the updated message as a `message` frame under a new seq.
   */
  async editScheduled(
    messageId: string,
    edit: {
      body: string;
      segments: number;
      encoding: "GSM-7" | "UCS-2";
      sendAt: number;
      deferredReason?: string | null;
    },
  ): Promise<MessageJson | null> {
    return this.commitMessageEdit(messageId, (at) => editScheduledStatements(this.env.DB, messageId, edit, at));
  }

  /** The message's files are kept now (copied from the provider): the updated message goes out under a new seq. */
  async replaceMedia(messageId: string, media: MediaItem[]): Promise<MessageJson | null> {
    return this.commitMessageEdit(messageId, (at) => replaceMediaStatements(this.env.DB, messageId, media, at));
  }

  /** Runs statements that change a message (the last returns its id when it applied), then logs and broadcasts it. */
  private commitMessageEdit(
    messageId: string,
    build: (at: number) => D1PreparedStatement[],
  ): Promise<MessageJson | null> {
    return this.serialize(async () => {
      this.remember(null);
      const statements = build(Date.now());
      const results = await this.env.DB.batch<{ id: string; seq: number }>([
        ...statements,
        mirrorSeqStatement(this.env.DB, this.conversationId, this.lastSeq + 1),
      ]);
      const seq = results[statements.length]?.results[0]?.seq;
      if (!results[statements.length - 1]?.results[0] || seq === undefined) return null;
      const row = await getMessageById(createDb(this.env.DB), messageId);
      if (!row) {
        // Gone (erased) between the edit and the read: its seq has no frame to show.
        this.skipGap(seq);
        return null;
      }
      this.remember(row.workspaceId);
      const message = presentMessage(row);
      this.accept({ type: "message", seq, message });
      return message;
    });
  }

  private commitStatusChange(
    at: number,
    messageId: string,
    build: (d1: D1Database) => D1PreparedStatement[],
  ): Promise<ApplyStatusResult> {
    return this.serialize(async () => {
      const count = newCount();
      const d1 = countingD1(this.env.DB, count);
      this.remember(null);
      // D1 takes the seq in the same batch, only if the change applied (see mirrorSeqStatement).
      const { results, integrations, listening } = await recordStatusChanges(d1, [
        { conversationId: this.conversationId, messageId, statements: build(d1), proposedSeq: this.lastSeq + 1 },
      ]);
      const done = results[0];
      if (!done) return { applied: false, d1: count };
      const workspaceId = done.moved.workspaceId;
      this.announceStatus(done, at, integrations.has(workspaceId), listening.has(workspaceId));
      return { applied: true, seq: done.seq, d1: count };
    });
  }

  /**
   * Status changes D1 has already committed outside the room (the outbound consumer records a whole
   * batch's results in one D1 round trip; see StatusBatch): logged and broadcast in seq order, after any
   * earlier seq still on its way, with their integration events when the workspace follows them. No D1.
   * `inbox`: whether the batch read that the workspace's inbox stream may have a socket open.
   */
  async deliverCommitted(
    changes: { recorded: NonNullable<RecordedStatus>; at: number; integrations: boolean; inbox: boolean }[],
  ) {
    this.healPresence();
    for (const { recorded, at, integrations, inbox } of [...changes].sort((a, b) => a.recorded.seq - b.recorded.seq)) {
      this.announceStatus(recorded, at, integrations, inbox);
    }
  }

  /**
   * A message D1 stored without the room (an inbound text in the webhook's one round trip): its
   * `message` frame goes out in seq order, as the room's own appends do. `inbox`: as for deliverCommitted.
   */
  async deliverMessage(workspaceId: string, seq: number, message: MessageJson, inbox = true): Promise<void> {
    this.healPresence();
    this.remember(workspaceId);
    this.accept({ type: "message", seq, message }, inbox);
  }

  /** A committed status change: its `status` frame in order, and `message.status` for integrations. */
  private announceStatus(
    { moved, seq }: NonNullable<RecordedStatus>,
    at: number,
    integrations: boolean,
    inbox: boolean,
  ): void {
    this.remember(moved.workspaceId);
    const about = {
      messageId: moved.id,
      status: moved.status,
      errorCode: moved.errorCode,
      at: iso(at),
    };
    this.accept({ type: "status", seq, ...about }, inbox);
    if (integrations) {
      this.ctx.waitUntil(
        emitEvent(this.env, moved.workspaceId, "message.status", statusEventData(moved, at, this.conversationId)),
      );
    }
  }

  /**
   * Retention erased these messages: drop them, and every logged event up to `throughSeq`, from the
   * resume log. A client resuming from before then gets `reset` and reloads the (erased) thread.
   */
  async forget(throughSeq: number, messageIds: string[]): Promise<number> {
    const before = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM events").one().n;
    // The log may end up empty: its last seq is kept in meta (the constructor reads both).
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('lastSeq', ?)", String(this.lastSeq));
    this.ctx.storage.sql.exec("DELETE FROM events WHERE seq <= ?", throughSeq);
    this.ctx.storage.sql.exec(
      "DELETE FROM events WHERE json_extract(frame, '$.type') = 'message' AND json_extract(frame, '$.message.id') IN (SELECT value FROM json_each(?))",
      JSON.stringify(messageIds),
    );
    return before - this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM events").one().n;
  }

  /** The last seq this room assigned. */
  async getLastSeq(): Promise<number> {
    await this.ensureInitialized();
    return this.lastSeq;
  }

  /** Logged frames after `afterSeq`, or null when the log no longer reaches back that far. */
  async eventsAfter(afterSeq: number): Promise<LoggedFrame[] | null> {
    await this.ensureInitialized();
    return this.readLog(afterSeq);
  }

  /** Stores a user's read marker (only forward) and tells the room and the inbox the stored one. */
  async markRead(workspaceId: string, userId: string, seq: number): Promise<number> {
    await this.ensureInitialized();
    const conversationId = this.conversationId;
    this.remember(workspaceId);
    const upTo = Math.max(0, Math.min(seq, this.lastSeq));
    // The stored marker (never behind an earlier one) is what the others are told.
    const stored = await markReadUpTo(createDb(this.env.DB), { conversationId, userId, workspaceId, seq: upTo });
    this.broadcast({ type: "read", userId, seq: stored });
    this.notifyInbox();
    return stored;
  }

  /** The WebSocket upgrade, already authenticated by the Worker (identity in IDENTITY_HEADER). */
  override async fetch(request: Request): Promise<Response> {
    const parsed = SocketIdentitySchema.safeParse(JSON.parse(request.headers.get(IDENTITY_HEADER) ?? "null"));
    if (
      !parsed.success ||
      !parsed.data.conversationId ||
      request.headers.get("Upgrade")?.toLowerCase() !== "websocket"
    ) {
      return new Response("rooms are reached through the Worker", { status: 400 });
    }
    const identity = parsed.data;
    const conversationId = this.conversationId;
    const wasAttended = this.attended();
    this.accepting++;
    try {
      // Writers must see the flag set before this socket can get (or miss) a frame: committed first.
      await this.presence.sync();
      // An unattended room may have been left out: it takes D1's seq as it is now, without waiting
      // (what it missed is in the thread the client loads once its socket is open).
      if (!wasAttended) this.initialized = false;
      await this.ensureInitialized(this.env.DB, wasAttended);
      this.remember(identity.workspaceId);
      const pair = new WebSocketPair();
      const [client, server] = [pair[0], pair[1]];
      this.ctx.acceptWebSocket(server, [`user:${identity.userId ?? "api-key"}`]);
      const state: SocketState = { ...identity, typingWindowStart: 0, typingCount: 0, typingUntil: 0, strikes: 0 };
      server.serializeAttachment(state);
      server.send(JSON.stringify({ type: "hello", conversationId, lastSeq: this.lastSeq } satisfies ServerFrame));
      this.broadcastPresence();
      await this.scheduleAlarm(Date.now() + CREDENTIAL_CHECK_MS);
      return new Response(null, { status: 101, webSocket: client });
    } finally {
      this.accepting--;
    }
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      await this.onClientFrame(ws, message);
    } catch (err) {
      log("error", "room socket handler failed", { conversationId: this.conversationId, error: String(err) });
      this.sendTo(ws, { type: "error", code: "internal", message: "The room could not handle that frame." });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      const state = ws.deserializeAttachment() as SocketState | null;
      if (state && state.typingUntil > Date.now() && state.userId) {
        this.broadcast({ type: "typing", userId: state.userId, name: state.name, active: false }, ws);
      }
    } catch (err) {
      log("error", "room close handler failed", { error: String(err) });
    } finally {
      // Complete the close handshake (the hibernation API does not do it for us).
      try {
        ws.close(reciprocalCloseCode(code), reason);
      } catch {
        // already closed
      }
      this.broadcastPresence(ws);
      await this.leaving(ws);
    }
  }

  /** Who has this conversation open (members, once each), to every socket: "Sam is viewing". */
  private broadcastPresence(leaving?: WebSocket): void {
    const viewers = new Map<string, string>();
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === leaving) continue;
      const state = ws.deserializeAttachment() as SocketState | null;
      if (state?.userId) viewers.set(state.userId, state.name);
    }
    const frame: ServerFrame = {
      type: "presence",
      viewers: [...viewers].map(([userId, name]) => ({ userId, name })),
    };
    this.broadcast(frame, leaving);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    log("warn", "room socket error", { conversationId: this.conversationId, error: String(error) });
    await this.leaving(ws);
    try {
      ws.close(1011, "socket error");
    } catch {
      // already closed
    }
  }

  /** Sets the alarm to `at` unless one is due sooner. */
  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * The room's alarm: sockets whose credentials ended are closed (4401) every CREDENTIAL_CHECK_MS
   * while any are open, and lapsed typing indicators are announced as stopped.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCredentialCheck >= CREDENTIAL_CHECK_MS / 2) {
      this.lastCredentialCheck = now;
      try {
        for (const { ws, why } of await socketsWithEndedCredentials(this.env.DB, this.ctx.getWebSockets(), now)) {
          closeForCredentials(ws, why);
        }
      } catch (err) {
        log("error", "room credential check failed", { conversationId: this.conversationId, error: String(err) });
      }
    }
    let next = 0;
    for (const ws of this.ctx.getWebSockets()) {
      const state = ws.deserializeAttachment() as SocketState | null;
      if (!state || state.typingUntil === 0) continue;
      if (state.typingUntil <= now) {
        state.typingUntil = 0;
        ws.serializeAttachment(state);
        if (state.userId) this.broadcast({ type: "typing", userId: state.userId, name: state.name, active: false }, ws);
      } else if (next === 0 || state.typingUntil < next) {
        next = state.typingUntil;
      }
    }
    if (this.ctx.getWebSockets().length > 0) {
      const check = this.lastCredentialCheck + CREDENTIAL_CHECK_MS;
      next = next === 0 ? check : Math.min(next, check);
    } else if (this.presence.written !== false) {
      // Nobody here: once the grace is over, the flag is cleared and writers leave the room out.
      const graceEnds = this.leftAt + ROOM_GRACE_MS;
      if (now >= graceEnds) await this.presence.sync();
      else next = next === 0 ? graceEnds : Math.min(next, graceEnds);
    }
    if (next) await this.ctx.storage.setAlarm(next);
  }

  private sendTo(ws: WebSocket, frame: ServerFrame): void {
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      // closing
    }
  }

  private strike(ws: WebSocket, state: SocketState, code: string, message: string): void {
    state.strikes++;
    ws.serializeAttachment(state);
    if (state.strikes >= MAX_STRIKES) {
      try {
        ws.close(1008, "too many invalid frames");
      } catch {
        // already closed
      }
      return;
    }
    this.sendTo(ws, { type: "error", code, message });
  }

  private async onClientFrame(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const state = ws.deserializeAttachment() as SocketState;
    const size = typeof message === "string" ? message.length : message.byteLength;
    if (typeof message !== "string") return this.strike(ws, state, "binary_not_supported", "Send JSON text frames.");
    if (size > MAX_FRAME_BYTES)
      return this.strike(ws, state, "frame_too_large", `Frames are limited to ${MAX_FRAME_BYTES} bytes.`);
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      return this.strike(ws, state, "invalid_json", "Frames must be JSON.");
    }
    const frame = ClientFrameSchema.safeParse(json);
    if (!frame.success) {
      return this.strike(ws, state, "invalid_frame", "Unknown or malformed frame; expected resume, typing or read.");
    }
    switch (frame.data.type) {
      case "resume": {
        await this.ensureInitialized();
        const frames = frame.data.afterSeq > this.lastSeq ? null : this.readLog(frame.data.afterSeq);
        if (frames === null) return this.sendTo(ws, { type: "reset" });
        for (const f of frames) this.sendTo(ws, f);
        return;
      }
      case "typing": {
        if (!state.userId)
          return this.sendTo(ws, { type: "error", code: "needs_user", message: "Typing needs a signed-in user." });
        const now = Date.now();
        if (now - state.typingWindowStart > TYPING_WINDOW_MS) {
          state.typingWindowStart = now;
          state.typingCount = 0;
        }
        state.typingCount++;
        if (state.typingCount > TYPING_MAX_PER_WINDOW) {
          ws.serializeAttachment(state);
          if (state.typingCount > TYPING_MAX_PER_WINDOW * 3)
            this.strike(ws, state, "rate_limited", "Too many typing frames.");
          return;
        }
        state.typingUntil = frame.data.active ? now + TYPING_TTL_MS : 0;
        ws.serializeAttachment(state);
        this.broadcast({ type: "typing", userId: state.userId, name: state.name, active: frame.data.active }, ws);
        if (frame.data.active) await this.scheduleAlarm(state.typingUntil);
        return;
      }
      case "read": {
        if (!state.userId)
          return this.sendTo(ws, { type: "error", code: "needs_user", message: "Read markers need a signed-in user." });
        await this.markRead(state.workspaceId, state.userId, frame.data.seq);
        return;
      }
    }
  }

  protected readLog(afterSeq: number): LoggedFrame[] | null {
    if (afterSeq >= this.lastSeq) return [];
    // The log keeps the last LOG_LIMIT events (older ones are trimmed LOG_TRIM at a time).
    if (this.lastSeq - afterSeq > LOG_LIMIT) return null;
    const oldest = this.ctx.storage.sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM events").one().seq;
    if (oldest === null || oldest > afterSeq + 1) return null;
    const frames = this.ctx.storage.sql
      .exec<{ frame: string }>("SELECT frame FROM events WHERE seq > ? ORDER BY seq", afterSeq)
      .toArray()
      .map((r) => JSON.parse(r.frame) as LoggedFrame);
    // A hole (an event retention dropped) means the client cannot be brought up to date frame by frame.
    return frames.length === this.lastSeq - afterSeq ? frames : null;
  }
}

export function roomFor(env: Env, conversationId: string): DurableObjectStub<ConversationRoom> {
  return env.CONVERSATION_ROOM.get(env.CONVERSATION_ROOM.idFromName(conversationId));
}
