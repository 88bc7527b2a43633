/** Alerts: the conditions that open them (across workspaces, for the minute cron) and their rows. */
import { and, desc, eq } from "drizzle-orm";
import { type AlertKind, AUTO_DISABLED_REASON } from "../../shared/alerts";
import type { Db } from "../client";
import { alerts } from "../schema";

export interface AlertCondition {
  workspaceId: string;
  kind: AlertKind;
  subject: string;
  details: Record<string, unknown>;
}

const MIN = 60_000;

/**
 * Every condition that holds now, in one batch:
 * - failure_rate: over 5 % of the outbound messages that reached an outcome in the last 15 minutes
 *   failed or were undelivered (at least 20 of them);
 * - stuck_pending: messages pending for more than 10 minutes;
 * - dead_letters: messages that ran out of retries in the last hour;
 * - opt_out_spike: at least 5 opt-outs in the last hour and more than 3 × the hourly average of the last 7 days;
 * - carrier_filtered: a sender with a message filtered by the carrier (30007) in the last hour;
 * - webhook_disabled: an integration endpoint disabled after 24 hours of failures, until an admin enables
 *   or removes it.
 */
export async function currentConditions(d1: D1Database, now: number): Promise<AlertCondition[]> {
  const [failures, pending, dead, optOuts, filtered, disabled] = await d1.batch<Record<string, unknown>>([
    d1
      .prepare(
        `SELECT workspace_id AS workspaceId, count(*) AS total,
           sum(CASE WHEN status IN ('failed', 'undelivered') THEN 1 ELSE 0 END) AS failed
         FROM messages
         WHERE status IN ('delivered', 'read', 'failed', 'undelivered') AND updated_at > ?1 AND direction = 'outbound'
         GROUP BY workspace_id HAVING count(*) >= 20 AND failed * 100 > 5 * count(*)`,
      )
      .bind(now - 15 * MIN),
    d1
      .prepare(
        `SELECT workspace_id AS workspaceId, count(*) AS n, min(created_at) AS oldest
         FROM messages WHERE status = 'pending' AND updated_at < ?1 AND created_at < ?1 GROUP BY workspace_id`,
      )
      .bind(now - 10 * MIN),
    d1
      .prepare(
        `SELECT workspace_id AS workspaceId, count(*) AS n FROM audit_log
         WHERE action = 'message.dead_lettered' AND at > ?1 GROUP BY workspace_id`,
      )
      .bind(now - 60 * MIN),
    d1
      .prepare(
        `SELECT workspace_id AS workspaceId,
           sum(CASE WHEN created_at > ?1 THEN 1 ELSE 0 END) AS lastHour,
           count(*) AS week
         FROM suppressions WHERE created_at > ?2 GROUP BY workspace_id
         HAVING lastHour >= 5 AND lastHour * 168 > 3 * week`,
      )
      .bind(now - 60 * MIN, now - 7 * 24 * 60 * MIN),
    d1
      .prepare(
        `SELECT workspace_id AS workspaceId, from_number AS sender, count(*) AS n FROM messages
         WHERE error_code = 30007 AND status IN ('failed', 'undelivered') AND updated_at > ?1
         GROUP BY workspace_id, from_number`,
      )
      .bind(now - 60 * MIN),
    d1
      .prepare(
        `SELECT workspace_id AS workspaceId, id, url, disabled_reason AS reason FROM webhook_endpoints
         WHERE enabled = 0 AND disabled_reason LIKE ?1 || '%'`,
      )
      .bind(AUTO_DISABLED_REASON),
  ]);
  const rows = (r: D1Result<Record<string, unknown>> | undefined) => r?.results ?? [];
  const out: AlertCondition[] = [];
  for (const r of rows(failures)) {
    const total = Number(r.total);
    const failed = Number(r.failed);
    out.push({
      workspaceId: String(r.workspaceId),
      kind: "failure_rate",
      subject: "",
      details: { failed, total, percent: Math.round((failed * 1000) / total) / 10, windowMinutes: 15 },
    });
  }
  for (const r of rows(pending)) {
    out.push({
      workspaceId: String(r.workspaceId),
      kind: "stuck_pending",
      subject: "",
      details: { messages: Number(r.n), oldestMinutes: Math.round((now - Number(r.oldest)) / MIN) },
    });
  }
  for (const r of rows(dead)) {
    out.push({
      workspaceId: String(r.workspaceId),
      kind: "dead_letters",
      subject: "",
      details: { lastHour: Number(r.n) },
    });
  }
  for (const r of rows(optOuts)) {
    out.push({
      workspaceId: String(r.workspaceId),
      kind: "opt_out_spike",
      subject: "",
      details: { lastHour: Number(r.lastHour), hourlyAverage: Math.round((Number(r.week) / 168) * 10) / 10 },
    });
  }
  for (const r of rows(filtered)) {
    out.push({
      workspaceId: String(r.workspaceId),
      kind: "carrier_filtered",
      subject: String(r.sender),
      details: { sender: String(r.sender), filteredLastHour: Number(r.n), errorCode: 30007 },
    });
  }
  for (const r of rows(disabled)) out.push(webhookDisabled(String(r.workspaceId), r));
  return out;
}

/** The condition of an endpoint disabled after 24 hours of failures (the subject is the endpoint's id). */
export function webhookDisabled(
  workspaceId: string,
  endpoint: { id?: unknown; url?: unknown; reason?: unknown },
): AlertCondition {
  return {
    workspaceId,
    kind: "webhook_disabled",
    subject: String(endpoint.id),
    details: { endpointId: String(endpoint.id), url: String(endpoint.url), reason: String(endpoint.reason) },
  };
}

/** Opens one alert now (a no-op while the same one is open); the alert's row when this call opened it. */
export async function openAlert(d1: D1Database, condition: AlertCondition, now: number, id: string) {
  const row = await openStatement(d1, condition, now, id).first<Record<string, unknown>>();
  return row && Number(row.openedAt) === now ? row : null;
}

function openStatement(d1: D1Database, c: AlertCondition, now: number, id: string) {
  return d1
    .prepare(
      `INSERT INTO alerts (id, workspace_id, kind, subject, status, details, opened_at, last_seen_at)
       VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6, ?6)
       ON CONFLICT DO UPDATE SET last_seen_at = ?6, details = ?5
       RETURNING id, workspace_id AS workspaceId, kind, subject, details, opened_at AS openedAt`,
    )
    .bind(id, c.workspaceId, c.kind, c.subject, JSON.stringify(c.details), now);
}

/**
 * Opens the conditions not yet open (one open alert per workspace, kind and subject: the partial unique
 * index makes a repeat a no-op), refreshes the open ones still holding, and resolves the rest.
 * Returns the alerts it opened.
 */
export async function syncAlerts(d1: D1Database, conditions: AlertCondition[], now: number, newId: () => string) {
  const held = JSON.stringify(conditions.map((c) => [c.workspaceId, c.kind, c.subject]));
  const statements = [
    ...conditions.map((c) => openStatement(d1, c, now, newId())),
    d1
      .prepare(
        `UPDATE alerts SET status = 'resolved', resolved_at = ?1
         WHERE status = 'open' AND NOT EXISTS (
           SELECT 1 FROM json_each(?2) h
           WHERE json_extract(h.value, '$[0]') = alerts.workspace_id AND json_extract(h.value, '$[1]') = alerts.kind
             AND json_extract(h.value, '$[2]') = alerts.subject)
         RETURNING id, workspace_id AS workspaceId, kind, subject`,
      )
      .bind(now, held),
  ];
  const results = await d1.batch<Record<string, unknown>>(statements);
  const opened = results
    .slice(0, conditions.length)
    .flatMap((r) => r.results)
    .filter((r) => Number(r.openedAt) === now);
  const resolved = results.at(-1)?.results ?? [];
  return { opened, resolved };
}

export async function listAlerts(db: Db, workspaceId: string, status: "open" | "resolved" | "all", limit = 100) {
  return db
    .select()
    .from(alerts)
    .where(
      status === "all"
        ? eq(alerts.workspaceId, workspaceId)
        : and(eq(alerts.workspaceId, workspaceId), eq(alerts.status, status)),
    )
    .orderBy(desc(alerts.openedAt))
    .limit(limit);
}
