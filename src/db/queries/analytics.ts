/**
 * Analytics: the source rows of one workspace-hour (messages, first responses, resolutions, errors),
 * the rollup writes that replace that hour, and the reads a report aggregates.
 */
import { and, eq, gte, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../client";
import { analyticsDaily, analyticsErrors, analyticsHourly } from "../schema";

/** Buckets of the response and resolution histograms (src/messaging/analytics.ts BUCKETS_MS, plus "longer"). */
export const HIST_LENGTH = 10;

export interface HourSource {
  volumes: {
    inbox: string;
    agent: string;
    channel: string;
    inbound: number;
    outbound: number;
    delivered: number;
    failed: number;
    segments: number;
  }[];
  errors: { inbox: string; code: number; n: number }[];
  firstResponses: { inbox: string; channel: string; agent: string; waitMs: number }[];
  resolutions: { inbox: string; agent: string; channel: string; durationMs: number }[];
}

/** Everything one hour of a workspace adds up to, in one round trip (four reads). */
export async function hourSource(d1: D1Database, workspaceId: string, from: number, to: number): Promise<HourSource> {
  const [volumes, errors, firsts, resolutions] = await d1.batch<Record<string, unknown>>([
    d1
      .prepare(
        `SELECT CASE direction WHEN 'outbound' THEN from_number ELSE to_number END AS inbox,
           CASE WHEN direction = 'outbound' AND sent_by_type = 'user' THEN coalesce(created_by, '') ELSE '' END AS agent,
           CASE channel WHEN 'mms' THEN 'sms' ELSE channel END AS channel,
           sum(direction = 'inbound') AS inbound, sum(direction = 'outbound') AS outbound,
           sum(direction = 'outbound' AND status IN ('delivered', 'read')) AS delivered,
           sum(direction = 'outbound' AND status IN ('failed', 'undelivered')) AS failed,
           sum(CASE WHEN direction = 'outbound' THEN segments ELSE 0 END) AS segments
         FROM messages WHERE workspace_id = ?1 AND created_at >= ?2 AND created_at < ?3
         GROUP BY 1, 2, 3`,
      )
      .bind(workspaceId, from, to),
    d1
      .prepare(
        `SELECT from_number AS inbox, error_code AS code, count(*) AS n FROM messages
         WHERE workspace_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND direction = 'outbound'
           AND status IN ('failed', 'undelivered') AND error_code IS NOT NULL
         GROUP BY 1, 2`,
      )
      .bind(workspaceId, from, to),
    // A customer's message that starts a wait (the one before it was ours, or none), and the first
    // reply a person sent after it.
    d1
      .prepare(
        `SELECT i.to_number AS inbox, CASE i.channel WHEN 'mms' THEN 'sms' ELSE i.channel END AS channel, i.created_at AS asked,
           (SELECT o.created_at || '|' || coalesce(o.created_by, '') FROM messages o
             WHERE o.conversation_id = i.conversation_id AND o.seq > i.seq AND o.direction = 'outbound' AND o.sent_by_type = 'user'
             ORDER BY o.seq LIMIT 1) AS answer
         FROM messages i
         WHERE i.workspace_id = ?1 AND i.created_at >= ?2 AND i.created_at < ?3 AND i.direction = 'inbound'
           AND coalesce((SELECT p.direction FROM messages p WHERE p.conversation_id = i.conversation_id AND p.seq < i.seq
             ORDER BY p.seq DESC LIMIT 1), 'outbound') = 'outbound'`,
      )
      .bind(workspaceId, from, to),
    d1
      .prepare(
        `SELECT r.inbox, coalesce(r.agent_id, '') AS agent, coalesce(c.channel, 'sms') AS channel,
           r.resolved_at - r.opened_at AS durationMs
         FROM conversation_resolutions r LEFT JOIN conversations c ON c.id = r.conversation_id
         WHERE r.workspace_id = ?1 AND r.resolved_at >= ?2 AND r.resolved_at < ?3`,
      )
      .bind(workspaceId, from, to),
  ]);
  const rows = (r: D1Result<Record<string, unknown>> | undefined) => r?.results ?? [];
  return {
    volumes: rows(volumes).map((r) => ({
      inbox: String(r.inbox),
      agent: String(r.agent),
      channel: String(r.channel),
      inbound: Number(r.inbound),
      outbound: Number(r.outbound),
      delivered: Number(r.delivered),
      failed: Number(r.failed),
      segments: Number(r.segments),
    })),
    errors: rows(errors).map((r) => ({ inbox: String(r.inbox), code: Number(r.code), n: Number(r.n) })),
    firstResponses: rows(firsts).flatMap((r) => {
      if (typeof r.answer !== "string") return [];
      const [at, agent] = r.answer.split("|");
      return [
        {
          inbox: String(r.inbox),
          channel: String(r.channel),
          agent: agent ?? "",
          waitMs: Number(at) - Number(r.asked),
        },
      ];
    }),
    resolutions: rows(resolutions).map((r) => ({
      inbox: String(r.inbox),
      agent: String(r.agent),
      channel: String(r.channel),
      durationMs: Number(r.durationMs),
    })),
  };
}

/** Replaces one workspace-hour's rollups (delete, then insert), all in one batch: a recompute is idempotent. */
export async function writeHour(
  db: Db,
  workspaceId: string,
  hour: number,
  rows: (typeof analyticsHourly.$inferInsert)[],
  errors: (typeof analyticsErrors.$inferInsert)[],
) {
  const statements = [
    db.delete(analyticsHourly).where(and(eq(analyticsHourly.workspaceId, workspaceId), eq(analyticsHourly.hour, hour))),
    db.delete(analyticsErrors).where(and(eq(analyticsErrors.workspaceId, workspaceId), eq(analyticsErrors.hour, hour))),
    // D1 binds at most 100 parameters per statement: 7 rollup rows (14 columns) or 20 error rows at a time.
    ...chunks(rows, 7).map((part) => db.insert(analyticsHourly).values(part)),
    ...chunks(errors, 20).map((part) => db.insert(analyticsErrors).values(part)),
    // The hour's day, summed again from its hours (reports over days read these).
    db
      .delete(analyticsDaily)
      .where(and(eq(analyticsDaily.workspaceId, workspaceId), eq(analyticsDaily.day, dayOf(hour)))),
    db.insert(analyticsDaily).select(
      db
        .select({
          workspaceId: analyticsHourly.workspaceId,
          day: sql<number>`${dayOf(hour)}`.as("day"),
          inbox: analyticsHourly.inbox,
          agentId: analyticsHourly.agentId,
          channel: analyticsHourly.channel,
          inbound: sql<number>`sum(${analyticsHourly.inbound})`.as("inbound"),
          outbound: sql<number>`sum(${analyticsHourly.outbound})`.as("outbound"),
          delivered: sql<number>`sum(${analyticsHourly.delivered})`.as("delivered"),
          failed: sql<number>`sum(${analyticsHourly.failed})`.as("failed"),
          segments: sql<number>`sum(${analyticsHourly.segments})`.as("segments"),
          firstResponses: sql<number>`sum(${analyticsHourly.firstResponses})`.as("first_responses"),
          firstResponseHist: sql<number[]>`${histSum("first_response_hist")}`.as("first_response_hist"),
          resolutions: sql<number>`sum(${analyticsHourly.resolutions})`.as("resolutions"),
          resolutionHist: sql<number[]>`${histSum("resolution_hist")}`.as("resolution_hist"),
        })
        .from(analyticsHourly)
        .where(
          and(
            eq(analyticsHourly.workspaceId, workspaceId),
            gte(analyticsHourly.hour, dayOf(hour)),
            lt(analyticsHourly.hour, dayOf(hour) + DAY_MS),
          ),
        )
        .groupBy(analyticsHourly.inbox, analyticsHourly.agentId, analyticsHourly.channel),
    ),
  ];
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

const DAY_MS = 24 * 60 * 60 * 1000;

function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** SQL: the element-wise sum of a JSON histogram column over a group, as a JSON array. */
function histSum(column: string) {
  return sql.raw(
    `json_array(${Array.from({ length: HIST_LENGTH }, (_, i) => `coalesce(sum(json_extract(${column}, '$[${i}]')), 0)`).join(", ")})`,
  );
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The workspaces with messages or resolutions since `from` (the cron recomputes only those). */
export async function activeWorkspaces(d1: D1Database, from: number): Promise<string[]> {
  const result = await d1
    .prepare(
      `SELECT id FROM workspaces w WHERE EXISTS (SELECT 1 FROM messages m WHERE m.workspace_id = w.id AND m.created_at >= ?1)
         OR EXISTS (SELECT 1 FROM conversation_resolutions r WHERE r.workspace_id = w.id AND r.resolved_at >= ?1)`,
    )
    .bind(from)
    .all<{ id: string }>();
  return result.results.map((r) => r.id);
}

/** A report's rows: the rollups and errors of a range, filtered by inbox and agent; opt-outs and campaigns. */
export async function reportRows(
  db: Db,
  d1: D1Database,
  workspaceId: string,
  range: { from: number; to: number; step: number; inbox?: string; agent?: string },
) {
  const errorsWhere = and(
    eq(analyticsErrors.workspaceId, workspaceId),
    gte(analyticsErrors.hour, range.from),
    lt(analyticsErrors.hour, range.to),
    range.inbox ? eq(analyticsErrors.inbox, range.inbox) : undefined,
  );
  // Whole days come from the day rows, the partial days at either end from the hour rows; both summed in
  // SQLite per period, agent and channel, so a 90-day report reads ~90 × (inboxes × agents) rows.
  const dFrom = Math.ceil(range.from / DAY_MS) * DAY_MS;
  const dTo = Math.max(dFrom, dayOf(range.to));
  const byDay = range.step >= DAY_MS && dTo > dFrom;
  const hourEdges = byDay
    ? or(
        and(gte(analyticsHourly.hour, range.from), lt(analyticsHourly.hour, dFrom)),
        and(gte(analyticsHourly.hour, dTo), lt(analyticsHourly.hour, range.to)),
      )
    : and(gte(analyticsHourly.hour, range.from), lt(analyticsHourly.hour, range.to));
  const hourlyWhere = and(
    eq(analyticsHourly.workspaceId, workspaceId),
    hourEdges,
    range.inbox ? eq(analyticsHourly.inbox, range.inbox) : undefined,
    range.agent ? eq(analyticsHourly.agentId, range.agent) : undefined,
  );
  const dailyWhere = and(
    eq(analyticsDaily.workspaceId, workspaceId),
    gte(analyticsDaily.day, dFrom),
    lt(analyticsDaily.day, byDay ? dTo : dFrom),
    range.inbox ? eq(analyticsDaily.inbox, range.inbox) : undefined,
    range.agent ? eq(analyticsDaily.agentId, range.agent) : undefined,
  );
  const grouped = (table: typeof analyticsHourly | typeof analyticsDaily, time: SQL, where: SQL | undefined) =>
    db
      .select({
        hour: sql<number>`(${time} / ${range.step}) * ${range.step}`.as("period"),
        agentId: table.agentId,
        channel: table.channel,
        inbound: sql<number>`sum(${table.inbound})`,
        outbound: sql<number>`sum(${table.outbound})`,
        delivered: sql<number>`sum(${table.delivered})`,
        failed: sql<number>`sum(${table.failed})`,
        segments: sql<number>`sum(${table.segments})`,
        firstHist: sql<string>`${histSum("first_response_hist")}`,
        resolutionHist: sql<string>`${histSum("resolution_hist")}`,
      })
      .from(table)
      .where(where)
      .groupBy(sql`period`, table.agentId, table.channel);
  const [[fromHours, fromDays, errors], row] = await Promise.all([
    db.batch([
      grouped(analyticsHourly, sql`${analyticsHourly.hour}`, hourlyWhere),
      grouped(analyticsDaily, sql`${analyticsDaily.day}`, dailyWhere),
      db
        .select({ code: analyticsErrors.errorCode, count: sql<number>`sum(${analyticsErrors.count})` })
        .from(analyticsErrors)
        .where(errorsWhere)
        .groupBy(analyticsErrors.errorCode),
    ]),
    d1
      .prepare(
        `SELECT
           (SELECT count(*) FROM suppressions s WHERE s.workspace_id = ?1 AND s.created_at >= ?2 AND s.created_at < ?3) AS optOuts,
           (SELECT json_group_array(json_object('id', c.id, 'name', c.name, 'status', c.status,
               'sent', (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id AND m.direction = 'outbound' AND m.status IN ('sent', 'delivered', 'read', 'delivery_unknown')),
               'delivered', (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id AND m.direction = 'outbound' AND m.status IN ('delivered', 'read')),
               'replied', (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id AND m.direction = 'inbound')))
             FROM campaigns c WHERE c.workspace_id = ?1 AND c.started_at >= ?2 AND c.started_at < ?3) AS campaigns,
           (SELECT json_group_object(u.id, u.name) FROM users u JOIN memberships mb ON mb.user_id = u.id WHERE mb.workspace_id = ?1) AS names`,
      )
      .bind(workspaceId, range.from, range.to)
      .first<{ optOuts: number; campaigns: string | null; names: string | null }>(),
  ]);
  const rollups = [...fromHours, ...fromDays].map((g) => ({
    hour: Number(g.hour),
    agentId: g.agentId,
    channel: g.channel,
    inbound: Number(g.inbound),
    outbound: Number(g.outbound),
    delivered: Number(g.delivered),
    failed: Number(g.failed),
    segments: Number(g.segments),
    firstResponseHist: (JSON.parse(g.firstHist) as (number | null)[]).map((n) => n ?? 0),
    resolutionHist: (JSON.parse(g.resolutionHist) as (number | null)[]).map((n) => n ?? 0),
  }));
  return {
    rollups,
    errors,
    optOuts: Number(row?.optOuts ?? 0),
    campaigns: JSON.parse(row?.campaigns ?? "[]") as {
      id: string;
      name: string;
      status: string;
      sent: number;
      delivered: number;
      replied: number;
    }[],
    names: JSON.parse(row?.names ?? "{}") as Record<string, string>,
  };
}
