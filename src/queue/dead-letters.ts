/**
 * Dead-letter consumer: messages whose retries ran out. Nothing is silently dropped — before marking a
 * message failed we look it up at Twilio once more (an ambiguous attempt may have gone through).
 */

import { sentFromTwilio, TwilioClient, twilioConfigFromEnv } from "../channels/twilio/client";
import { createDb } from "../db/client";
import { getMessageById } from "../db/queries/messages";
import { auditLog } from "../db/schema";
import { log } from "../log";
import { lookUpEarlierAttempt } from "../messaging/handover";
import { OutboundJobSchema } from "../messaging/outbox";
import { markFailed, recordSent } from "../messaging/status";

export async function processDeadLetter(
  env: Env,
  messageId: string,
  client: TwilioClient,
): Promise<"adopted" | "failed" | "skipped"> {
  const db = createDb(env.DB);
  const msg = await getMessageById(db, messageId);
  if (msg?.status !== "pending") return "skipped";
  if (msg.attemptStartedAt !== null) {
    const earlier = await lookUpEarlierAttempt(client, env.DB, msg, msg.attemptStartedAt);
    if (earlier) {
      await recordSent(env, msg, sentFromTwilio(earlier), "dlq");
      return "adopted";
    }
  }
  await markFailed(
    env,
    db,
    msg,
    null,
    `Gave up after ${msg.attempts} attempt(s): Twilio kept failing. Retry to try again.`,
    "dlq",
  );
  // The audit trail for dead letters; the operations view counts these.
  await db.insert(auditLog).values({
    workspaceId: msg.workspaceId,
    actorType: "system",
    action: "message.dead_lettered",
    targetType: "message",
    targetId: msg.id,
  });
  return "failed";
}

export async function handleDeadLetterBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const client = new TwilioClient(twilioConfigFromEnv(env));
  for (const message of batch.messages) {
    const job = OutboundJobSchema.safeParse(message.body);
    if (!job.success) {
      log("error", "malformed dead letter", { id: message.id });
      message.ack();
      continue;
    }
    try {
      const outcome = await processDeadLetter(env, job.data.messageId, client);
      log("warn", "dead letter handled", { messageId: job.data.messageId, outcome });
      message.ack();
    } catch (err) {
      log("error", "dead letter handling failed; will retry", { messageId: job.data.messageId, error: String(err) });
      message.retry({ delaySeconds: 30 });
    }
  }
}
