/**
 * Retention: for workspaces with a retention period, message bodies and media past it are erased and
 * their events deleted, in bounded batches, with an audit-log entry per workspace that lost data.
 * Rows stay (status, timestamps, seq) so threads and counts remain consistent.
 */
import { log } from "../../log";

const BATCH = 500;
const MAX_BATCHES_PER_RUN = 20;
const DAY_MS = 24 * 60 * 60 * 1000;

export async function purgeExpired(
  env: Env,
  now: number,
): Promise<{ workspaces: number; messages: number; events: number }> {
  const { results: workspaces } = await env.DB.prepare(
    "SELECT id, retention_days AS retentionDays FROM workspaces WHERE retention_days IS NOT NULL",
  ).all<{ id: string; retentionDays: number }>();
  const totals = { workspaces: 0, messages: 0, events: 0 };
  for (const ws of workspaces) {
    try {
      const cutoff = now - ws.retentionDays * DAY_MS;
      let messages = 0;
      let events = 0;
      for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
        const [erased, deleted] = await env.DB.batch([
          env.DB.prepare(
            `UPDATE messages SET body = '', media = '[]', updated_at = ?1
             WHERE id IN (SELECT id FROM messages WHERE workspace_id = ?2 AND created_at < ?3 AND (body != '' OR media != '[]') LIMIT ?4)`,
          ).bind(now, ws.id, cutoff, BATCH),
          env.DB.prepare(
            "DELETE FROM message_events WHERE id IN (SELECT id FROM message_events WHERE workspace_id = ?1 AND at < ?2 LIMIT ?3)",
          ).bind(ws.id, cutoff, BATCH),
        ]);
        const m = erased?.meta.changes ?? 0;
        const e = deleted?.meta.changes ?? 0;
        messages += m;
        events += e;
        if (m < BATCH && e < BATCH) break;
      }
      if (messages + events > 0) {
        totals.workspaces++;
        totals.messages += messages;
        totals.events += events;
        await env.DB.prepare(
          "INSERT INTO audit_log (workspace_id, actor_type, action, data, at) VALUES (?, 'system', 'retention.purged', ?, ?)",
        )
          .bind(
            ws.id,
            JSON.stringify({
              retentionDays: ws.retentionDays,
              cutoff: new Date(cutoff).toISOString(),
              messages,
              events,
            }),
            now,
          )
          .run();
      }
    } catch (err) {
      log("error", "retention purge failed for a workspace", { workspaceId: ws.id, error: String(err) });
    }
  }
  return totals;
}
