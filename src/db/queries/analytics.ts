/**
 * Analytics: the source rows of one workspace-hour (messages, first responses, resolutions, errors),
 * the rollup writes that replace that hour, and the reads a report aggregates.
 */

/** Buckets of the response and resolution histograms (src/messaging/analytics.ts BUCKETS_MS, plus "longer"). */
export const HIST_LENGTH = 10;

/** The volume figures a rollup row sums (and a report adds up). */
export interface Volumes {
  inbound: number;
  outbound: number;
  delivered: number;
  failed: number;
  segments: number;
}

export interface HourSource {
  volumes: (Volumes & { inbox: string; agent: string; channel: string })[];
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

/** One rollup row of a workspace-hour, its histograms as arrays of HIST_LENGTH buckets. */
export interface RollupRow extends Volumes {
  inbox: string;
  agentId: string;
  channel: string;
  firstResponses: number;
  firstResponseHist: number[];
  resolutions: number;
  resolutionHist: number[];
}

const BUCKETS = Array.from({ length: HIST_LENGTH }, (_, i) => i);
const FIGURE_COLUMNS = [
  "inbound",
  "outbound",
  "delivered",
  "failed",
  "segments",
  "first_responses",
  "resolutions",
  ...BUCKETS.map((i) => `fr_${i}`),
  ...BUCKETS.map((i) => `rs_${i}`),
];
const KEY_COLUMNS = ["inbox", "agent_id", "channel"];

/**
 * Replaces one workspace-hour's rollups and errors and rewrites its day from its hours, in one batch
 * (one round trip; the rows go in as one JSON parameter each), so a recompute is idempotent.
 */
export async function writeHour(
  d1: D1Database,
  workspaceId: string,
  hour: number,
  rows: RollupRow[],
  errors: { inbox: string; code: number; n: number }[],
) {
  const values = rows.map((r) => [
    r.inbox,
    r.agentId,
    r.channel,
    r.inbound,
    r.outbound,
    r.delivered,
    r.failed,
    r.segments,
    r.firstResponses,
    r.resolutions,
    ...BUCKETS.map((i) => r.firstResponseHist[i] ?? 0),
    ...BUCKETS.map((i) => r.resolutionHist[i] ?? 0),
  ]);
  const columns = [...KEY_COLUMNS, ...FIGURE_COLUMNS];
  const day = dayOf(hour);
  await d1.batch([
    d1.prepare("DELETE FROM analytics_hourly WHERE workspace_id = ?1 AND hour = ?2").bind(workspaceId, hour),
    d1.prepare("DELETE FROM analytics_errors WHERE workspace_id = ?1 AND hour = ?2").bind(workspaceId, hour),
    d1
      .prepare(
        `INSERT INTO analytics_hourly (workspace_id, hour, ${columns.join(", ")})
         SELECT ?1, ?2, ${columns.map((_, i) => `json_extract(j.value, '$[${i}]')`).join(", ")} FROM json_each(?3) j`,
      )
      .bind(workspaceId, hour, JSON.stringify(values)),
    d1
      .prepare(
        `INSERT INTO analytics_errors (workspace_id, hour, inbox, error_code, count)
         SELECT ?1, ?2, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]')
         FROM json_each(?3) j`,
      )
      .bind(workspaceId, hour, JSON.stringify(errors.map((e) => [e.inbox, e.code, e.n]))),
    // The hour's day, summed again from its hours (reports over days read these).
    d1.prepare("DELETE FROM analytics_daily WHERE workspace_id = ?1 AND day = ?2").bind(workspaceId, day),
    d1
      .prepare(
        `INSERT INTO analytics_daily (workspace_id, day, ${columns.join(", ")})
         SELECT workspace_id, ?2, ${KEY_COLUMNS.join(", ")}, ${FIGURE_COLUMNS.map((c) => `sum(${c})`).join(", ")}
         FROM analytics_hourly WHERE workspace_id = ?1 AND hour >= ?2 AND hour < ?3
         GROUP BY ${KEY_COLUMNS.join(", ")}`,
      )
      .bind(workspaceId, day, day + DAY_MS),
  ]);
}

const DAY_MS = 24 * 60 * 60 * 1000;

function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** SQL: a histogram's bucket columns summed over a group, as a JSON array. */
function histSum(prefix: "fr" | "rs"): string {
  return `json_array(${BUCKETS.map((i) => `sum(${prefix}_${i})`).join(", ")})`;
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

/**
 * A report's rows, in one round trip: the series summed per period, the figures and histograms summed per
 * agent and channel (totals, channels and timings add those up), the errors per code, and opt-outs,
 * campaigns and agent names. Whole days come from the day rows, the partial days at either end from the
 * hour rows; SQLite does the summing, so a 90-day report returns ~100 rows however many inboxes and
 * agents the rollups hold.
 */
export async function reportRows(
  d1: D1Database,
  workspaceId: string,
  range: { from: number; to: number; step: number; inbox?: string; agent?: string },
) {
  const dFrom = Math.ceil(range.from / DAY_MS) * DAY_MS;
  const dTo = Math.max(dFrom, dayOf(range.to));
  const byDay = range.step >= DAY_MS && dTo > dFrom;
  // Hours [?2, ?3) and [?4, ?5), days [?6, ?7).
  const bounds = byDay ? [range.from, dFrom, dTo, range.to, dFrom, dTo] : [range.from, range.to, 0, 0, dFrom, dFrom];
  const filter = "(?8 IS NULL OR inbox = ?8) AND (?9 IS NULL OR agent_id = ?9)";
  const figures = `agent_id, channel, ${FIGURE_COLUMNS.join(", ")}`;
  const rollups = `(SELECT hour AS t, ${figures} FROM analytics_hourly
      WHERE workspace_id = ?1 AND ((hour >= ?2 AND hour < ?3) OR (hour >= ?4 AND hour < ?5)) AND ${filter}
    UNION ALL SELECT day AS t, ${figures} FROM analytics_daily
      WHERE workspace_id = ?1 AND day >= ?6 AND day < ?7 AND ${filter})`;
  const sums =
    "sum(inbound) AS inbound, sum(outbound) AS outbound, sum(delivered) AS delivered, sum(failed) AS failed, sum(segments) AS segments";
  const params = [workspaceId, ...bounds, range.inbox ?? null, range.agent ?? null];
  const [series, groups, errors, misc] = await d1.batch<Record<string, unknown>>([
    d1.prepare(`SELECT (t / ?10) * ?10 AS period, ${sums} FROM ${rollups} GROUP BY period`).bind(...params, range.step),
    d1
      .prepare(
        `SELECT agent_id AS agentId, channel, ${sums}, ${histSum("fr")} AS firstHist,
           ${histSum("rs")} AS resolutionHist
         FROM ${rollups} GROUP BY agent_id, channel`,
      )
      .bind(...params),
    d1
      .prepare(
        `SELECT error_code AS code, sum(count) AS count FROM analytics_errors
         WHERE workspace_id = ?1 AND hour >= ?2 AND hour < ?3 AND (?4 IS NULL OR inbox = ?4) GROUP BY error_code`,
      )
      .bind(workspaceId, range.from, range.to, range.inbox ?? null),
    d1
      .prepare(
        `SELECT
           (SELECT count(*) FROM suppressions s WHERE s.workspace_id = ?1 AND s.created_at >= ?2 AND s.created_at < ?3) AS optOuts,
           (SELECT json_group_array(json_object('id', c.id, 'name', c.name, 'status', c.status,
               'sent', coalesce(json_extract(c.archived_counts, '$.sent'), (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id AND m.direction = 'outbound' AND m.status IN ('sent', 'delivered', 'read', 'delivery_unknown'))),
               'delivered', coalesce(json_extract(c.archived_counts, '$.delivered'), (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id AND m.direction = 'outbound' AND m.status IN ('delivered', 'read'))),
               'replied', coalesce(json_extract(c.archived_counts, '$.replied'), (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id AND m.direction = 'inbound'))))
             FROM campaigns c WHERE c.workspace_id = ?1 AND c.started_at >= ?2 AND c.started_at < ?3) AS campaigns,
           (SELECT json_group_object(u.id, u.name) FROM users u JOIN memberships mb ON mb.user_id = u.id WHERE mb.workspace_id = ?1) AS names`,
      )
      .bind(workspaceId, range.from, range.to),
  ]);
  const rows = (r: D1Result<Record<string, unknown>> | undefined) => r?.results ?? [];
  const num = (v: unknown) => Number(v ?? 0);
  const figuresOf = (r: Record<string, unknown>) => ({
    inbound: num(r.inbound),
    outbound: num(r.outbound),
    delivered: num(r.delivered),
    failed: num(r.failed),
    segments: num(r.segments),
  });
  const hist = (v: unknown) => (JSON.parse(String(v ?? "[]")) as (number | null)[]).map((n) => n ?? 0);
  const row = rows(misc)[0] ?? {};
  return {
    series: rows(series).map((r) => ({ period: num(r.period), ...figuresOf(r) })),
    groups: rows(groups).map((r) => ({
      agentId: String(r.agentId),
      channel: String(r.channel),
      ...figuresOf(r),
      firstResponseHist: hist(r.firstHist),
      resolutionHist: hist(r.resolutionHist),
    })),
    errors: rows(errors).map((r) => ({ code: num(r.code), count: num(r.count) })),
    optOuts: num(row.optOuts),
    campaigns: JSON.parse(String(row.campaigns ?? "[]")) as {
      id: string;
      name: string;
      status: string;
      sent: number;
      delivered: number;
      replied: number;
    }[],
    names: JSON.parse(String(row.names ?? "{}")) as Record<string, string>,
  };
}
