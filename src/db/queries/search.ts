/**
 * Full-text search (FTS5): message bodies (messages_fts) and contacts' names, phones and emails
 * (contacts_fts), both kept in step with every write by triggers (migration 0005). Every query filters
 * on the workspace, in the FTS table and in the joined row.
 */
import { and, desc, eq, isNull, or, type SQL, sql } from "drizzle-orm";
import type { ConversationStatus } from "../../shared/status";
import type { Db } from "../client";
import { contacts, conversations, messages } from "../schema";
import { assigneeNameSql, inboxScopeSql, labelsJsonSql } from "./conversations";

/** Marks around each match in a snippet (control characters no message body contains). */
export const MARK_START = "\u0002";
export const MARK_END = "\u0003";

/**
 * The user's words as an FTS5 query: each word quoted (so no FTS syntax gets through) and matched as a
 * prefix, all words required. Empty when there is no word to look for.
 */
export function ftsQuery(q: string): string {
  const words = q
    .normalize("NFKC")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0)
    .slice(0, 8);
  return words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(" ");
}

export interface SearchFilters {
  status?: ConversationStatus;
  assignee?: string;
  label?: string;
  direction?: "inbound" | "outbound";
  from?: number;
  to?: number;
}

function conversationFilters(filters: SearchFilters, userId: string | SQL | null, workspaceId: string | SQL): SQL[] {
  const out: SQL[] = [];
  // A member limited to some inboxes finds only their conversations.
  out.push(inboxScopeSql(workspaceId, userId, sql`${conversations.fromNumber}`));
  if (filters.status) out.push(eq(conversations.status, filters.status));
  if (filters.assignee === "none") out.push(isNull(conversations.assignedUserId));
  else if (filters.assignee === "me") out.push(userId ? eq(conversations.assignedUserId, userId) : sql`0`);
  else if (filters.assignee) out.push(eq(conversations.assignedUserId, filters.assignee));
  if (filters.label) {
    out.push(sql`exists (select 1 from conversation_labels cl join labels l on l.id = cl.label_id
      where cl.conversation_id = ${conversations.id} and (l.id = ${filters.label} or l.name = ${filters.label}))`);
  }
  return out;
}

/** What a hit shows of its conversation, read in the same statement (no second query). */
const conversationSummary = {
  conversation: conversations,
  contact: contacts,
  assigneeName: assigneeNameSql,
  labels: labelsJsonSql(conversations.id),
};

/**
 * Message hits, newest first, each with a marked snippet. `workspaceId`/`userId` may be SQL (the
 * credential folded into the query, as the list does): a credential that does not hold finds nothing.
 */
export function searchMessages(
  db: Db,
  workspaceId: string | SQL,
  userId: string | SQL | null,
  query: string,
  filters: SearchFilters,
  /** `before`: the rowid of the last hit on the previous page. */
  page: { limit: number; before?: number | null },
) {
  const conditions: (SQL | undefined)[] = [
    sql`messages_fts match ${query}`,
    sql`messages_fts.workspace_id = ${workspaceId}`,
    eq(messages.workspaceId, workspaceId),
    ...conversationFilters(filters, userId, workspaceId),
  ];
  if (filters.direction) conditions.push(eq(messages.direction, filters.direction));
  if (filters.from !== undefined) conditions.push(sql`${messages.createdAt} >= ${filters.from}`);
  if (filters.to !== undefined) conditions.push(sql`${messages.createdAt} < ${filters.to}`);
  if (page.before) conditions.push(sql`messages_fts.rowid < ${page.before}`);
  return (
    db
      .select({
        id: messages.id,
        seq: messages.seq,
        workspaceId: messages.workspaceId,
        conversationId: messages.conversationId,
        direction: messages.direction,
        createdAt: messages.createdAt,
        rowid: sql<number>`messages_fts.rowid`,
        snippet: sql<string>`snippet(messages_fts, 0, ${MARK_START}, ${MARK_END}, '…', 16)`,
        ...conversationSummary,
      })
      .from(sql`messages_fts`)
      .innerJoin(messages, sql`${messages}.rowid = messages_fts.rowid`)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .where(and(...conditions))
      // Newest first by rowid (messages are inserted in time order): FTS5 walks its index backwards and
      // stops at the page's end, instead of sorting every match of a common word.
      .orderBy(sql`messages_fts.rowid desc`)
      .limit(page.limit + 1)
  );
}

/** Conversations whose contact matches by name or email (FTS) or phone digits, most recent first. */
export function searchContacts(
  db: Db,
  workspaceId: string | SQL,
  userId: string | SQL | null,
  query: string,
  digits: string,
  filters: SearchFilters,
  limit: number,
) {
  const byText = query
    ? sql`${contacts}.rowid in (select rowid from contacts_fts where contacts_fts match ${query} and workspace_id = ${workspaceId})`
    : undefined;
  const byPhone = digits.length >= 3 ? sql`${contacts.phone} like ${`%${digits}%`}` : undefined;
  const match = or(byText, byPhone) ?? sql`0`;
  return db
    .select({ conversationId: conversations.id, workspaceId: conversations.workspaceId, ...conversationSummary })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(conversations.workspaceId, workspaceId), match, ...conversationFilters(filters, userId, workspaceId)))
    .orderBy(desc(conversations.lastMessageAt))
    .limit(limit);
}
