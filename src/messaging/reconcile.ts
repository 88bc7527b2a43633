/**
 * Reconciliation: messages whose status stalled (queued/sending past the threshold, sent past twice
 * that) are fetched from Twilio in bounded batches with limited concurrency, and advanced through
 * their room (monotonic, so a stale answer changes nothing). Sent with no receipt past the
 * delivery-unknown threshold becomes `delivery_unknown` (a late receipt still upgrades it). A 429
 * stops the run; the rest waits for the next tick.
 */

import { sentFromTwilio, TwilioClient, twilioConfigFromEnv } from "../channels/twilio/client";
import { isTwilioError } from "../channels/twilio/errors";
import { createDb } from "../db/client";
import { clearAttemptUnderLease, leaseForReconcile, listStalled, releaseLease } from "../db/queries/maintenance";
import { getMessageById } from "../db/queries/messages";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import type { JobConfig } from "./config";
import { LEASE_MS, lookUpEarlierAttempt } from "./handover";
import { enqueueOutbound } from "./outbox";
import { recordSent } from "./status";

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
  const results = await listStalled(env.DB, stalled, now - 2 * config.reconcileAfterMs, now, BATCH);
  const queue = [...results];
  const worker = async () => {
    while (!result.rateLimited) {
      const next = queue.shift();
      if (!next) return;
      try {
        await reconcileOne(env, db, twilio, next, now, config, result);
      } catch (err) {
        if (isTwilioError(err) && err.httpStatus === 429) {
          result.rateLimited = true;
          return;
        }
        result.errors++;
        log("error", "reconciling a message failed", { messageId: next, error: String(err) });
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
  const claimed = await leaseForReconcile(env.DB, id, now, lease);
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
        await recordSent(env, msg, sentFromTwilio(earlier), "reconcile");
        result.adopted++;
      } else {
        await clearAttemptUnderLease(env.DB, id, lease, now);
        await enqueueOutbound(env, id);
        result.resent++;
      }
    } catch (err) {
      await releaseLease(env.DB, id, lease);
      throw err;
    }
    return;
  }
  if (!msg.providerSid) return;
  const tw = await twilio.fetchMessage(msg.providerSid);
  const before = msg.status;
  await recordSent(env, msg, sentFromTwilio(tw), "reconcile");
  const after = (await getMessageById(db, id))?.status;
  if (after !== before) result.advanced++;
  const sentAt = msg.sentAt ?? msg.updatedAt;
  if (after === "sent" && now - sentAt > config.deliveryUnknownAfterMs) {
    const moved = await roomFor(env, msg.conversationId).applyStatus({
      messageId: id,
      status: "delivery_unknown",
      errorMessage: "No delivery receipt from the carrier; Twilio still reports it as sent.",
      source: "reconcile",
      at: Date.now(),
    });
    if (moved.applied) result.deliveryUnknown++;
  }
}
