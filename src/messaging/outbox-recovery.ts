/**
 * Outbox recovery: pending messages untouched for longer than the grace period (longer than any
 * queue backoff) lost their queue message — a dev-server restart, a failed enqueue — and are
 * enqueued again. The consumer's lease and status checks make an extra queue message harmless.
 */
import { listStrandedPending, touchMessages } from "../db/queries/maintenance";
import { log } from "../log";
import { enqueueOutboundMany } from "./outbox";

const BATCH = 1000;

export async function recoverOutbox(env: Env, now: number, graceMs: number): Promise<{ requeued: number }> {
  const stranded = await listStrandedPending(env.DB, now - graceMs, now, BATCH);
  if (stranded.length === 0) return { requeued: 0 };
  // Touch them so the next tick waits another grace period for the consumer.
  await touchMessages(
    env.DB,
    stranded.map((m) => m.id),
    now,
  );
  await enqueueOutboundMany(
    env,
    stranded.map((m) => ({ id: m.id, bulk: m.campaignId !== null })),
  );
  log("warn", "outbox recovery re-enqueued pending messages", { count: stranded.length });
  return { requeued: stranded.length };
}
