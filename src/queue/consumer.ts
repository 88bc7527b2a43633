/**
 * The outbound queue's consumer: decides per message (ack, or retry with backoff) from what the
 * handover step (src/messaging/handover.ts) reports, and never acks in a blanket catch.
 */
import { log } from "../log";
import type { Decision } from "../messaging/handover";
import { processOutbound } from "../messaging/handover";
import { backoffSeconds, OutboundJobSchema } from "../messaging/outbox";
import { TwilioClient, twilioConfigFromEnv } from "../twilio/client";

export async function handleOutboundBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const client = new TwilioClient(twilioConfigFromEnv(env));
  await Promise.all(
    batch.messages.map(async (message) => {
      const job = OutboundJobSchema.safeParse(message.body);
      if (!job.success) {
        log("error", "dropping a malformed outbound job", { id: message.id });
        message.ack();
        return;
      }
      let decision: Decision;
      try {
        decision = await processOutbound(env, job.data.messageId, message.attempts, client);
      } catch (err) {
        log("error", "outbound job crashed", { messageId: job.data.messageId, error: String(err) });
        decision = { action: "retry", delaySeconds: backoffSeconds(message.attempts), outcome: "crashed" };
      }
      if (decision.action === "ack") message.ack();
      else message.retry({ delaySeconds: decision.delaySeconds });
    }),
  );
}
