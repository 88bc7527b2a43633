/**
 * Analytics on hourly rollups. Each workspace-hour is rebuilt from its source rows (messages,
 * resolutions) and replaced whole, so a recompute is idempotent and any range can be rebuilt; the
 * 15-minute cron rebuilds the last 6 hours (statuses settle after the hour a message was sent in), and
 * owners/admins can rebuild a range. Reports read rollups only: a 90-day dashboard reads ~2,160 hours
 * of rollup rows, not the messages.
 *
 * First-response and resolution times are histograms (upper bounds below) so they can be added across
 * hours, inboxes and agents; medians and p90s are read off the merged histogram (the bucket's upper bound).
 */
import { describeProviderError } from "../channels/describe";
import { activeWorkspaces, hourSource, type RollupRow, reportRows, writeHour } from "../db/queries/analytics";
import { log } from "../log";

const MIN = 60_000;
export const HOUR_MS = 60 * MIN;
/** Histogram bucket upper bounds (ms): 1, 5, 15, 30 min, 1, 2, 4, 8, 24 h, then anything longer. */
export const BUCKETS_MS = [
  MIN,
  5 * MIN,
  15 * MIN,
  30 * MIN,
  HOUR_MS,
  2 * HOUR_MS,
  4 * HOUR_MS,
  8 * HOUR_MS,
  24 * HOUR_MS,
];
const RECENT_HOURS = 6;
export const MAX_RECOMPUTE_HOURS = 31 * 24;

export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

function emptyHist(): number[] {
  return new Array(BUCKETS_MS.length + 1).fill(0);
}

function bucketOf(ms: number): number {
  const i = BUCKETS_MS.findIndex((b) => ms <= b);
  return i < 0 ? BUCKETS_MS.length : i;
}

function addHist(into: number[], from: number[]) {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
}

/** The value at quantile q (0..1) of a histogram: the upper bound of the bucket it falls in (null when empty). */
export function quantile(hist: number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i] ?? 0;
    if (seen >= q * total) return BUCKETS_MS[i] ?? Number.POSITIVE_INFINITY;
  }
  return Number.POSITIVE_INFINITY;
}

/** Rebuilds one workspace-hour from its source rows (two round trips: read, replace). */
export async function recomputeHour(d1: D1Database, workspaceId: string, hour: number): Promise<void> {
  const source = await hourSource(d1, workspaceId, hour, hour + HOUR_MS);
  const rows = new Map<string, RollupRow>();
  const row = (inbox: string, agentId: string, channel: string) => {
    const key = `${inbox}|${agentId}|${channel}`;
    let r = rows.get(key);
    if (!r) {
      r = {
        inbox,
        agentId,
        channel,
        inbound: 0,
        outbound: 0,
        delivered: 0,
        failed: 0,
        segments: 0,
        firstResponses: 0,
        firstResponseHist: emptyHist(),
        resolutions: 0,
        resolutionHist: emptyHist(),
      };
      rows.set(key, r);
    }
    return r;
  };
  for (const v of source.volumes) {
    const r = row(v.inbox, v.agent, v.channel);
    r.inbound += v.inbound;
    r.outbound += v.outbound;
    r.delivered += v.delivered;
    r.failed += v.failed;
    r.segments += v.segments;
  }
  for (const f of source.firstResponses) {
    const r = row(f.inbox, f.agent, f.channel);
    r.firstResponses += 1;
    const i = bucketOf(Math.max(0, f.waitMs));
    r.firstResponseHist[i] = (r.firstResponseHist[i] ?? 0) + 1;
  }
  for (const res of source.resolutions) {
    const r = row(res.inbox, res.agent, res.channel);
    r.resolutions += 1;
    const i = bucketOf(Math.max(0, res.durationMs));
    r.resolutionHist[i] = (r.resolutionHist[i] ?? 0) + 1;
  }
  await writeHour(d1, workspaceId, hour, [...rows.values()], source.errors);
}

/** Rebuilds a range of hours for one workspace. */
export async function recomputeRange(env: Env, workspaceId: string, from: number, to: number): Promise<number> {
  let hours = 0;
  for (let h = floorHour(from); h < to && hours < MAX_RECOMPUTE_HOURS; h += HOUR_MS) {
    await recomputeHour(env.DB, workspaceId, h);
    hours++;
  }
  return hours;
}

/** The cron's part: the last 6 hours of every workspace that had messages or resolutions in them. */
export async function recomputeRecent(env: Env, now: number): Promise<{ workspaces: number; hours: number }> {
  const from = floorHour(now) - (RECENT_HOURS - 1) * HOUR_MS;
  const ids = await activeWorkspaces(env.DB, from);
  let hours = 0;
  for (const id of ids) {
    try {
      hours += await recomputeRange(env, id, from, now + 1);
    } catch (err) {
      log("error", "analytics rollup failed for a workspace", { workspaceId: id, error: String(err) });
    }
  }
  return { workspaces: ids.length, hours };
}

export interface ReportQuery {
  from: number;
  to: number;
  granularity: "hour" | "day";
  inbox?: string;
  agent?: string;
}

function timing(hist: number[]) {
  const count = hist.reduce((a, b) => a + b, 0);
  const fin = (v: number | null) => (v === null || !Number.isFinite(v) ? null : v);
  return {
    count,
    medianMs: fin(quantile(hist, 0.5)),
    p90Ms: fin(quantile(hist, 0.9)),
    histogram: hist,
    bucketsMs: BUCKETS_MS,
  };
}

/** The dashboard's report: series, totals, channels, timings, failures in words, agents, opt-outs, campaigns. */
export async function buildReport(d1: D1Database, workspaceId: string, q: ReportQuery) {
  const step = q.granularity === "hour" ? HOUR_MS : 24 * HOUR_MS;
  const rows = await reportRows(d1, workspaceId, { ...q, step });
  const series = new Map<
    number,
    { t: number; inbound: number; outbound: number; delivered: number; failed: number; segments: number }
  >();
  for (let t = Math.floor(q.from / step) * step; t < q.to; t += step) {
    series.set(t, { t, inbound: 0, outbound: 0, delivered: 0, failed: 0, segments: 0 });
  }
  const figures = ["inbound", "outbound", "delivered", "failed", "segments"] as const;
  for (const r of rows.series) {
    const point = series.get(r.period);
    if (point) for (const k of figures) point[k] += r[k];
  }
  const totals = { inbound: 0, outbound: 0, delivered: 0, failed: 0, segments: 0 };
  const byChannel: Record<string, { inbound: number; outbound: number }> = {};
  const first = emptyHist();
  const resolution = emptyHist();
  const agents = new Map<string, { outbound: number; first: number[]; resolution: number[] }>();
  for (const r of rows.groups) {
    for (const k of figures) totals[k] += r[k];
    const ch = byChannel[r.channel] ?? { inbound: 0, outbound: 0 };
    ch.inbound += r.inbound;
    ch.outbound += r.outbound;
    byChannel[r.channel] = ch;
    addHist(first, r.firstResponseHist);
    addHist(resolution, r.resolutionHist);
    if (r.agentId) {
      const a = agents.get(r.agentId) ?? { outbound: 0, first: emptyHist(), resolution: emptyHist() };
      a.outbound += r.outbound;
      addHist(a.first, r.firstResponseHist);
      addHist(a.resolution, r.resolutionHist);
      agents.set(r.agentId, a);
    }
  }
  const decided = totals.delivered + totals.failed;
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    granularity: q.granularity,
    totals: {
      ...totals,
      deliveryRate: decided === 0 ? null : Math.round((totals.delivered / decided) * 1000) / 1000,
      optOuts: rows.optOuts,
    },
    byChannel,
    series: [...series.values()].map((p) => ({ ...p, t: new Date(p.t).toISOString() })),
    firstResponse: timing(first),
    resolution: timing(resolution),
    failures: rows.errors
      .map((e) => ({
        code: e.code,
        description: describeProviderError(e.code) ?? `Error ${e.code}`,
        count: Number(e.count),
      }))
      .sort((a, b) => b.count - a.count),
    agents: [...agents.entries()]
      .map(([agentId, a]) => ({
        agentId,
        name: rows.names[agentId] ?? null,
        outbound: a.outbound,
        firstResponse: timing(a.first),
        resolution: timing(a.resolution),
      }))
      .sort((x, y) => y.outbound - x.outbound),
    campaigns: rows.campaigns,
  };
}

/** The report's series as CSV (one row per hour or day). */
export function reportCsv(report: Awaited<ReturnType<typeof buildReport>>): string {
  const lines = ["period,inbound,outbound,delivered,failed,segments"];
  for (const p of report.series) lines.push([p.t, p.inbound, p.outbound, p.delivered, p.failed, p.segments].join(","));
  return `${lines.join("\n")}\n`;
}
