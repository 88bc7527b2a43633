/**
 * The cron jobs' statements over messages: the outbox's stranded messages, due scheduled ones,
 * stalled ones for reconciliation (and its lease), and retention's erasure. Each is bounded.
 */

/** Pending messages untouched since `before` that no consumer holds (their queue message was lost). */
export async function listStrandedPending(d1: D1Database, before: number, now: number, limit: number) {
  const { results } = await d1
    .prepare(
      `SELECT id, campaign_id AS campaignId FROM messages
       WHERE status = 'pending' AND direction = 'outbound' AND updated_at < ?1
         AND (lease_until IS NULL OR lease_until < ?2)
       ORDER BY updated_at LIMIT ?3`,
    )
    .bind(before, now, limit)
    .all<{ id: string; campaignId: string | null }>();
  return results;
}

/** Marks messages as just handled (the next outbox tick waits another grace period for them). */
export async function touchMessages(d1: D1Database, ids: string[], at: number): Promise<void> {
  await d1
    .prepare("UPDATE messages SET updated_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))")
    .bind(at, JSON.stringify(ids))
    .run();
}

/** Scheduled messages whose send time has come. */
/** Due scheduled messages, with what the quiet-hours rule needs to decide whether they go now. */
export async function listDueScheduled(d1: D1Database, now: number, limit: number) {
  const { results } = await d1
    .prepare(
      `SELECT m.id, m.conversation_id AS conversationId, m.workspace_id AS workspaceId, m.campaign_id AS campaignId, m.body, m.segments, m.encoding, m.to_number AS phone,
         w.quiet_hours AS quietHours, w.timezone AS workspaceZone, ct.timezone AS contactZone,
         c.last_inbound_at AS lastInboundAt
       FROM messages m
         JOIN workspaces w ON w.id = m.workspace_id
         JOIN conversations c ON c.id = m.conversation_id
         LEFT JOIN contacts ct ON ct.id = c.contact_id
       WHERE m.status = 'scheduled' AND m.send_at <= ? ORDER BY m.send_at LIMIT ?`,
    )
    .bind(now, limit)
    .all<{
      id: string;
      conversationId: string;
      workspaceId: string;
      campaignId: string | null;
      body: string;
      segments: number;
      encoding: "GSM-7" | "UCS-2";
      phone: string;
      quietHours: string | null;
      workspaceZone: string;
      contactZone: string | null;
      lastInboundAt: number | null;
    }>();
  return results;
}

/**
 * Messages whose status stalled: queued/sending since `stalledBefore`, sent since `sentBefore`, or
 * pending with an attempt of unknown outcome that no consumer holds; each checked at most once per
 * threshold.
 */
export async function listStalled(
  d1: D1Database,
  stalledBefore: number,
  sentBefore: number,
  now: number,
  limit: number,
) {
  const { results } = await d1
    .prepare(
      `SELECT id FROM messages
       WHERE direction = 'outbound'
         AND ((status IN ('queued', 'sending') AND updated_at < ?1)
           OR (status = 'sent' AND updated_at < ?2)
           OR (status = 'pending' AND attempt_started_at IS NOT NULL AND attempt_started_at < ?1 AND (lease_until IS NULL OR lease_until < ?3)))
         AND (checked_at IS NULL OR checked_at < ?1)
       ORDER BY updated_at LIMIT ?4`,
    )
    .bind(stalledBefore, sentBefore, now, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/**
 * Marks a message checked and, when it is pending, takes its lease as a consumer would (until
 * `leaseUntil`). False when another worker holds it.
 */
export async function leaseForReconcile(d1: D1Database, id: string, now: number, leaseUntil: number) {
  const claimed = await d1
    .prepare(
      `UPDATE messages SET checked_at = ?1,
         lease_until = CASE WHEN status = 'pending' THEN ?2 ELSE lease_until END
       WHERE id = ?3 AND (status != 'pending' OR lease_until IS NULL OR lease_until < ?1)
       RETURNING id`,
    )
    .bind(now, leaseUntil, id)
    .first<{ id: string }>();
  return claimed !== null;
}

/** Ends reconciliation's hold: forgets the unknown attempt (it is sent again) and the lease. */
export async function clearAttemptUnderLease(d1: D1Database, id: string, lease: number, at: number) {
  await d1
    .prepare(
      "UPDATE messages SET attempt_started_at = NULL, lease_until = NULL, updated_at = ?1 WHERE id = ?2 AND lease_until = ?3",
    )
    .bind(at, id, lease)
    .run();
}

export async function releaseLease(d1: D1Database, id: string, lease: number) {
  await d1.prepare("UPDATE messages SET lease_until = NULL WHERE id = ?1 AND lease_until = ?2").bind(id, lease).run();
}

/** Workspaces with a retention period. */
export async function listRetentionWorkspaces(d1: D1Database) {
  const { results } = await d1
    .prepare("SELECT id, retention_days AS retentionDays FROM workspaces WHERE retention_days IS NOT NULL")
    .all<{ id: string; retentionDays: number }>();
  return results;
}

/** One workspace's retention period (null when it has none, or is gone). */
export async function retentionOf(d1: D1Database, workspaceId: string) {
  return d1
    .prepare("SELECT id, retention_days AS retentionDays FROM workspaces WHERE id = ?1 AND retention_days IS NOT NULL")
    .bind(workspaceId)
    .first<{ id: string; retentionDays: number }>();
}

/**
 * One bounded round of erasure before `cutoff`: message bodies and media (returning what was erased,
 * for the rooms' logs) and events. Messages still to be sent (scheduled, pending) are never touched.
 */
export async function eraseBefore(d1: D1Database, workspaceId: string, cutoff: number, now: number, limit: number) {
  const [erased, deleted] = await d1.batch<{ id: string; conversationId: string; seq: number }>([
    d1
      .prepare(
        `UPDATE messages SET body = '', media = '[]', subject = NULL, html = NULL, updated_at = ?1
         WHERE id IN (SELECT id FROM messages WHERE workspace_id = ?2 AND created_at < ?3
                        AND (body != '' OR media != '[]' OR subject IS NOT NULL OR html IS NOT NULL)
                        AND status NOT IN ('scheduled', 'pending') LIMIT ?4)
         RETURNING id, conversation_id AS conversationId, seq`,
      )
      .bind(now, workspaceId, cutoff, limit),
    d1
      .prepare(
        `DELETE FROM message_events WHERE id IN (
           SELECT e.id FROM message_events e JOIN messages m ON m.id = e.message_id
           WHERE e.workspace_id = ?1 AND e.at < ?2 AND m.status NOT IN ('scheduled', 'pending') LIMIT ?3)`,
      )
      .bind(workspaceId, cutoff, limit),
  ]);
  return { erased: erased?.results ?? [], events: deleted?.meta.changes ?? 0 };
}

export async function auditSystem(
  d1: D1Database,
  workspaceId: string,
  action: string,
  data: Record<string, unknown>,
  at: number,
) {
  await d1
    .prepare("INSERT INTO audit_log (workspace_id, actor_type, action, data, at) VALUES (?, 'system', ?, ?, ?)")
    .bind(workspaceId, action, JSON.stringify(data), at)
    .run();
}
