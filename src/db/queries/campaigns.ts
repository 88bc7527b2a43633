/**
 * Campaigns and their audiences. An audience is a condition over a workspace's contacts (labels,
 * listed ids, a filter), evaluated as SQL: counted when a campaign is saved and started, and walked in
 * contact-id order, a chunk at a time, by the fan-out.
 */
import { and, desc, eq, isNull, type SQL, sql } from "drizzle-orm";
import { toE164 } from "../../domain/phone";
import type { Db } from "../client";
import { type CampaignAudience, campaigns, contacts } from "../schema";
import { containsPattern } from "./contacts";

export type CampaignRow = typeof campaigns.$inferSelect;

/** SQL: the contact (or one of its conversations) carries one of these labels (ids or names). */
export function hasAnyLabelSql(labels: string[]): SQL {
  const list = JSON.stringify(labels);
  return sql`(exists (select 1 from contact_labels xl join labels l on l.id = xl.label_id
      where xl.contact_id = ${contacts.id} and (l.id in (select value from json_each(${list})) or l.name in (select value from json_each(${list}))))
    or exists (select 1 from conversations xc join conversation_labels cl on cl.conversation_id = xc.id join labels l on l.id = cl.label_id
      where xc.contact_id = ${contacts.id} and (l.id in (select value from json_each(${list})) or l.name in (select value from json_each(${list})))))`;
}

/** SQL: the contact's custom fields hold each of these values exactly. */
export function fieldsMatchSql(fields: Record<string, string>): SQL[] {
  return Object.entries(fields).map(
    ([key, value]) => sql`json_extract(${contacts.fields}, ${`$."${key.replace(/"/g, "")}"`}) = ${value}`,
  );
}

/** SQL: name, email or phone contains the text (a number in any format matches its E.164). */
export function contactSearchSql(q: string): SQL {
  const pattern = containsPattern(q);
  const phone = toE164(q);
  const digits = q.replace(/\D/g, "");
  const parts = [sql`${contacts.name} like ${pattern} escape '\\'`, sql`${contacts.email} like ${pattern} escape '\\'`];
  if (phone) parts.push(sql`${contacts.phone} = ${phone}`);
  if (digits.length >= 3) parts.push(sql`${contacts.phone} like ${`%${digits}%`}`);
  return sql`(${sql.join(parts, sql` or `)})`;
}

/** The audience's condition: (any label, or listed) and the filter. */
export function audienceSql(workspaceId: string, audience: CampaignAudience): SQL {
  // Campaigns text: contacts known only by email (phone '') are not in the audience.
  const conditions: SQL[] = [
    eq(contacts.workspaceId, workspaceId),
    isNull(contacts.mergedInto),
    sql`${contacts.phone} <> ''`,
  ];
  const picks: SQL[] = [];
  if (audience.labels?.length) picks.push(hasAnyLabelSql(audience.labels));
  if (audience.contactIds?.length) {
    picks.push(sql`${contacts.id} in (select value from json_each(${JSON.stringify(audience.contactIds)}))`);
  }
  if (picks.length > 0) conditions.push(sql`(${sql.join(picks, sql` or `)})`);
  if (audience.filter?.q) conditions.push(contactSearchSql(audience.filter.q));
  if (audience.filter?.fields) conditions.push(...fieldsMatchSql(audience.filter.fields));
  return and(...conditions) ?? sql`1`;
}

export async function countAudience(db: Db, workspaceId: string, audience: CampaignAudience): Promise<number> {
  const row = await db
    .select({ n: sql<number>`count(*)` })
    .from(contacts)
    .where(audienceSql(workspaceId, audience))
    .get();
  return row?.n ?? 0;
}

/** A recipient as the fan-out needs it: the contact, whether its number opted out, and its usual sender. */
export interface AudienceMember {
  id: string;
  name: string | null;
  phone: string;
  email: string | null;
  fields: Record<string, string>;
  timezone: string | null;
  suppressed: boolean;
  /** The campaign number this contact's latest thread uses, if any (they keep hearing from it). */
  usualSender: string | null;
  lastInboundAt: number | null;
}

/** The next `limit` audience members after `cursor` (contact-id order). */
export async function audienceChunk(
  db: Db,
  workspaceId: string,
  audience: CampaignAudience,
  cursor: string | null,
  limit: number,
  senders: string[],
): Promise<AudienceMember[]> {
  const list = JSON.stringify(senders);
  const rows = await db
    .select({
      id: contacts.id,
      name: contacts.name,
      phone: contacts.phone,
      email: contacts.email,
      fields: contacts.fields,
      timezone: contacts.timezone,
      // Written out qualified: drizzle drops the table name of columns in a one-table select's fields,
      // and inside these subqueries a bare name would mean the subquery's own column.
      suppressed: sql<number>`exists (select 1 from suppressions s where s.workspace_id = contacts.workspace_id and s.phone = contacts.phone)`,
      usualSender: sql<string | null>`(select xc.from_number from conversations xc
        where xc.workspace_id = contacts.workspace_id and xc.contact_id = contacts.id
          and xc.from_number in (select value from json_each(${list}))
        order by xc.last_message_at desc limit 1)`,
      lastInboundAt: sql<number | null>`(select max(xc.last_inbound_at) from conversations xc
        where xc.workspace_id = contacts.workspace_id and xc.contact_id = contacts.id)`,
    })
    .from(contacts)
    .where(and(audienceSql(workspaceId, audience), cursor ? sql`${contacts.id} > ${cursor}` : undefined))
    .orderBy(contacts.id)
    .limit(limit);
  return rows.map((r) => ({ ...r, suppressed: Boolean(r.suppressed), fields: r.fields ?? {} }));
}

export async function getCampaign(db: Db, workspaceId: string, id: string) {
  return db.query.campaigns.findFirst({ where: and(eq(campaigns.workspaceId, workspaceId), eq(campaigns.id, id)) });
}

export async function listCampaigns(db: Db, workspaceId: string, limit: number) {
  return db
    .select()
    .from(campaigns)
    .where(eq(campaigns.workspaceId, workspaceId))
    .orderBy(desc(campaigns.createdAt), desc(campaigns.id))
    .limit(limit);
}

export interface CampaignCountRow {
  recipients: number;
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  skippedOptOut: number;
  skippedQuietHours: number;
  replied: number;
  optedOut: number;
  canceled: number;
}

/**
 * A campaign's counts in one statement over its recipients and their messages (a reply is an inbound
 * text in the recipient's thread after the campaign's message; an opt-out is the number's suppression
 * after the campaign started).
 */
export async function campaignCounts(d1: D1Database, campaignId: string): Promise<CampaignCountRow> {
  const row = await d1
    .prepare(
      `SELECT c.archived_counts AS frozen, count(*) AS recipients,
         coalesce(sum(r.outcome = 'skipped_opt_out'), 0) AS skippedOptOut,
         coalesce(sum(m.status IN ('pending', 'scheduled')), 0) AS queued,
         coalesce(sum(m.status = 'scheduled' AND m.deferred_reason = 'quiet_hours'), 0) AS skippedQuietHours,
         coalesce(sum(m.status IN ('queued', 'sending', 'sent', 'delivery_unknown', 'delivered', 'undelivered', 'read')), 0) AS sent,
         coalesce(sum(m.status IN ('delivered', 'read')), 0) AS delivered,
         coalesce(sum(m.status IN ('failed', 'undelivered')), 0) AS failed,
         coalesce(sum(m.status = 'canceled'), 0) AS canceled,
         coalesce(sum(m.id IS NOT NULL AND EXISTS (SELECT 1 FROM messages i
           WHERE i.conversation_id = m.conversation_id AND i.direction = 'inbound' AND i.created_at > m.created_at)), 0) AS replied,
         coalesce(sum(r.outcome = 'message' AND EXISTS (SELECT 1 FROM suppressions s
           WHERE s.workspace_id = r.workspace_id AND s.phone = r.phone AND s.created_at >= c.started_at)), 0) AS optedOut
       FROM campaign_recipients r
         JOIN campaigns c ON c.id = r.campaign_id
         LEFT JOIN messages m ON m.id = r.message_id
       WHERE r.campaign_id = ?`,
    )
    .bind(campaignId)
    .first<CampaignCountRow & { frozen: string | null }>();
  // Once its messages started moving to the archive, the counts frozen then are the campaign's counts.
  if (row?.frozen) return { ...emptyCounts(), ...(JSON.parse(row.frozen) as Partial<CampaignCountRow>) };
  if (!row) return emptyCounts();
  const { frozen: _frozen, ...counts } = row;
  return counts;
}

/** A campaign's counts before anything happened (a draft). */
export function emptyCounts(): CampaignCountRow {
  return {
    recipients: 0,
    queued: 0,
    sent: 0,
    delivered: 0,
    failed: 0,
    skippedOptOut: 0,
    skippedQuietHours: 0,
    replied: 0,
    optedOut: 0,
    canceled: 0,
  };
}

/** A campaign's messages still waiting to go (pending, or held for quiet hours), a page at a time. */
export async function waitingCampaignMessages(d1: D1Database, campaignId: string, limit: number) {
  const { results } = await d1
    .prepare(
      `SELECT id, conversation_id AS conversationId, workspace_id AS workspaceId, from_number AS fromNumber, status
       FROM messages WHERE campaign_id = ?1 AND status IN ('pending', 'scheduled') LIMIT ?2`,
    )
    .bind(campaignId, limit)
    .all<{ id: string; conversationId: string; workspaceId: string; fromNumber: string; status: string }>();
  return results;
}

/** How many of a campaign's messages wait to be handed to Twilio (the fan-out keeps this bounded). */
export async function campaignBacklog(
  d1: D1Database,
  campaignId: string,
): Promise<{ pending: number; waiting: number }> {
  const row = await d1
    .prepare(
      `SELECT coalesce(sum(status = 'pending'), 0) AS pending, count(*) AS waiting FROM messages
       WHERE campaign_id = ? AND status IN ('pending', 'scheduled')`,
    )
    .bind(campaignId)
    .first<{ pending: number; waiting: number }>();
  return row ?? { pending: 0, waiting: 0 };
}

/**
 * Freezes a finished campaign's counts before its messages are archived (they leave D1, and the counts
 * are computed from them); a no-op once frozen.
 */
export async function freezeCampaignCounts(d1: D1Database, campaignId: string) {
  const counts = await campaignCounts(d1, campaignId);
  await d1
    .prepare("UPDATE campaigns SET archived_counts = ?2 WHERE id = ?1 AND archived_counts IS NULL")
    .bind(campaignId, JSON.stringify(counts))
    .run();
}
