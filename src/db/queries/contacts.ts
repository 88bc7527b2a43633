/** Contacts of a workspace. Every function takes the workspace id and filters on it. */
import { and, desc, eq, like, lt, ne, or, type SQL, sql } from "drizzle-orm";
import { toE164 } from "../../domain/phone";
import type { Db } from "../client";
import { auditLog, contacts, conversations } from "../schema";

/** A LIKE pattern matching `text` anywhere, with %, _ and \ taken literally (paired with ESCAPE '\'). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

export async function listContacts(
  db: Db,
  workspaceId: string,
  opts: { q?: string; limit: number; before?: { key: number; id: string } | null },
) {
  const conditions: (SQL | undefined)[] = [eq(contacts.workspaceId, workspaceId)];
  if (opts.q) {
    const pattern = containsPattern(opts.q);
    const phone = toE164(opts.q);
    const digits = opts.q.replace(/\D/g, "");
    conditions.push(
      or(
        sql`${contacts.name} like ${pattern} escape '\\'`,
        sql`${contacts.email} like ${pattern} escape '\\'`,
        phone ? eq(contacts.phone, phone) : undefined,
        digits.length >= 3 ? like(contacts.phone, `%${digits}%`) : undefined,
      ),
    );
  }
  if (opts.before) {
    conditions.push(
      or(
        lt(contacts.createdAt, opts.before.key),
        and(eq(contacts.createdAt, opts.before.key), lt(contacts.id, opts.before.id)),
      ),
    );
  }
  return db
    .select()
    .from(contacts)
    .where(and(...conditions))
    .orderBy(desc(contacts.createdAt), desc(contacts.id))
    .limit(opts.limit + 1);
}

export async function getContact(db: Db, workspaceId: string, id: string) {
  return db.query.contacts.findFirst({ where: and(eq(contacts.id, id), eq(contacts.workspaceId, workspaceId)) });
}

export async function findContactByPhone(db: Db, workspaceId: string, phone: string) {
  return db.query.contacts.findFirst({ where: and(eq(contacts.workspaceId, workspaceId), eq(contacts.phone, phone)) });
}

/** Finds the contact with this phone or creates it; safe under concurrent calls. */
export async function findOrCreateContact(db: Db, workspaceId: string, phone: string, id: string) {
  await db.insert(contacts).values({ id, workspaceId, phone }).onConflictDoNothing();
  const row = await findContactByPhone(db, workspaceId, phone);
  if (!row) throw new Error("contact vanished after upsert");
  return row;
}

/**
 * Records a consent change — a STOP/START keyword, or Twilio's 21610 ("recipient unsubscribed") — and
 * its audit-log entry, only when consent actually changes. The conditional update makes replays and
 * concurrent reports write one entry. Returns whether consent changed.
 */
export async function recordConsent(
  db: Db,
  workspaceId: string,
  contactId: string,
  optedOut: boolean,
  reason: Record<string, unknown>,
  now = Date.now(),
): Promise<boolean> {
  const [changed] = await db
    .update(contacts)
    .set({ optedOut, optedOutAt: optedOut ? now : null, updatedAt: now })
    .where(and(eq(contacts.id, contactId), eq(contacts.workspaceId, workspaceId), ne(contacts.optedOut, optedOut)))
    .returning({ id: contacts.id });
  if (!changed) return false;
  await db.insert(auditLog).values({
    workspaceId,
    actorType: "contact",
    actorId: contactId,
    action: optedOut ? "contact.opted_out" : "contact.opted_in",
    targetType: "contact",
    targetId: contactId,
    data: reason,
    at: now,
  });
  return true;
}

/** Twilio said the recipient of this message unsubscribed (21610): opt the conversation's contact out. */
export async function optOutRecipient(
  db: Db,
  msg: { id: string; workspaceId: string; conversationId: string },
): Promise<void> {
  const conv = await db.query.conversations.findFirst({
    where: and(eq(conversations.id, msg.conversationId), eq(conversations.workspaceId, msg.workspaceId)),
  });
  if (conv)
    await recordConsent(db, msg.workspaceId, conv.contactId, true, { twilioErrorCode: 21610, messageId: msg.id });
}
