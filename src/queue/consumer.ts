/**
 * The outbound queue's consumer: loads and claims a batch in one D1 round trip, hands each message over
 * (src/messaging/handover.ts), writes the batch's verdicts in one more round trip (StatusBatch), and
 * only then acks or retries each message as its handover decided; never acks in a blanket catch.
 */

import { TwilioClient, twilioConfigFromEnv } from "../channels/twilio/client";
import { createDb } from "../db/client";
import { type ClaimedForHandover, claimForHandover, releaseMessage } from "../db/queries/messages";
import { log } from "../log";
import type { Decision } from "../messaging/handover";
import { breakerClean, handOver, LEASE_MS } from "../messaging/handover";
import { backoffSeconds, type OutboundJob, OutboundJobSchema } from "../messaging/outbox";
import { StatusBatch } from "../messaging/status";
import { pacerFor } from "../rooms/sender-pacer";
import { limiterFor } from "../rooms/workspace-limiter";

/**
 * A batch: its messages are loaded and claimed in one round trip, then each is handed over on its own
 * (they go to different conversations and senders), and their verdicts (sid and status, failures) are
 * written together in one round trip. The same message twice in one batch is handed over once.
 */
export async function handleOutboundBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  // The bulk queue carries campaign messages; both queues are handled alike (each message knows its lane).
  const queue = batch.queue.endsWith("-bulk") ? env.BULK : env.OUTBOUND;
  const client = new TwilioClient(twilioConfigFromEnv(env));
  const parsed: { message: Message<unknown>; job: OutboundJob }[] = [];
  for (const message of batch.messages) {
    const job = OutboundJobSchema.safeParse(message.body);
    if (job.success) parsed.push({ message, job: job.data });
    else {
      log("error", "dropping a malformed outbound job", { id: message.id });
      message.ack();
    }
  }
  const shared = await fairShare(env, queue, parsed);
  const jobs = (queue === env.BULK ? await senderShare(env, queue, shared) : shared).map(({ message, job }) => ({
    message,
    messageId: job.messageId,
    deferrals: job.deferrals ?? 0,
  }));
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
  const verdicts = new StatusBatch();
  const cleared = await breakerClean(env);
  const decided = await Promise.all(
    jobs.map(async ({ message, messageId, deferrals }) => {
      let decision: Decision;
      if (seen.has(messageId)) {
        decision = { action: "ack", outcome: "duplicate_in_batch" };
      } else {
        seen.add(messageId);
        try {
          decision = await handOver(
            env,
            db,
            messageId,
            claimed.get(messageId),
            message.attempts,
            client,
            deferrals,
            verdicts.sink,
            cleared,
          );
        } catch (err) {
          log("error", "outbound job crashed", { messageId, error: String(err) });
          decision = { action: "retry", delaySeconds: backoffSeconds(message.attempts), outcome: "crashed" };
        }
      }
      return { message, messageId, decision };
    }),
  );
  try {
    await verdicts.flush(env, env.DB);
  } catch (err) {
    // Nothing of the verdicts is stored. A message that reached Twilio must not be sent again: the
    // retry finds the attempt still open (attempt_started_at kept) and looks it up before sending.
    log("error", "could not record the outbound batch's results", { size: jobs.length, error: String(err) });
    for (const item of decided) {
      if (item.decision.action !== "ack" || !verdicts.has(item.messageId)) continue;
      await releaseMessage(db, item.messageId, false).catch(() => undefined);
      item.decision = {
        action: "retry",
        delaySeconds: backoffSeconds(item.message.attempts),
        outcome: "results_not_recorded",
      };
    }
  }
  for (const { message, decision } of decided) {
    if (decision.action === "ack") message.ack();
    else message.retry({ delaySeconds: decision.delaySeconds });
  }
}

/**
 * Fair share between workspaces: each workspace's limiter says how many of its messages in this batch
 * may go to Twilio now; the rest go back to the queue untaken (a fresh message with a delay, not a
 * retry), so a workspace's flood drains through the consumer quickly instead of holding another
 * workspace's message behind it. A limiter that cannot be reached lets everything through.
 */
async function fairShare(
  env: Env,
  queue: Queue,
  parsed: { message: Message<unknown>; job: OutboundJob }[],
): Promise<{ message: Message<unknown>; job: OutboundJob }[]> {
  const byWorkspace = new Map<string, { message: Message<unknown>; job: OutboundJob }[]>();
  const go: { message: Message<unknown>; job: OutboundJob }[] = [];
  for (const item of parsed) {
    const ws = item.job.workspaceId;
    if (!ws) go.push(item);
    else byWorkspace.set(ws, [...(byWorkspace.get(ws) ?? []), item]);
  }
  await Promise.all(
    [...byWorkspace].map(async ([workspaceId, items]) => {
      let allowed = items.length;
      let retryAfterMs = 1000;
      try {
        ({ allowed, retryAfterMs } = await limiterFor(env, workspaceId).dispatch(items.length));
      } catch (err) {
        log("warn", "workspace limiter unavailable; not limiting", { workspaceId, error: String(err) });
      }
      go.push(...items.slice(0, allowed));
      const later = items.slice(allowed);
      if (later.length === 0) return;
      try {
        // One send for the rest, spread over the time their tokens come back (at least a second).
        await queue.sendBatch(
          later.map(({ job }) => ({
            body: { ...job, workspaceId, deferrals: (job.deferrals ?? 0) + 1 } satisfies OutboundJob,
            delaySeconds: Math.max(1, Math.ceil(retryAfterMs / 1000) + Math.floor(Math.random() * 2)),
          })),
        );
        for (const { message } of later) message.ack();
      } catch {
        for (const { message } of later) message.retry({ delaySeconds: 1 });
      }
    }),
  );
  return go;
}

/** How far ahead a bulk batch books each sender (its batch ends when the slowest sender's share is sent). */
export const BULK_HORIZON_MS = 4000;

/**
 * Campaign batches: each sender's pacer says how many of its messages it can start within the horizon;
 * those go now and the rest back to the bulk queue (untaken, after about a horizon), so the batch
 * keeps every sender busy and none waits behind another's backlog.
 */
async function senderShare(
  env: Env,
  queue: Queue,
  items: { message: Message<unknown>; job: OutboundJob }[],
): Promise<{ message: Message<unknown>; job: OutboundJob }[]> {
  const bySender = new Map<string, { message: Message<unknown>; job: OutboundJob }[]>();
  const go: { message: Message<unknown>; job: OutboundJob }[] = [];
  for (const item of items) {
    if (!item.job.from || !item.job.rate) go.push(item);
    else bySender.set(item.job.from, [...(bySender.get(item.job.from) ?? []), item]);
  }
  await Promise.all(
    [...bySender].map(async ([from, list]) => {
      let room = list.length;
      try {
        room = await pacerFor(env, from).bulkCapacity(list[0]?.job.rate ?? 1, BULK_HORIZON_MS);
      } catch (err) {
        log("warn", "sender pacer unavailable; not sharing", { from, error: String(err) });
      }
      go.push(...list.slice(0, room));
      const later = list.slice(room);
      if (later.length === 0) return;
      try {
        await queue.sendBatch(
          later.map(({ job }) => ({ body: job, delaySeconds: Math.max(1, Math.ceil(BULK_HORIZON_MS / 1000) - 1) })),
        );
        for (const { message } of later) message.ack();
      } catch {
        for (const { message } of later) message.retry({ delaySeconds: 1 });
      }
    }),
  );
  return go;
}
