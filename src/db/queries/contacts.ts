/** Contacts of a workspace. Every function takes the workspace id and filters on it. */
import { type AnyColumn, and, desc, eq, isNull, like, lt, or, type SQL, sql } from "drizzle-orm";
import { newId } from "../../domain/ids";
import { toE164 } from "../../domain/phone";
import type { Db } from "../client";
import { auditLog, contacts, conversations, suppressions } from "../schema";
import { hasAnyLabelSql } from "./campaigns";

/** A LIKE pattern matching `text` anywhere, with %, _ and \ taken literally (paired with ESCAPE '\'). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

export async function listContacts(
  db: Db,
  workspaceId: string,
  opts: {
    q?: string;
    /** A label (id or name) on the contact or on any of its conversations. */
    label?: string;
    /** A custom field's key and value (exact). */
    field?: { key: string; value: string };
    limit: number;
    before?: { key: number; id: string } | null;
  },
) {
  const conditions: (SQL | undefined)[] = [eq(contacts.workspaceId, workspaceId), isNull(contacts.mergedInto)];
  if (opts.label) conditions.push(hasAnyLabelSql([opts.label]));
  if (opts.field) {
    conditions.push(sql`json_extract(${contacts.fields}, ${`$."${opts.field.key}"`}) = ${opts.field.value}`);
  }
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

/** A contact by id; a merged contact's id gives the contact it was merged into. */
export async function getContact(db: Db, workspaceId: string, id: string) {
  return db.query.contacts.findFirst({
    where: and(
      eq(contacts.workspaceId, workspaceId),
      isNull(contacts.mergedInto),
      sql`${contacts.id} = coalesce((select m.merged_into from contacts m where m.id = ${id} and m.workspace_id = ${workspaceId}), ${id})`,
    ),
  });
}

/**
 * Merges `mergedId` into `keptId` in one batch: the kept contact fills its blanks (name, email, zone)
 * and missing custom fields from the other and takes its labels; the other keeps its number (texts to
 * and from it stay in its threads) but becomes the kept one wherever people look, with its name;
 * contacts merged into it before follow. Consent stays with each number (the suppression list).
 */
export function mergeStatements(
  d1: D1Database,
  workspaceId: string,
  keptId: string,
  mergedId: string,
  now: number,
): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `UPDATE contacts SET
           name = coalesce(contacts.name, m.name), email = coalesce(contacts.email, m.email),
           timezone = coalesce(contacts.timezone, m.timezone), fields = json_patch(m.fields, contacts.fields), updated_at = ?4
         FROM (SELECT name, email, timezone, fields FROM contacts WHERE id = ?3 AND workspace_id = ?1) m
         WHERE contacts.id = ?2 AND contacts.workspace_id = ?1`,
      )
      .bind(workspaceId, keptId, mergedId, now),
    d1
      .prepare(
        `UPDATE contacts SET merged_into = ?2, updated_at = ?4,
           name = (SELECT k.name FROM contacts k WHERE k.id = ?2), email = (SELECT k.email FROM contacts k WHERE k.id = ?2)
         WHERE workspace_id = ?1 AND (id = ?3 OR merged_into = ?3)`,
      )
      .bind(workspaceId, keptId, mergedId, now),
    d1
      .prepare(
        `INSERT OR IGNORE INTO contact_labels (contact_id, label_id, workspace_id)
         SELECT ?2, label_id, workspace_id FROM contact_labels WHERE contact_id = ?3 AND workspace_id = ?1`,
      )
      .bind(workspaceId, keptId, mergedId),
  ];
}

/** Keeps the name and email of contacts merged into this one the same as its own (they show in threads). */
export function syncMergedStatement(d1: D1Database, workspaceId: string, keptId: string): D1PreparedStatement {
  return d1
    .prepare(
      `UPDATE contacts SET name = (SELECT k.name FROM contacts k WHERE k.id = ?2),
         email = (SELECT k.email FROM contacts k WHERE k.id = ?2)
       WHERE workspace_id = ?1 AND merged_into = ?2`,
    )
    .bind(workspaceId, keptId);
}

export async function findContactByPhone(db: Db, workspaceId: string, phone: string) {
  return db.query.contacts.findFirst({ where: and(eq(contacts.workspaceId, workspaceId), eq(contacts.phone, phone)) });
}

/** Finds the contact with this phone or creates it; safe under concurrent calls. */
export async function findOrCreateContact(db: Db, workspaceId: string, phone: string, id: string) {
  await db
    .insert(contacts)
    .values({ id, workspaceId, phone, optedOut: suppressedSql(workspaceId, phone) })
    .onConflictDoNothing();
  const row = await findContactByPhone(db, workspaceId, phone);
  if (!row) throw new Error("contact vanished after upsert");
  return row;
}

export interface ConsentReason {
  source: "keyword" | "twilio" | "manual" | "import";
  /** The keyword sent (STOP, START, …), or Twilio's error code as text. */
  keyword?: string | null;
  /** The message (sid or our id) that carried it. */
  reference?: string | null;
}

/**
 * Records a consent change for a phone number — a STOP/START keyword, or Twilio's 21610 ("recipient
 * unsubscribed") — on the workspace's suppression list, mirrors it onto the contact with that phone
 * (for display), and writes the audit entry, only when consent actually changes: the conditional
 * insert/delete makes replays and concurrent reports write one entry. Returns whether it changed.
 */
export async function recordConsent(
  db: Db,
  workspaceId: string,
  phone: string,
  optedOut: boolean,
  reason: ConsentReason,
  now = Date.now(),
): Promise<boolean> {
  const changed = optedOut
    ? await db
        .insert(suppressions)
        .values({
          workspaceId,
          phone,
          source: reason.source,
          keyword: reason.keyword ?? null,
          reference: reason.reference ?? null,
          createdAt: now,
        })
        .onConflictDoNothing()
        .returning({ phone: suppressions.phone })
    : await db
        .delete(suppressions)
        .where(and(eq(suppressions.workspaceId, workspaceId), eq(suppressions.phone, phone)))
        .returning({ phone: suppressions.phone });
  if (changed.length === 0) return false;
  const [contact] = await db
    .update(contacts)
    .set({ optedOut, optedOutAt: optedOut ? now : null, updatedAt: now })
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.phone, phone)))
    .returning({ id: contacts.id });
  await db.insert(auditLog).values({
    workspaceId,
    actorType: "contact",
    actorId: contact?.id ?? null,
    action: optedOut ? "contact.opted_out" : "contact.opted_in",
    targetType: "phone",
    targetId: phone,
    data: { ...reason },
    at: now,
  });
  return true;
}

/** Whether the workspace may not text this number (it opted out). */
export async function isSuppressed(db: Db, workspaceId: string, phone: string): Promise<boolean> {
  const row = await db.query.suppressions.findFirst({
    where: and(eq(suppressions.workspaceId, workspaceId), eq(suppressions.phone, phone)),
  });
  return row !== undefined;
}

/** SQL: whether the number in `phone` is on the workspace's suppression list. */
export function suppressedSql(workspaceId: SQL | string, phone: SQL | AnyColumn | string) {
  return sql<boolean>`exists (select 1 from suppressions s where s.workspace_id = ${workspaceId} and s.phone = ${phone})`.mapWith(
    Boolean,
  );
}

/** Twilio said the recipient of this message unsubscribed (21610): suppress the number. */
export async function optOutRecipient(
  db: Db,
  msg: { id: string; workspaceId: string; toNumber: string },
): Promise<void> {
  await recordConsent(db, msg.workspaceId, msg.toNumber, true, {
    source: "twilio",
    keyword: "21610",
    reference: msg.id,
  });
}

/** A contact's history: its threads, message counts and first/last message, and its consent changes. */
/** The conversations of a contact and of those merged into it (what deleting it deletes). */
export async function conversationIdsOfContact(db: Db, workspaceId: string, contactId: string): Promise<string[]> {
  const rows = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(
      sql`${conversations.workspaceId} = ${workspaceId} AND ${conversations.contactId} IN
        (SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND (id = ${contactId} OR merged_into = ${contactId}))`,
    );
  return rows.map((r) => r.id);
}

export async function contactHistory(d1: D1Database, workspaceId: string, contactId: string) {
  const [threads, totals, consent, numbers] = await d1.batch<Record<string, unknown>>([
    d1
      .prepare(
        `SELECT c.id, c.from_number AS "from", c.channel, c.status, c.last_message_at AS lastMessageAt,
           c.last_inbound_at AS lastInboundAt
         FROM conversations c WHERE c.workspace_id = ?1
           AND c.contact_id IN (SELECT id FROM contacts WHERE workspace_id = ?1 AND (id = ?2 OR merged_into = ?2))
         ORDER BY c.last_message_at DESC`,
      )
      .bind(workspaceId, contactId),
    d1
      .prepare(
        // Messages in D1 and those archived to R2 (their stubs carry the counts and the time range).
        `SELECT min(firstAt) AS firstAt, max(lastAt) AS lastAt, sum(inbound) AS inbound, sum(outbound) AS outbound
         FROM (
           SELECT min(m.created_at) AS firstAt, max(m.created_at) AS lastAt,
             sum(m.direction = 'inbound') AS inbound, sum(m.direction = 'outbound') AS outbound
           FROM messages m JOIN conversations c ON c.id = m.conversation_id
           WHERE c.workspace_id = ?1
             AND c.contact_id IN (SELECT id FROM contacts WHERE workspace_id = ?1 AND (id = ?2 OR merged_into = ?2))
           UNION ALL
           SELECT min(a.first_at), max(a.last_at), sum(a.inbound), sum(a.outbound)
           FROM message_archives a JOIN conversations c ON c.id = a.conversation_id
           WHERE a.workspace_id = ?1
             AND c.contact_id IN (SELECT id FROM contacts WHERE workspace_id = ?1 AND (id = ?2 OR merged_into = ?2))
         )`,
      )
      .bind(workspaceId, contactId),
    d1
      .prepare(
        `SELECT a.action, a.at, a.data, a.target_id AS phone FROM audit_log a JOIN contacts ct ON ct.phone = a.target_id
         WHERE a.workspace_id = ?1 AND ct.workspace_id = ?1 AND (ct.id = ?2 OR ct.merged_into = ?2)
           AND a.action IN ('contact.opted_out', 'contact.opted_in')
         ORDER BY a.at DESC LIMIT 50`,
      )
      .bind(workspaceId, contactId),
    d1
      .prepare(
        `SELECT ct.id, ct.phone, EXISTS (SELECT 1 FROM suppressions s WHERE s.workspace_id = ?1 AND s.phone = ct.phone) AS optedOut
         FROM contacts ct WHERE ct.workspace_id = ?1 AND (ct.id = ?2 OR ct.merged_into = ?2) ORDER BY ct.id = ?2 DESC, ct.created_at`,
      )
      .bind(workspaceId, contactId),
  ]);
  return {
    threads: (threads?.results ?? []) as {
      id: string;
      from: string;
      channel: string;
      status: string;
      lastMessageAt: number | null;
      lastInboundAt: number | null;
    }[],
    totals: (totals?.results[0] ?? {}) as {
      firstAt: number | null;
      lastAt: number | null;
      inbound: number | null;
      outbound: number | null;
    },
    consent: (consent?.results ?? []) as { action: string; at: number; data: string | null; phone: string }[],
    /** The contact's number first, then those of contacts merged into it. */
    numbers: (numbers?.results ?? []) as { id: string; phone: string; optedOut: number }[],
  };
}

export type ImportedContact = {
  phone: string;
  name: string | null;
  email: string | null;
  timezone: string | null;
  fields: Record<string, string>;
};

/** The workspace's contacts among these phones (what an import chunk compares against). */
export async function contactsByPhone(d1: D1Database, workspaceId: string, phones: string[]) {
  const { results } = await d1
    .prepare(
      `SELECT coalesce(k.id, c.id) AS id, c.phone, coalesce(k.name, c.name) AS name, coalesce(k.email, c.email) AS email,
         coalesce(k.timezone, c.timezone) AS timezone, coalesce(k.fields, c.fields) AS fields
       FROM contacts c LEFT JOIN contacts k ON k.id = c.merged_into
       WHERE c.workspace_id = ?1 AND c.phone IN (SELECT value FROM json_each(?2))`,
    )
    .bind(workspaceId, JSON.stringify(phones))
    .all<{
      id: string;
      phone: string;
      name: string | null;
      email: string | null;
      timezone: string | null;
      fields: string;
    }>();
  return results;
}

/**
 * An import chunk's writes in one batch, however many rows (each list is one JSON parameter): new
 * contacts (a number on the suppression list starts opted out), and changed ones.
 */
export function importStatements(
  d1: D1Database,
  workspaceId: string,
  inserts: (ImportedContact & { id: string })[],
  updates: (ImportedContact & { id: string })[],
  now: number,
): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  if (inserts.length > 0) {
    statements.push(
      d1
        .prepare(
          `INSERT INTO contacts (id, workspace_id, name, phone, email, timezone, fields, opted_out, created_at, updated_at)
           SELECT json_extract(j.value, '$.id'), ?1, json_extract(j.value, '$.name'), json_extract(j.value, '$.phone'),
             json_extract(j.value, '$.email'), json_extract(j.value, '$.timezone'), json(json_extract(j.value, '$.fields')),
             EXISTS (SELECT 1 FROM suppressions s WHERE s.workspace_id = ?1 AND s.phone = json_extract(j.value, '$.phone')),
             ?3, ?3
           FROM json_each(?2) j
           WHERE true ON CONFLICT DO NOTHING`,
        )
        .bind(workspaceId, JSON.stringify(inserts), now),
    );
  }
  if (updates.length > 0) {
    statements.push(
      d1
        .prepare(
          `UPDATE contacts SET name = json_extract(j.value, '$.name'), email = json_extract(j.value, '$.email'),
             timezone = json_extract(j.value, '$.timezone'), fields = json(json_extract(j.value, '$.fields')), updated_at = ?3
           FROM json_each(?2) j
           WHERE contacts.workspace_id = ?1 AND contacts.id = json_extract(j.value, '$.id')`,
        )
        .bind(workspaceId, JSON.stringify(updates), now),
    );
  }
  return statements;
}

/**
 * Labels on contacts by phone (an import's): missing labels are created (unique by name), then each
 * pair is added once. Running it again changes nothing.
 */
export function contactLabelStatements(
  d1: D1Database,
  workspaceId: string,
  pairs: { phone: string; label: string }[],
  now: number,
): D1PreparedStatement[] {
  if (pairs.length === 0) return [];
  const names = [...new Set(pairs.map((p) => p.label))].map((name) => ({ id: newId("lbl"), name }));
  return [
    d1
      .prepare(
        `INSERT INTO labels (id, workspace_id, name, color, created_at)
         SELECT json_extract(value, '$.id'), ?1, json_extract(value, '$.name'), '#6b7280', ?3 FROM json_each(?2)
         WHERE true ON CONFLICT DO NOTHING`,
      )
      .bind(workspaceId, JSON.stringify(names), now),
    d1
      .prepare(
        `INSERT OR IGNORE INTO contact_labels (contact_id, label_id, workspace_id)
         SELECT coalesce(c.merged_into, c.id), l.id, ?1 FROM json_each(?2) p
           JOIN contacts c ON c.workspace_id = ?1 AND c.phone = json_extract(p.value, '$.phone')
           JOIN labels l ON l.workspace_id = ?1 AND l.name = json_extract(p.value, '$.label')`,
      )
      .bind(workspaceId, JSON.stringify(pairs)),
  ];
}
