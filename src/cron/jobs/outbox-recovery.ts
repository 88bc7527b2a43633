/**
 * Outbox recovery: pending messages untouched for longer than the grace period (longer than any
 * queue backoff) lost their queue message — a dev-server restart, a failed enqueue — and are
 * enqueued again. The consumer's lease and status checks make an extra queue message harmless.
 */
import { log } from "../../log";
import { enqueueOutboundMany } from "../../messaging/outbox";

const BATCH = 1000;

export async function recoverOutbox(env: Env, now: number, graceMs: number): Promise<{ requeued: number }> {
  const { results } = await env.DB.prepare(
    `SELECT id FROM messages
     WHERE status = 'pending' AND direction = 'outbound' AND updated_at < ?1
       AND (lease_until IS NULL OR lease_until < ?2)
     ORDER BY updated_at LIMIT ?3`,
  )
    .bind(now - graceMs, now, BATCH)
    .all<{ id: string }>();
  if (results.length === 0) return { requeued: 0 };
  const ids = results.map((r) => r.id);
  // Touch them so the next tick waits another grace period for the consumer.
  for (let i = 0; i < ids.length; i += 90) {
    const chunk = ids.slice(i, i + 90);
    await env.DB.prepare(`UPDATE messages SET updated_at = ? WHERE id IN (${chunk.map(() => "?").join(",")})`)
      .bind(now, ...chunk)
      .run();
  }
  await enqueueOutboundMany(env, ids);
  log("warn", "outbox recovery re-enqueued pending messages", { count: ids.length });
  return { requeued: ids.length };
}
