/**
 * Messages and their events. The room (src/rooms/conversation-room.ts) is the only writer of
 * message rows and status changes, so each statement here is built for its serialized appends.
 */
import { and, asc, desc, eq, getTableColumns, inArray, isNull, lt, or, type Placeholder, sql } from "drizzle-orm";
import { STATUS_RANK, statusRankSql } from "../../domain/status";
import type { Db } from "../client";
import { compiled, compiledShapes, type Placeholders } from "../compiled";
import type { MediaItem, MessageStatus } from "../schema";
import { conversationReads, conversations, messageAttempts, messageEvents, messages, numbers } from "../schema";
import { credentialSql, type PresentedCredential } from "./auth";
import { inboxScopeSql, mirrorSeqStatement } from "./conversations";
import { type WorkspaceSignals, workspaceSignals, workspaceSignalsStatement } from "./webhooks";

export type NewMessage = Omit<typeof messages.$inferInsert, "seq">;

export interface StatusChange {
  messageId: string;
  status: MessageStatus;
  /** Twilio's raw status for the event log (e.g. `accepted`), defaults to `status`. */
  rawStatus?: string;
  errorCode?: number | null;
  errorMessage?: string | null;
  providerSid?: string | null;
  source: "api" | "queue" | "webhook" | "cron" | "reconcile" | "dlq";
  at: number;
  /**
   * Only apply when the current status is one of these (cancel, the cron's claim). A failed
   * precondition is our own decision, not a report, so it records no event.
   */
  requireStatus?: MessageStatus[];
  /**
   * A provider's report, applied without reading the message first: only to an outbound message of
   * this conversation whose sid is this one's (or not yet known) and whose inbox sends with `account`
   * (null: any; `deploymentAccount` stands for an inbox without its own). Otherwise nothing happens.
   */
  report?: ReportGuard;
}

export interface ReportGuard {
  conversationId: string;
  sid: string;
  account: string | null;
  deploymentAccount: string;
}

/** SQL (after `WHERE id = ?`) that holds only for the message a report may apply to; its params start at `?first`. */
function reportGuardSql(first: number): string {
  return `AND direction = 'outbound' AND conversation_id = ?${first}
    AND (provider_sid IS NULL OR provider_sid = ?${first + 1})
    AND (?${first + 2} IS NULL OR coalesce((SELECT n.account_sid FROM numbers n
      WHERE n.workspace_id = messages.workspace_id AND n.phone_number = messages.from_number), ?${first + 3}) = ?${first + 2})`;
}

function reportGuardParams(guard: ReportGuard | undefined): unknown[] {
  return guard ? [guard.conversationId, guard.sid, guard.account, guard.deploymentAccount] : [];
}

/**
 * A provider's report in one round trip (the callback path): which message the report may apply to
 * (first statement: its row, or none, and then nothing else happened), the report's statements, the
 * conversation's next seq when it moved, and whether its workspace follows integration events and may
 * have the inbox open (workspaceSignalsStatement).
 */
export async function recordReport(
  d1: D1Database,
  change: StatusChange & { report: ReportGuard },
): Promise<
  | { matched: false }
  | {
      matched: true;
      message: { id: string; workspaceId: string; toNumber: string };
      recorded: RecordedStatus;
      integrations: boolean;
      listening: boolean;
    }
> {
  const statements = statusChangeStatements(d1, change);
  const out = await d1.batch([
    d1
      .prepare(
        `SELECT id, workspace_id AS workspaceId, to_number AS toNumber FROM messages WHERE id = ?1 ${reportGuardSql(2)}`,
      )
      .bind(change.messageId, ...reportGuardParams(change.report)),
    ...statements,
    mirrorSeqStatement(d1, change.report.conversationId, 0),
    workspaceSignalsStatement(d1, [change.messageId]),
  ]);
  const message = out[0]?.results[0] as { id: string; workspaceId: string; toNumber: string } | undefined;
  if (!message) return { matched: false };
  const signals = workspaceSignals(out[statements.length + 2]);
  return {
    matched: true,
    message,
    recorded: recorded(out[statements.length], out[statements.length + 1]),
    integrations: signals.integrations.has(message.workspaceId),
    listening: signals.listening.has(message.workspaceId),
  };
}

const RANK = statusRankSql("status");

/**
 * Statements for one status report, in one batch: remember the sid, record the event (with whether
 * it moved the status), and move the status only forward. The last statement RETURNs the row when
 * the status moved. Reaching Twilio (queued or later) also ends the attempt and releases the lease.
 */
export function statusChangeStatements(d1: D1Database, change: StatusChange): D1PreparedStatement[] {
  const rank = STATUS_RANK[change.status];
  const isSent = ["sent", "delivered", "undelivered", "read", "delivery_unknown"].includes(change.status) ? 1 : 0;
  const isDelivered = change.status === "delivered" || change.status === "read" ? 1 : 0;
  const isFailed = change.status === "failed" || change.status === "undelivered" ? 1 : 0;
  const required = change.requireStatus?.length
    ? `AND status IN (${change.requireStatus.map((s) => `'${s}'`).join(", ")})`
    : "";
  // The report guard's params follow each statement's own (see reportGuardSql).
  const guard = (first: number) => (change.report ? `${required} ${reportGuardSql(first)}` : required);
  const guardParams = reportGuardParams(change.report);
  const statements: D1PreparedStatement[] = [];
  if (change.providerSid) {
    statements.push(
      d1
        .prepare(`UPDATE messages SET provider_sid = ?1 WHERE id = ?2 AND provider_sid IS NULL ${guard(3)}`)
        .bind(change.providerSid, change.messageId, ...guardParams),
    );
  }
  statements.push(
    d1
      .prepare(
        `INSERT INTO message_events (workspace_id, message_id, status, error_code, error_message, source, applied, at)
         SELECT workspace_id, id, ?1, ?2, ?3, ?4, ${RANK} < ?5, ?6 FROM messages WHERE id = ?7 ${guard(8)}`,
      )
      .bind(
        change.rawStatus ?? change.status,
        change.errorCode ?? null,
        change.errorMessage ?? null,
        change.source,
        rank,
        change.at,
        change.messageId,
        ...guardParams,
      ),
    d1
      .prepare(
        `UPDATE messages SET
           status = ?1,
           error_code = coalesce(?2, error_code),
           error_message = CASE WHEN ?3 IS NOT NULL THEN ?3 WHEN status = 'pending' THEN NULL ELSE error_message END,
           updated_at = ?4,
           sent_at = CASE WHEN ?5 THEN coalesce(sent_at, ?4) ELSE sent_at END,
           delivered_at = CASE WHEN ?6 THEN coalesce(delivered_at, ?4) ELSE delivered_at END,
           failed_at = CASE WHEN ?7 THEN coalesce(failed_at, ?4) ELSE failed_at END,
           attempt_started_at = CASE WHEN ?8 >= ${STATUS_RANK.queued} THEN NULL ELSE attempt_started_at END,
           lease_until = CASE WHEN ?8 >= ${STATUS_RANK.queued} THEN NULL ELSE lease_until END
         WHERE id = ?9 AND ${RANK} < ?8 ${guard(10)}
         RETURNING id, status, error_code AS errorCode, workspace_id AS workspaceId`,
      )
      .bind(
        change.status,
        change.errorCode ?? null,
        change.errorMessage ?? null,
        change.at,
        isSent,
        isDelivered,
        isFailed,
        rank,
        change.messageId,
        ...guardParams,
      ),
  );
  return statements;
}

export async function getMessage(db: Db, workspaceId: string, id: string) {
  return db.query.messages.findFirst({ where: and(eq(messages.id, id), eq(messages.workspaceId, workspaceId)) });
}

/** The message an earlier request with this Idempotency-Key stored in the workspace, if any. */
export async function findByIdempotencyKey(db: Db, workspaceId: string, key: string) {
  return db.query.messages.findFirst({
    where: and(eq(messages.workspaceId, workspaceId), eq(messages.idempotencyKey, key)),
  });
}

export async function getMessageById(db: Db, id: string) {
  return db.query.messages.findFirst({ where: eq(messages.id, id) });
}

/**
 * What a status callback is about, in one query: the message by our id (`mid` in the StatusCallback
 * URL, which matches even before the send call returned), else by sid; and whether the sid belongs to
 * an earlier attempt of some message (a retry replaced it). No row when neither matches.
 */
export async function findStatusTarget(db: Db, mid: string | null, sid: string) {
  const earlier = sql<number | null>`(select a.attempt from message_attempts a where a.provider_sid = ${sid})`;
  // The Twilio account of the message's inbox (null: the deployment's), so a report signed by another account moves nothing.
  const account = sql<
    string | null
  >`(select n.account_sid from numbers n where n.workspace_id = messages.workspace_id and n.phone_number = messages.from_number)`;
  const [row] = await db
    .select({ message: messages, earlierAttempt: earlier, inboxAccountSid: account })
    .from(sql`(select 1)`)
    .leftJoin(
      messages,
      mid
        ? sql`${messages.id} = coalesce((select x.id from messages x where x.id = ${mid}), (select y.id from messages y where y.provider_sid = ${sid}))`
        : eq(messages.providerSid, sid),
    )
    .limit(1);
  if (!row || (row.message === null && row.earlierAttempt === null)) return undefined;
  return {
    message: row.message ?? undefined,
    earlierAttempt: row.earlierAttempt,
    inboxAccountSid: row.inboxAccountSid,
  };
}

export async function listMessageEvents(db: Db, messageId: string) {
  return db.select().from(messageEvents).where(eq(messageEvents.messageId, messageId)).orderBy(asc(messageEvents.id));
}

/**
 * A page of a workspace's thread in seq order: after `after`, before `before`, or the latest `limit`.
 * For a presented credential, checked in the same statement (credentialSql), so another workspace's
 * conversation, or a credential that does not hold, reads as empty. Compiled per shape.
 */
export async function listThread(
  d1: D1Database,
  credential: PresentedCredential,
  now: number,
  conversationId: string,
  opts: { after?: number; before?: number; limit: number },
) {
  const direction = opts.after !== undefined ? "after" : opts.before !== undefined ? "before" : "latest";
  const rows = await threadQuery(`${credential.kind}/${direction}`).all(d1, {
    hash: credential.hash,
    now,
    scope: "messages:read",
    conversationId,
    after: opts.after,
    before: opts.before,
    limit: opts.limit,
  });
  return direction === "after" ? rows : rows.reverse();
}

const threadQuery = compiledShapes(
  (
    db,
    p: Placeholders<"hash" | "now" | "scope" | "conversationId" | "after" | "before" | "limit">,
    shape: `${PresentedCredential["kind"]}/${"after" | "before" | "latest"}`,
  ) => {
    const [kind, direction] = shape.split("/") as [PresentedCredential["kind"], string];
    const who = credentialSql({ kind, hash: p.hash }, p.now, p.scope);
    // A member limited to some inboxes reads only their conversations (one subquery, same statement).
    const scope =
      kind === "session"
        ? sql`exists (select 1 from conversations c where c.id = ${p.conversationId} and ${inboxScopeSql(
            who.workspaceId,
            who.userId,
            sql.raw("c.from_number"),
          )})`
        : undefined;
    const inThread = and(
      eq(messages.workspaceId, who.workspaceId),
      sql`${messages.conversationId} = ${p.conversationId}`,
      scope,
    );
    // The highest seq archived to R2 (null: none), read in the same statement, so a page tells without a
    // second round trip whether older (or resumed) messages must come from the archive.
    const columns = {
      ...getTableColumns(messages),
      archivedThrough: sql<
        number | null
      >`(select max(a.last_seq) from message_archives a where a.conversation_id = ${p.conversationId})`,
    };
    const query = db.select(columns).from(messages);
    if (direction === "after") {
      return query
        .where(and(inThread, sql`${messages.seq} > ${p.after}`))
        .orderBy(asc(messages.seq))
        .limit(p.limit);
    }
    return query
      .where(direction === "before" ? and(inThread, sql`${messages.seq} < ${p.before}`) : inThread)
      .orderBy(desc(messages.seq))
      .limit(p.limit);
  },
);

/**
 * Which of `sids` are already some message's (current or earlier attempt), other than `exceptMessageId`'s
 * current one: an ambiguous attempt must never adopt them.
 */
export async function storedSids(d1: D1Database, sids: string[], exceptMessageId: string): Promise<Set<string>> {
  if (sids.length === 0) return new Set();
  const list = JSON.stringify(sids);
  const { results } = await d1
    .prepare(
      `SELECT provider_sid AS sid FROM messages WHERE provider_sid IN (SELECT value FROM json_each(?1)) AND id != ?2
       UNION SELECT provider_sid FROM message_attempts WHERE provider_sid IN (SELECT value FROM json_each(?1))`,
    )
    .bind(list, exceptMessageId)
    .all<{ sid: string }>();
  return new Set(results.map((r) => r.sid));
}

/**
 * Statements that start a new attempt of a failed message (manual retry): the failed attempt is
 * kept in message_attempts (its sid, start and outcome), and the message goes back to pending with
 * no sid, so the new attempt's sid becomes the one callbacks and reconciliation follow. Guarded on
 * `failed` and on no consumer holding the message, so two clicks start one attempt.
 */
export function restartStatements(d1: D1Database, messageId: string, at: number): D1PreparedStatement[] {
  const guard = "status = 'failed' AND (lease_until IS NULL OR lease_until < ?2)";
  return [
    d1
      .prepare(
        `INSERT INTO message_attempts (workspace_id, message_id, attempt, provider_sid, status, error_code, error_message, started_at, ended_at)
         SELECT workspace_id, id, (SELECT count(*) FROM message_attempts a WHERE a.message_id = m.id) + 1,
                provider_sid, status, error_code, error_message,
                coalesce((SELECT max(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status = 'pending'), created_at),
                coalesce(failed_at, updated_at)
         FROM messages m WHERE id = ?1 AND ${guard}`,
      )
      .bind(messageId, at),
    d1
      .prepare(
        `INSERT INTO message_events (workspace_id, message_id, status, error_code, error_message, source, applied, at)
         SELECT workspace_id, id, 'pending', NULL, 'retry requested', 'api', 1, ?2 FROM messages WHERE id = ?1 AND ${guard}`,
      )
      .bind(messageId, at),
    d1
      .prepare(
        `UPDATE messages SET status = 'pending', provider_sid = NULL, error_code = NULL, error_message = NULL,
           sent_at = NULL, failed_at = NULL, checked_at = NULL, attempt_started_at = NULL, lease_until = NULL, updated_at = ?2
         WHERE id = ?1 AND ${guard}
         RETURNING id, status, error_code AS errorCode, workspace_id AS workspaceId`,
      )
      .bind(messageId, at),
  ];
}

/**
 * Statements that hold a pending message (Twilio is out): release the lease, show the reason in
 * error_message, and record it as an event once per reason (not on every hold).
 */
export function holdStatements(
  d1: D1Database,
  messageId: string,
  reason: string,
  clearAttempt: boolean,
  at: number,
): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `INSERT INTO message_events (workspace_id, message_id, status, error_message, source, applied, at)
         SELECT workspace_id, id, 'pending', ?1, 'queue', 0, ?2 FROM messages
         WHERE id = ?3 AND status = 'pending' AND coalesce(error_message, '') != ?1`,
      )
      .bind(reason, at, messageId),
    d1
      .prepare(
        `UPDATE messages SET error_message = ?1, lease_until = NULL, updated_at = ?2,
           attempt_started_at = CASE WHEN ?4 THEN NULL ELSE attempt_started_at END
         WHERE id = ?3 AND status = 'pending'`,
      )
      .bind(reason, at, messageId, clearAttempt ? 1 : 0),
  ];
}

/** Lets go of a message; `clearAttempt` when the attempt is known not to have reached Twilio. */
export async function releaseMessage(db: Db, id: string, clearAttempt: boolean): Promise<void> {
  await db
    .update(messages)
    .set(
      clearAttempt
        ? { leaseUntil: null, attemptStartedAt: null, updatedAt: Date.now() }
        : { leaseUntil: null, updatedAt: Date.now() },
    )
    .where(eq(messages.id, id));
}

/** Outbound messages still waiting to go out from a sender (scheduled, or pending and not yet at Twilio). */
export async function listWaitingFrom(db: Db, workspaceId: string, fromNumber: string) {
  return db
    .select({ id: messages.id, conversationId: messages.conversationId })
    .from(messages)
    .where(
      and(
        eq(messages.workspaceId, workspaceId),
        eq(messages.fromNumber, fromNumber),
        eq(messages.direction, "outbound"),
        inArray(messages.status, ["scheduled", "pending"]),
      ),
    );
}

/** Earlier attempts of a message, oldest first. */
export async function listAttempts(db: Db, messageId: string) {
  return db
    .select()
    .from(messageAttempts)
    .where(eq(messageAttempts.messageId, messageId))
    .orderBy(asc(messageAttempts.attempt));
}

/** The earlier attempt of some message whose sid this was (a late callback after a manual retry). */
export async function findEarlierAttemptBySid(db: Db, sid: string) {
  return db.query.messageAttempts.findFirst({ where: eq(messageAttempts.providerSid, sid) });
}

/**
 * Records a report that does not move the message (a late callback of an earlier attempt, a hold
 * reason): an event with applied = false, outside the room's ordered log.
 */
export async function recordUnappliedEvent(
  db: Db,
  event: {
    workspaceId: string;
    messageId: string;
    status: string;
    errorCode?: number | null;
    errorMessage?: string | null;
    source: string;
    at: number;
  },
) {
  await db
    .insert(messageEvents)
    .values({ ...event, errorCode: event.errorCode ?? null, errorMessage: event.errorMessage ?? null, applied: false });
}

/** The statement that puts a message's kept files in place of the provider's links (RETURNING id). */
export function replaceMediaStatements(
  d1: D1Database,
  messageId: string,
  media: MediaItem[],
  at: number,
): D1PreparedStatement[] {
  return [
    d1
      .prepare("UPDATE messages SET media = ?1, updated_at = ?2 WHERE id = ?3 RETURNING id")
      .bind(JSON.stringify(media), at, messageId),
  ];
}

/**
 * Statements that edit a still-scheduled message (body, segments, send time) and record the edit as
 * an event, all or nothing: the event is written first and only while the message is scheduled, and
 * the UPDATE (guarded the same way) returns the id when it applied. Run them in one D1 batch.
 */
export function editScheduledStatements(
  d1: D1Database,
  messageId: string,
  edit: {
    body: string;
    segments: number;
    encoding: "GSM-7" | "UCS-2";
    sendAt: number;
    /** Why it now waits (`quiet_hours` when a policy moved it); null when a person set the time. */
    deferredReason?: string | null;
  },
  at: number,
): D1PreparedStatement[] {
  const why = edit.deferredReason ? `deferred: ${edit.deferredReason}` : "edited before sending";
  return [
    d1
      .prepare(
        `INSERT INTO message_events (workspace_id, message_id, status, error_message, source, applied, at)
         SELECT workspace_id, id, 'scheduled', ?3, ?4, 1, ?1 FROM messages WHERE id = ?2 AND status = 'scheduled'`,
      )
      .bind(at, messageId, why, edit.deferredReason ? "cron" : "api"),
    d1
      .prepare(
        `UPDATE messages SET body = ?1, segments = ?2, encoding = ?3, send_at = ?4, updated_at = ?5, deferred_reason = ?7
         WHERE id = ?6 AND status = 'scheduled'
         RETURNING id`,
      )
      .bind(edit.body, edit.segments, edit.encoding, edit.sendAt, at, messageId, edit.deferredReason ?? null),
  ];
}

/**
 * What one status change did: the row when it moved the status, the seq D1 gave the event, and whether
 * the conversation's room may have a socket open (`room`); null when it moved nothing.
 */
export type RecordedStatus = {
  moved: { id: string; status: MessageStatus; errorCode: number | null; workspaceId: string };
  seq: number;
  room: boolean;
} | null;

/** A RecordedStatus from a status change's last statement and its mirrorSeqStatement. */
function recorded(moved: D1Result | undefined, seq: D1Result | undefined): RecordedStatus {
  const row = moved?.results[0] as NonNullable<RecordedStatus>["moved"] | undefined;
  const taken = seq?.results[0] as { seq?: number; room?: number } | undefined;
  return row && taken?.seq !== undefined ? { moved: row, seq: taken.seq, room: taken.room !== 0 } : null;
}

/**
 * Status changes in one round trip — one from a room, or a queue batch's results: each change's
 * statements (statusChangeStatements or restartStatements, whose last RETURNs the row when it moved),
 * then its conversation's next seq, taken only when it moved (mirrorSeqStatement: the room's proposed
 * seq, else D1's next), and at the end what their workspaces need (workspaceSignalsStatement). Changes
 * of one conversation get consecutive seqs in the order given.
 */
export async function recordStatusChanges(
  d1: D1Database,
  items: { conversationId: string; messageId: string; statements: D1PreparedStatement[]; proposedSeq?: number }[],
): Promise<{ results: RecordedStatus[] } & WorkspaceSignals> {
  const groups = items.map(({ conversationId, statements, proposedSeq }) => [
    ...statements,
    mirrorSeqStatement(d1, conversationId, proposedSeq ?? 0),
  ]);
  const out = await d1.batch([
    ...groups.flat(),
    workspaceSignalsStatement(
      d1,
      items.map((i) => i.messageId),
    ),
  ]);
  const results: RecordedStatus[] = [];
  let at = 0;
  for (const group of groups) {
    results.push(recorded(out[at + group.length - 2], out[at + group.length - 1]));
    at += group.length;
  }
  return { results, ...workspaceSignals(out[at]) };
}

/**
 * A new message's statements, in one batch: the row (at `proposedSeq`, or D1's next if D1 is ahead,
 * so a room never reuses a seq D1 has recorded and needs no read before it writes), its first event, and the conversation's latest-message fields. The first RETURNs
 * the stored row (read it with `storedMessage`), the third whether the workspace's inbox stream may have
 * a socket open (`inboxListening`). Compiled once: the hottest write of both directions.
 */
export function appendMessageStatements(
  d1: D1Database,
  row: NewMessage & { createdAt: number },
  proposedSeq: number,
): D1PreparedStatement[] {
  const values = { ...row, proposedSeq, updatedAt: row.createdAt } as Record<string, unknown>;
  const at = { workspaceId: row.workspaceId, messageId: row.id, conversationId: row.conversationId, at: row.createdAt };
  return [
    insertMessageQuery.statement(d1, values),
    insertFirstEventQuery.statement(d1, {
      ...at,
      status: row.status,
      source: row.direction === "inbound" ? "webhook" : "api",
    }),
    latestMessageQuery.statement(d1, {
      ...at,
      inbound: row.direction === "inbound" ? 1 : 0,
      campaignId: row.campaignId ?? null,
    }),
  ];
}

/**
 * A customer's text to a thread that exists and is open or pending, without knowing the thread first
 * (the inbound webhook's one round trip; run after routeInboundStatement in the same batch): the
 * message goes into the conversation between the contact with `phone` and the inbox `to`, at D1's next
 * seq, with its first event and the conversation's latest-message fields. Nothing is stored when there
 * is no such thread, it is snoozed or resolved (reopening is the room's), the sid is stored already,
 * or `account` is not the inbox's (null: not checked). The first RETURNs the stored row (storedMessage).
 */
export function receiveIntoThreadStatements(
  d1: D1Database,
  row: {
    id: string;
    channel: string;
    fromNumber: string;
    to: string;
    phone: string;
    body: string;
    media: MediaItem[];
    segments: number;
    encoding: string;
    providerSid: string;
    account: string | null;
    deploymentAccount: string;
    at: number;
  },
): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `INSERT INTO messages (id, workspace_id, conversation_id, seq, direction, channel, from_number, to_number,
           body, media, status, segments, encoding, provider_sid, campaign_id, created_at, updated_at)
         SELECT ?1, n.workspace_id, cv.id,
           max(coalesce(cv.last_seq, 0) + 1, coalesce((SELECT max(m.seq) FROM messages m WHERE m.conversation_id = cv.id), 0) + 1),
           'inbound', ?2, ?3, ?4, ?5, ?6, 'received', ?7, ?8, ?9, cv.campaign_id, ?10, ?10
         FROM numbers n
         JOIN contacts c ON c.workspace_id = n.workspace_id AND c.phone = ?11
         JOIN conversations cv ON cv.workspace_id = n.workspace_id AND cv.contact_id = c.id AND cv.from_number = n.phone_number
         WHERE n.phone_number = ?4 AND cv.status IN ('open', 'pending')
           AND (?12 IS NULL OR coalesce(n.account_sid, ?13) = ?12)
           AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.provider_sid = ?9)
         RETURNING *`,
      )
      .bind(
        row.id,
        row.channel,
        row.fromNumber,
        row.to,
        row.body,
        JSON.stringify(row.media),
        row.segments,
        row.encoding,
        row.providerSid,
        row.at,
        row.phone,
        row.account,
        row.deploymentAccount,
      ),
    d1
      .prepare(
        `INSERT INTO message_events (workspace_id, message_id, status, source, at)
         SELECT workspace_id, id, 'received', 'webhook', ?2 FROM messages WHERE id = ?1`,
      )
      .bind(row.id, row.at),
    d1
      .prepare(
        `UPDATE conversations SET last_seq = (SELECT seq FROM messages WHERE id = ?1), last_message_id = ?1,
           last_message_at = ?2, last_inbound_at = ?2
         WHERE id = (SELECT conversation_id FROM messages WHERE id = ?1)`,
      )
      .bind(row.id, row.at),
  ];
}

/** The row the first of appendMessageStatements stored, from its batch result. */
export function storedMessage(result: D1Result | undefined): typeof messages.$inferSelect | undefined {
  return insertMessageQuery.fromBatch(result)[0];
}

/** Whether the third of appendMessageStatements read that the inbox stream may have a socket open (true when unknown). */
export function inboxListening(result: D1Result | undefined): boolean {
  return latestMessageQuery.fromBatch(result)[0]?.listening ?? true;
}

type MessageColumn = keyof typeof messages.$inferInsert;

const insertMessageQuery = compiled((db, p: Placeholders<MessageColumn | "proposedSeq">) => {
  const values = Object.fromEntries(
    Object.keys(getTableColumns(messages)).map((key) => [key, p[key as MessageColumn]]),
  ) as unknown as typeof messages.$inferInsert;
  return db
    .insert(messages)
    .values({
      ...values,
      seq: sql<number>`max(${p.proposedSeq},
        coalesce((select c.last_seq from conversations c where c.id = ${p.conversationId}), 0) + 1,
        coalesce((select max(m.seq) from messages m where m.conversation_id = ${p.conversationId}), 0) + 1)`,
      // The sender's name when it was sent: given, or the member's or API key's.
      sentByName: sql<string | null>`coalesce(${p.sentByName}, case ${p.sentByType}
        when 'user' then (select u.name from users u where u.id = ${p.createdBy})
        when 'api_key' then (select k.name from api_keys k where k.id = ${p.createdBy}) end)`,
      // A reply is tagged with the campaign whose message was the thread's latest outbound.
      campaignId: sql<string | null>`case ${p.direction}
        when 'inbound' then (select c.campaign_id from conversations c where c.id = ${p.conversationId})
        else ${p.campaignId} end`,
    })
    .returning();
});

const insertFirstEventQuery = compiled(
  (db, p: Placeholders<"workspaceId" | "messageId" | "status" | "source" | "at">) =>
    db.insert(messageEvents).values({
      workspaceId: p.workspaceId,
      messageId: p.messageId,
      status: p.status,
      source: p.source,
      at: p.at,
    }) as unknown as PromiseLike<unknown[]> & { toSQL(): unknown },
);

/** The conversation's latest-message fields; an inbound one also its last inbound time, an outbound one its campaign tag. */
const latestMessageQuery = compiled(
  (db, p: Placeholders<"conversationId" | "messageId" | "at" | "inbound" | "campaignId">) =>
    db
      .update(conversations)
      .set({
        lastSeq: seqOfMessageSql(p.messageId),
        lastMessageId: sql`${p.messageId}`,
        lastMessageAt: sql`${p.at}`,
        lastInboundAt: sql`case when ${p.inbound} then ${p.at} else ${conversations.lastInboundAt} end`,
        campaignId: sql`case when ${p.inbound} then ${conversations.campaignId} else ${p.campaignId} end`,
      })
      .where(eq(conversations.id, p.conversationId))
      // Whether the workspace's inbox stream may have a socket open (read in the append's transaction).
      .returning({
        listening:
          sql<boolean>`(select w.inbox_listeners from workspaces w where w.id = ${conversations.workspaceId})`.mapWith(
            Boolean,
          ),
      }),
);

/** SQL: the seq D1 gave a message (for the conversation's last_seq in the same batch). */
export function seqOfMessageSql(messageId: string | Placeholder) {
  return sql<number>`(select ${messages.seq} from ${messages} where ${messages.id} = ${messageId})`;
}

/** The highest seq D1 has recorded for a conversation (its last_seq, or its messages' highest). */
export async function conversationSeqInD1(d1: D1Database, conversationId: string): Promise<number> {
  const row = await d1
    .prepare(
      "SELECT max(coalesce((SELECT last_seq FROM conversations WHERE id = ?1), 0), coalesce((SELECT max(seq) FROM messages WHERE conversation_id = ?1), 0)) AS seq",
    )
    .bind(conversationId)
    .first<{ seq: number }>();
  return row?.seq ?? 0;
}

/** Moves a user's read marker forward to `seq` (never back); returns the marker as stored. */
export async function markReadUpTo(
  db: Db,
  read: { conversationId: string; userId: string; workspaceId: string; seq: number },
): Promise<number> {
  const now = Date.now();
  const [row] = await db
    .insert(conversationReads)
    .values({ ...read, lastReadSeq: read.seq, updatedAt: now })
    .onConflictDoUpdate({
      target: [conversationReads.conversationId, conversationReads.userId],
      set: { lastReadSeq: sql`max(${conversationReads.lastReadSeq}, ${read.seq})`, updatedAt: now },
    })
    .returning({ lastReadSeq: conversationReads.lastReadSeq });
  return row?.lastReadSeq ?? read.seq;
}

/**
 * Outbound messages with what their handover needs to know: whether the number is suppressed, and
 * the sender's row in the same workspace (null when the number was removed) with its send rate.
 * Columns from `numbers` are aliased: D1 batches return rows as objects, where same-named columns collide.
 */
function selectForHandover(db: Db) {
  return db
    .select({
      msg: messages,
      suppressed:
        sql<boolean>`exists (select 1 from suppressions s where s.workspace_id = ${messages.workspaceId} and s.phone = ${messages.toNumber})`
          .mapWith(Boolean)
          .as("handover_suppressed"),
      senderId: sql<string | null>`${numbers.id}`.as("handover_sender_id"),
      ratePerSecond: sql<number | null>`${numbers.ratePerSecond}`.as("handover_rate"),
      inboxChannel: sql<"sms" | "whatsapp" | "email" | null>`${numbers.channel}`.as("handover_inbox_channel"),
      inboxAccountSid: sql<string | null>`${numbers.accountSid}`.as("handover_inbox_account"),
      inboxCredentials: sql<string | null>`${numbers.credentials}`.as("handover_inbox_credentials"),
      campaignStatus: sql<string | null>`(select cp.status from campaigns cp where cp.id = ${messages.campaignId})`.as(
        "handover_campaign_status",
      ),
    })
    .from(messages)
    .leftJoin(
      numbers,
      and(eq(numbers.phoneNumber, messages.fromNumber), eq(numbers.workspaceId, messages.workspaceId)),
    );
}

export type HandoverRow = Awaited<ReturnType<ReturnType<typeof selectForHandover>["get"]>>;

export interface ClaimedForHandover {
  row: HandoverRow;
  /** The lease this consumer took, or null when it did not (not pending, suppressed, sender removed, held elsewhere). */
  lease: { earlierAttempt: number | null } | null;
}

/**
 * A queue batch's messages loaded and claimed in one round trip: one statement takes the lease on
 * each that is pending, free, not suppressed and still has its sender (recording the attempt), and the
 * next reads them all (after the claim, in the same batch) with what their handover needs.
 */
export async function claimForHandover(
  db: Db,
  ids: string[],
  now: number,
  leaseMs: number,
): Promise<Map<string, ClaimedForHandover>> {
  const [claimed, rows] = await db.batch([
    db
      .update(messages)
      .set({
        leaseUntil: now + leaseMs,
        attempts: sql`${messages.attempts} + 1`,
        attemptStartedAt: sql`coalesce(${messages.attemptStartedAt}, ${now})`,
      })
      .where(
        and(
          inArray(messages.id, ids),
          eq(messages.status, "pending"),
          eq(messages.direction, "outbound"),
          or(isNull(messages.leaseUntil), lt(messages.leaseUntil, now)),
          sql`not exists (select 1 from suppressions s where s.workspace_id = ${messages.workspaceId} and s.phone = ${messages.toNumber})`,
          sql`exists (select 1 from numbers n where n.workspace_id = ${messages.workspaceId} and n.phone_number = ${messages.fromNumber})`,
          // A campaign's message goes only while its campaign runs.
          sql`(${messages.campaignId} is null or exists (select 1 from campaigns cp where cp.id = ${messages.campaignId} and cp.status = 'running'))`,
        ),
      )
      .returning({ id: messages.id, attemptStartedAt: messages.attemptStartedAt }),
    selectForHandover(db).where(inArray(messages.id, ids)),
  ]);
  const leases = new Map(claimed.map((c) => [c.id, c.attemptStartedAt]));
  const out = new Map<string, ClaimedForHandover>();
  for (const row of rows) {
    const started = leases.get(row.msg.id);
    out.set(row.msg.id, {
      row,
      lease: started === undefined ? null : { earlierAttempt: started !== null && started < now ? started : null },
    });
  }
  return out;
}

/** Email threading: the provider ids (`<inbox>/<Message-ID>`) of a conversation's latest inbound emails, newest first. */
export async function inboundEmailIds(db: Db, conversationId: string, limit = 10): Promise<string[]> {
  const rows = await db
    .select({ sid: messages.providerSid })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, conversationId),
        eq(messages.direction, "inbound"),
        eq(messages.channel, "email"),
      ),
    )
    .orderBy(desc(messages.seq))
    .limit(limit);
  return rows.flatMap((r) => (r.sid ? [r.sid] : []));
}

/** The subject of a conversation's latest email that has one (null when none has). */
export async function latestSubject(db: Db, conversationId: string): Promise<string | null> {
  const row = await db
    .select({ subject: messages.subject })
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), sql`${messages.subject} is not null`))
    .orderBy(desc(messages.seq))
    .limit(1)
    .get();
  return row?.subject ?? null;
}

/** A message by its provider id (an email's Resend id), in any workspace: the event says which by id alone. */
export async function getMessageByProviderSid(db: Db, sid: string) {
  return db.query.messages.findFirst({ where: eq(messages.providerSid, sid) });
}

/**
 * Email threading: the first of `ids` that names a message in this workspace's inbox `inboxAddress`
 * threads — our own outbound (`<msg_…@…>`, by id) or an inbound email (by its stored provider id).
 */
export async function findEmailThread(
  db: Db,
  workspaceId: string,
  inboxAddress: string,
  ours: string[],
  theirs: string[],
): Promise<string | null> {
  if (ours.length === 0 && theirs.length === 0) return null;
  const rows = await db
    .select({ conversationId: messages.conversationId, id: messages.id, sid: messages.providerSid })
    .from(messages)
    .where(
      and(
        eq(messages.workspaceId, workspaceId),
        eq(messages.channel, "email"),
        or(
          ours.length > 0 ? and(inArray(messages.id, ours), eq(messages.fromNumber, inboxAddress)) : undefined,
          theirs.length > 0
            ? and(inArray(messages.providerSid, theirs), eq(messages.toNumber, inboxAddress))
            : undefined,
        ),
      ),
    )
    .limit(20);
  for (const id of [...ours, ...theirs]) {
    const hit = rows.find((r) => r.id === id || r.sid === id);
    if (hit) return hit.conversationId;
  }
  return null;
}
