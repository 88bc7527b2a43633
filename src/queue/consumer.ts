/**
 * The outbound queue's consumer: loads and claims a batch in one round trip, then decides per message
 * (ack, or retry with backoff) from what the handover step (src/messaging/handover.ts) reports; never
 * acks in a blanket catch.
 */

import { createDb } from "../db/client";
import { type ClaimedForHandover, claimForHandover } from "../db/queries/messages";
import { log } from "../log";
import type { Decision } from "../messaging/handover";
import { handOver, LEASE_MS } from "../messaging/handover";
import { backoffSeconds, OutboundJobSchema } from "../messaging/outbox";
import { TwilioClient, twilioConfigFromEnv } from "../twilio/client";

/**
 * A batch: its messages are loaded and claimed in one round trip, then each is handed over on its own
 * (they go to different conversations and senders). The same message twice in one batch is handed
 * over once.
 */
export async function handleOutboundBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const client = new TwilioClient(twilioConfigFromEnv(env));
  const jobs: { message: Message<unknown>; messageId: string }[] = [];
  for (const message of batch.messages) {
    const job = OutboundJobSchema.safeParse(message.body);
    if (job.success) jobs.push({ message, messageId: job.data.messageId });
    else {
      log("error", "dropping a malformed outbound job", { id: message.id });
      message.ack();
    }
  }
  if (jobs.length === 0) return;
  const db = createDb(env.DB);
  let claimed: Map<string, ClaimedForHandover>;
  try {
    claimed = await claimForHandover(db, [...new Set(jobs.map((j) => j.messageId))], Date.now(), LEASE_MS);
  } catch (err) {
    log("error", "could not load the outbound batch", { size: jobs.length, error: String(err) });
    for (const { message } of jobs) message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    return;
  }
  const seen = new Set<string>();
  await Promise.all(
    jobs.map(async ({ message, messageId }) => {
      let decision: Decision;
      if (seen.has(messageId)) {
        decision = { action: "ack", outcome: "duplicate_in_batch" };
      } else {
        seen.add(messageId);
        try {
          decision = await handOver(env, db, messageId, claimed.get(messageId), message.attempts, client);
        } catch (err) {
          log("error", "outbound job crashed", { messageId, error: String(err) });
          decision = { action: "retry", delaySeconds: backoffSeconds(message.attempts), outcome: "crashed" };
        }
      }
      if (decision.action === "ack") message.ack();
      else message.retry({ delaySeconds: decision.delaySeconds });
    }),
  );
}
