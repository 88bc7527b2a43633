/**
 * Conversations: one thread between a contact and one of the workspace's sender numbers.
 * `last_message_at` doubles as the list's sort key (set to the creation time until a message exists).
 */
import { and, desc, eq, like, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../client";
import { contacts, conversations, messages, numbers } from "../schema";

export type ConversationListRow = Awaited<ReturnType<typeof listConversations>>[number];

/** Unread inbound messages after the reader's last read seq (for API keys: the furthest any member read). */
function unreadCount(userId: string | null): SQL<number> {
  const lastRead =
    userId === null
      ? sql`(select max(r.last_read_seq) from conversation_reads r where r.conversation_id = ${conversations.id})`
      : sql`(select r.last_read_seq from conversation_reads r where r.conversation_id = ${conversations.id} and r.user_id = ${userId})`;
  return sql<number>`(select count(*) from messages mi where mi.conversation_id = ${conversations.id} and mi.direction = 'inbound' and mi.seq > coalesce(${lastRead}, 0))`.mapWith(
    Number,
  );
}

function selectConversation(db: Db, userId: string | null) {
  return db
    .select({ conversation: conversations, contact: contacts, lastMessage: messages, unread: unreadCount(userId) })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .leftJoin(messages, eq(messages.id, conversations.lastMessageId));
}

export async function listConversations(
  db: Db,
  workspaceId: string,
  userId: string | null,
  opts: { status?: "open" | "closed"; q?: string; limit: number; before?: { key: number; id: string } | null },
) {
  const conditions: (SQL | undefined)[] = [eq(conversations.workspaceId, workspaceId)];
  if (opts.status) conditions.push(eq(conversations.status, opts.status));
  if (opts.q) {
    const pattern = `%${opts.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    const digits = opts.q.replace(/\D/g, "");
    conditions.push(
      or(
        sql`${contacts.name} like ${pattern} escape '\\'`,
        sql`${contacts.email} like ${pattern} escape '\\'`,
        digits.length >= 3 ? like(contacts.phone, `%${digits}%`) : undefined,
      ),
    );
  }
  if (opts.before) {
    conditions.push(
      or(
        lt(conversations.lastMessageAt, opts.before.key),
        and(eq(conversations.lastMessageAt, opts.before.key), lt(conversations.id, opts.before.id)),
      ),
    );
  }
  return selectConversation(db, userId)
    .where(and(...conditions))
    .orderBy(desc(conversations.lastMessageAt), desc(conversations.id))
    .limit(opts.limit + 1);
}

export async function getConversationView(db: Db, workspaceId: string, userId: string | null, id: string) {
  const rows = await selectConversation(db, userId)
    .where(and(eq(conversations.id, id), eq(conversations.workspaceId, workspaceId)))
    .limit(1);
  return rows[0];
}

export async function getConversation(db: Db, workspaceId: string, id: string) {
  return db.query.conversations.findFirst({
    where: and(eq(conversations.id, id), eq(conversations.workspaceId, workspaceId)),
  });
}

export async function findWorkspaceNumber(db: Db, workspaceId: string, phoneNumber?: string) {
  return db.query.numbers.findFirst({
    where: phoneNumber
      ? and(eq(numbers.workspaceId, workspaceId), eq(numbers.phoneNumber, phoneNumber))
      : eq(numbers.workspaceId, workspaceId),
    orderBy: numbers.createdAt,
  });
}

/** Finds the thread for (contact, sender) or creates it; returns whether it was created. */
export async function findOrCreateConversation(
  db: Db,
  workspaceId: string,
  contactId: string,
  fromNumber: string,
  newIdValue: string,
) {
  const now = Date.now();
  const inserted = await db
    .insert(conversations)
    .values({ id: newIdValue, workspaceId, contactId, fromNumber, lastMessageAt: now, createdAt: now })
    .onConflictDoNothing()
    .returning({ id: conversations.id });
  const row = await db.query.conversations.findFirst({
    where: and(
      eq(conversations.workspaceId, workspaceId),
      eq(conversations.contactId, contactId),
      eq(conversations.fromNumber, fromNumber),
    ),
  });
  if (!row) throw new Error("conversation vanished after upsert");
  return { conversation: row, created: inserted.length > 0 };
}
