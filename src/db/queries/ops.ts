/** The operations view's counts for one workspace, in one batch (the job runs are deployment-wide). */
export function deliveryHealth(
  d1: D1Database,
  workspaceId: string,
  stalledBefore: number,
  sentBefore: number,
  since24h: number,
) {
  return d1.batch([
    d1.prepare("SELECT status, count(*) AS n FROM messages WHERE workspace_id = ? GROUP BY status").bind(workspaceId),
    d1
      .prepare(
        `SELECT
         sum(CASE WHEN status IN ('queued', 'sending') AND updated_at < ?2 THEN 1 ELSE 0 END) AS queued,
         sum(CASE WHEN status = 'sent' AND updated_at < ?3 THEN 1 ELSE 0 END) AS sent,
         sum(CASE WHEN status = 'pending' AND attempt_started_at IS NOT NULL AND attempt_started_at < ?2 THEN 1 ELSE 0 END) AS pendingAttempts
       FROM messages WHERE workspace_id = ?1 AND status IN ('queued', 'sending', 'sent', 'pending')`,
      )
      .bind(workspaceId, stalledBefore, sentBefore),
    d1
      .prepare(
        "SELECT count(*) AS total, sum(CASE WHEN at > ?2 THEN 1 ELSE 0 END) AS last24h FROM audit_log WHERE workspace_id = ?1 AND action = 'message.dead_lettered'",
      )
      .bind(workspaceId, since24h),
    d1
      .prepare("SELECT min(created_at) AS oldest FROM messages WHERE workspace_id = ? AND status = 'pending'")
      .bind(workspaceId),
    d1.prepare("SELECT * FROM job_runs"),
  ]);
}
