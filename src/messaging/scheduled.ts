/**
 * Due scheduled messages: each is claimed with a conditional move scheduled → pending through its
 * room (only one claimer wins, so a repeated tick cannot enqueue twice), then enqueued. A claim whose
 * enqueue is lost is picked up by outbox recovery.
 */
import { listDueScheduled } from "../db/queries/maintenance";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { enqueueOutbound } from "./outbox";

const BATCH = 500;

export async function sendDueScheduled(env: Env, now: number): Promise<{ due: number; claimed: number }> {
  const results = await listDueScheduled(env.DB, now, BATCH);
  let claimed = 0;
  for (const row of results) {
    try {
      const result = await roomFor(env, row.conversationId).applyStatus({
        messageId: row.id,
        status: "pending",
        source: "cron",
        at: Date.now(),
        requireStatus: ["scheduled"],
      });
      if (!result.applied) continue;
      claimed++;
      await enqueueOutbound(env, row.id);
    } catch (err) {
      // One bad row must not stop the batch.
      log("error", "scheduled send failed to start", { messageId: row.id, error: String(err) });
    }
  }
  return { due: results.length, claimed };
}
