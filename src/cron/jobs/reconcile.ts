/**
 * Reconciliation: messages whose status stalled (queued/sending past the threshold, sent past twice
 * that) are fetched from Twilio in bounded batches with limited concurrency, and advanced through
 * their room (monotonic, so a stale answer changes nothing). Sent with no receipt past the
 * delivery-unknown threshold becomes `delivery_unknown` (a late receipt still upgrades it). A 429
 * stops the run; the rest waits for the next tick.
 */
import { createDb } from "../../db/client";
import { getMessageById } from "../../db/queries/messages";
import { log } from "../../log";
import { LEASE_MS, lookUpEarlierAttempt } from "../../messaging/handover";
import { enqueueOutbound } from "../../messaging/outbox";
import { recordHandover } from "../../messaging/status";
import { roomFor } from "../../rooms/conversation-room";
import { TwilioClient, twilioConfigFromEnv } from "../../twilio/client";
import { isTwilioError } from "../../twilio/errors";
import type { JobConfig } from "../config";

const BATCH = 200;
const CONCURRENCY = 5;

export interface ReconcileResult {
  checked: number;
  advanced: number;
  deliveryUnknown: number;
  adopted: number;
  resent: number;
  errors: number;
  rateLimited: boolean;
}

export async function reconcile(
  env: Env,
  now: number,
  config: JobConfig,
  client?: TwilioClient,
): Promise<ReconcileResult> {
  const twilio = client ?? new TwilioClient(twilioConfigFromEnv(env));
  const db = createDb(env.DB);
  const result: ReconcileResult = {
    checked: 0,
    advanced: 0,
    deliveryUnknown: 0,
    adopted: 0,
    resent: 0,
    errors: 0,
    rateLimited: false,
  };
  const stalled = now - config.reconcileAfterMs;
  const { results } = await env.DB.prepare(
    `SELECT id FROM messages
     WHERE direction = 'outbound'
       AND ((status IN ('queued', 'sending') AND updated_at < ?1)
         OR (status = 'sent' AND updated_at < ?2)
         OR (status = 'pending' AND attempt_started_at IS NOT NULL AND attempt_started_at < ?1 AND (lease_until IS NULL OR lease_until < ?3)))
       AND (checked_at IS NULL OR checked_at < ?1)
     ORDER BY updated_at LIMIT ?4`,
  )
    .bind(stalled, now - 2 * config.reconcileAfterMs, now, BATCH)
    .all<{ id: string }>();

  const queue = [...results];
  const worker = async () => {
    while (!result.rateLimited) {
      const next = queue.shift();
      if (!next) return;
      try {
        await reconcileOne(env, db, twilio, next.id, now, config, result);
      } catch (err) {
        if (isTwilioError(err) && err.httpStatus === 429) {
          result.rateLimited = true;
          return;
        }
        result.errors++;
        log("error", "reconciling a message failed", { messageId: next.id, error: String(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return result;
}

async function reconcileOne(
  env: Env,
  db: ReturnType<typeof createDb>,
  twilio: TwilioClient,
  id: string,
  now: number,
  config: JobConfig,
  result: ReconcileResult,
) {
  // Mark it checked, and take a pending message's lease as a consumer would: a message another worker
  // holds is left alone (its attempt is in progress), and no consumer can start one while we look.
  const lease = now + LEASE_MS;
  const claimed = await env.DB.prepare(
    `UPDATE messages SET checked_at = ?1,
       lease_until = CASE WHEN status = 'pending' THEN ?2 ELSE lease_until END
     WHERE id = ?3 AND (status != 'pending' OR lease_until IS NULL OR lease_until < ?1)
     RETURNING id`,
  )
    .bind(now, lease, id)
    .first<{ id: string }>();
  if (!claimed) return;
  const msg = await getMessageById(db, id);
  if (!msg) return;
  result.checked++;

  if (msg.status === "pending") {
    // An attempt whose outcome never became known: adopt what Twilio has, or send once more.
    try {
      const earlier =
        msg.attemptStartedAt === null
          ? undefined
          : await lookUpEarlierAttempt(twilio, env.DB, msg, msg.attemptStartedAt);
      if (earlier) {
        // Recording the handover ends the attempt and releases the lease.
        await recordHandover(env, msg, earlier, "reconcile");
        result.adopted++;
      } else {
        await env.DB.prepare(
          "UPDATE messages SET attempt_started_at = NULL, lease_until = NULL, updated_at = ?1 WHERE id = ?2 AND lease_until = ?3",
        )
          .bind(now, id, lease)
          .run();
        await enqueueOutbound(env, id);
        result.resent++;
      }
    } catch (err) {
      await env.DB.prepare("UPDATE messages SET lease_until = NULL WHERE id = ?1 AND lease_until = ?2")
        .bind(id, lease)
        .run();
      throw err;
    }
    return;
  }
  if (!msg.providerSid) return;
  const tw = await twilio.fetchMessage(msg.providerSid);
  const before = msg.status;
  await recordHandover(env, msg, tw, "reconcile");
  const after = (await getMessageById(db, id))?.status;
  if (after !== before) result.advanced++;
  const sentAt = msg.sentAt ?? msg.updatedAt;
  if (after === "sent" && now - sentAt > config.deliveryUnknownAfterMs) {
    const moved = await roomFor(env, msg.conversationId).applyStatus(msg.conversationId, {
      messageId: id,
      status: "delivery_unknown",
      errorMessage: "No delivery receipt from the carrier; Twilio still reports it as sent.",
      source: "reconcile",
      at: Date.now(),
    });
    if (moved.applied) result.deliveryUnknown++;
  }
}
