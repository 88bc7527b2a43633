/**
 * Archive: the messages of a conversation-month that move to R2, the stub they leave in D1
 * (`message_archives`), the stubs a thread page reaches, and the way back (rows inserted again from the
 * object's lines, in one batch with the stub's removal).
 */
import { and, asc, eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import type { Db } from "../client";
import { messageArchives, messageEvents, messages } from "../schema";

export type MessageRow = typeof messages.$inferSelect;
type EventRow = typeof messageEvents.$inferSelect;
/** One line of an archive object: the message row as the app reads it, with its status events. */
export type ArchivedLine = MessageRow & { events: EventRow[] };

/** Statuses a message can still leave soon: never archived. */
const IN_FLIGHT = "('scheduled', 'pending', 'queued', 'sending')";

export async function archivingWorkspaces(d1: D1Database, workspaceId?: string) {
  const { results } = await d1
    .prepare(
      `SELECT id, archive_after_days AS archiveAfterDays FROM workspaces
       WHERE archive_after_days IS NOT NULL AND (?1 IS NULL OR id = ?1)`,
    )
    .bind(workspaceId ?? null)
    .all<{ id: string; archiveAfterDays: number }>();
  return results;
}

/**
 * Which messages of a workspace may go: created before the cutoff, not in flight, not their conversation's
 * last, and of no campaign still going (a finished campaign's counts are frozen first).
 */
function due(workspaceId: string, cutoff: number): SQL {
  return sql`${messages.workspaceId} = ${workspaceId} AND ${messages.createdAt} < ${cutoff}
    AND ${messages.status} NOT IN ${sql.raw(IN_FLIGHT)}
    AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = ${messages.conversationId} AND c.last_message_id = ${messages.id})
    AND (${messages.campaignId} IS NULL OR EXISTS (SELECT 1 FROM campaigns k WHERE k.id = ${messages.campaignId} AND k.status IN ('completed', 'canceled')))`;
}

const MONTH = sql`strftime('%Y-%m', ${messages.createdAt} / 1000, 'unixepoch')`;

/** Due messages one run looks at, oldest first: the query walks the workspace's time index this far and no further. */
const SCAN_ROWS = 5000;

/**
 * The next conversation-months with messages due, among the oldest SCAN_ROWS due messages (so a
 * workspace with millions of old messages costs one bounded index walk per run, not a scan of them all).
 */
export async function archiveCandidates(db: Db, workspaceId: string, cutoff: number, limit: number) {
  const oldest = db
    .select({ conversationId: messages.conversationId, month: sql<string>`${MONTH}`.as("month") })
    .from(messages)
    .where(due(workspaceId, cutoff))
    .orderBy(asc(messages.createdAt))
    .limit(SCAN_ROWS)
    .as("oldest");
  return db
    .select({ conversationId: oldest.conversationId, month: oldest.month })
    .from(oldest)
    .groupBy(oldest.conversationId, sql`month`)
    .orderBy(sql`month`, oldest.conversationId)
    .limit(limit);
}

/** Whether any message of the workspace is still due (after a run: is there more?). */
export async function anyDue(db: Db, workspaceId: string, cutoff: number): Promise<boolean> {
  const row = await db.select({ id: messages.id }).from(messages).where(due(workspaceId, cutoff)).limit(1).get();
  return row !== undefined;
}

/** One conversation-month's due messages, whole, with their events (one round trip). */
export async function linesToArchive(
  db: Db,
  workspaceId: string,
  conversationId: string,
  month: string,
  cutoff: number,
): Promise<ArchivedLine[]> {
  const where = sql`${due(workspaceId, cutoff)} AND ${messages.conversationId} = ${conversationId} AND ${MONTH} = ${month}`;
  const [rows, events] = await db.batch([
    db.select().from(messages).where(where).orderBy(asc(messages.seq)),
    db
      .select(getTableColumns(messageEvents))
      .from(messageEvents)
      .innerJoin(messages, eq(messages.id, messageEvents.messageId))
      .where(where)
      .orderBy(asc(messageEvents.at)),
  ]);
  const byMessage = new Map<string, EventRow[]>();
  for (const e of events) byMessage.set(e.messageId, [...(byMessage.get(e.messageId) ?? []), e]);
  return rows.map((r) => ({ ...r, events: byMessage.get(r.id) ?? [] }));
}

/**
 * Writes the stub and deletes the archived rows (their events and attempts cascade, the search index
 * follows by trigger) in one transaction. A stub with the same key (a second run that read the same rows)
 * is not written twice. Returns how many messages left D1.
 */
export async function commitArchive(d1: D1Database, stub: typeof messageArchives.$inferInsert, ids: string[]) {
  const [, deleted] = await d1.batch([
    d1
      .prepare(
        `INSERT OR IGNORE INTO message_archives (id, workspace_id, conversation_id, month, first_seq, last_seq, first_at,
           last_at, messages, inbound, outbound, key, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)`,
      )
      .bind(
        stub.id,
        stub.workspaceId,
        stub.conversationId,
        stub.month,
        stub.firstSeq,
        stub.lastSeq,
        stub.firstAt,
        stub.lastAt,
        stub.messages,
        stub.inbound,
        stub.outbound,
        stub.key,
        stub.bytes,
        stub.createdAt ?? Date.now(),
      ),
    d1
      .prepare("DELETE FROM messages WHERE workspace_id = ?1 AND id IN (SELECT value FROM json_each(?2)) RETURNING id")
      .bind(stub.workspaceId, JSON.stringify(ids)),
  ]);
  return deleted?.results.length ?? 0;
}

/**
 * Stubs of a conversation that may hold messages before `beforeSeq` (newest last seq first), or after
 * `afterSeq` (oldest first seq first); at most `limit` (each holds at least one message, so a page of
 * `limit` never needs more).
 */
export async function stubsAround(
  d1: D1Database,
  workspaceId: string,
  conversationId: string,
  page: { before?: number; after?: number },
  limit: number,
) {
  const { results } = await d1
    .prepare(
      page.after !== undefined
        ? `SELECT id, key, first_seq AS firstSeq, last_seq AS lastSeq FROM message_archives
           WHERE workspace_id = ?1 AND conversation_id = ?2 AND last_seq > ?3 ORDER BY first_seq ASC LIMIT ?4`
        : `SELECT id, key, first_seq AS firstSeq, last_seq AS lastSeq FROM message_archives
           WHERE workspace_id = ?1 AND conversation_id = ?2 AND first_seq < ?3 ORDER BY last_seq DESC LIMIT ?4`,
    )
    .bind(workspaceId, conversationId, page.after ?? page.before ?? Number.MAX_SAFE_INTEGER, limit)
    .all<{ id: string; key: string; firstSeq: number; lastSeq: number }>();
  return results;
}

/** A page of stubs by metadata: a conversation, a contact, a time range (newest first). */
export async function listStubs(
  db: Db,
  workspaceId: string,
  filter: { conversationId?: string; contactId?: string; from?: number; to?: number; limit: number },
) {
  return db
    .select()
    .from(messageArchives)
    .where(
      and(
        eq(messageArchives.workspaceId, workspaceId),
        filter.conversationId ? eq(messageArchives.conversationId, filter.conversationId) : undefined,
        filter.contactId
          ? sql`${messageArchives.conversationId} IN (SELECT id FROM conversations WHERE workspace_id = ${workspaceId} AND contact_id = ${filter.contactId})`
          : undefined,
        filter.from !== undefined ? sql`${messageArchives.lastAt} >= ${filter.from}` : undefined,
        filter.to !== undefined ? sql`${messageArchives.firstAt} < ${filter.to}` : undefined,
      ),
    )
    .orderBy(sql`${messageArchives.lastAt} DESC`)
    .limit(filter.limit);
}

/** The stubs to restore: a conversation's, or the workspace's (a bounded batch). */
export async function stubsToRestore(
  d1: D1Database,
  workspaceId: string,
  conversationId: string | null,
  limit: number,
) {
  const { results } = await d1
    .prepare(
      `SELECT id, key FROM message_archives WHERE workspace_id = ?1 AND (?2 IS NULL OR conversation_id = ?2)
       ORDER BY first_at LIMIT ?3`,
    )
    .bind(workspaceId, conversationId, limit)
    .all<{ id: string; key: string }>();
  return results;
}

/** The stubs of some conversations of a workspace (a contact's, before it is deleted). */
export async function stubsOfConversations(d1: D1Database, workspaceId: string, conversationIds: string[]) {
  if (conversationIds.length === 0) return [];
  const { results } = await d1
    .prepare(
      `SELECT id, key FROM message_archives
       WHERE workspace_id = ?1 AND conversation_id IN (SELECT value FROM json_each(?2))`,
    )
    .bind(workspaceId, JSON.stringify(conversationIds))
    .all<{ id: string; key: string }>();
  return results;
}

/** SQL that inserts rows of `table` from a JSON array parameter of objects keyed by the app's field names. */
function insertFromJson(table: typeof messages | typeof messageEvents, name: string): string {
  const columns = Object.entries(getTableColumns(table));
  return `INSERT OR IGNORE INTO ${name} (${columns.map(([, c]) => c.name).join(", ")})
    SELECT ${columns.map(([key]) => `json_extract(j.value, '$.${key}')`).join(", ")} FROM json_each(?1) j`;
}

/**
 * Puts an archive's lines back: the messages and their events inserted again, the stub deleted, in one
 * transaction (the search index follows by trigger). Returns how many messages came back.
 */
export async function restoreLines(d1: D1Database, stubId: string, lines: ArchivedLine[]) {
  const rows = lines.map(({ events: _events, ...row }) => row);
  const events = lines.flatMap((l) => l.events);
  const [inserted] = await d1.batch([
    d1.prepare(`${insertFromJson(messages, "messages")} RETURNING id`).bind(JSON.stringify(rows)),
    d1.prepare(insertFromJson(messageEvents, "message_events")).bind(JSON.stringify(events)),
    d1.prepare("DELETE FROM message_archives WHERE id = ?1").bind(stubId),
  ]);
  return inserted?.results.length ?? 0;
}

/** Stubs with messages past retention not yet erased in their objects. */
export async function stubsPastRetention(d1: D1Database, workspaceId: string, cutoff: number, limit: number) {
  const { results } = await d1
    .prepare(
      `SELECT id, key, first_at AS firstAt, last_at AS lastAt, bytes FROM message_archives
       WHERE workspace_id = ?1 AND first_at < ?2 AND (erased_before IS NULL OR erased_before < ?2) LIMIT ?3`,
    )
    .bind(workspaceId, cutoff, limit)
    .all<{ id: string; key: string; firstAt: number; lastAt: number; bytes: number }>();
  return results;
}

export async function markStubErased(d1: D1Database, id: string, cutoff: number, bytes: number) {
  await d1
    .prepare("UPDATE message_archives SET erased_before = ?2, bytes = ?3 WHERE id = ?1")
    .bind(id, cutoff, bytes)
    .run();
}

export async function archiveStats(d1: D1Database, workspaceId: string) {
  return d1
    .prepare(
      `SELECT (SELECT archive_after_days FROM workspaces WHERE id = ?1) AS archiveAfterDays,
         coalesce(sum(messages), 0) AS messages, count(*) AS objects, coalesce(sum(bytes), 0) AS bytes,
         min(first_at) AS oldest, max(last_at) AS newest
       FROM message_archives WHERE workspace_id = ?1`,
    )
    .bind(workspaceId)
    .first<{
      archiveAfterDays: number | null;
      messages: number;
      objects: number;
      bytes: number;
      oldest: number | null;
      newest: number | null;
    }>();
}
