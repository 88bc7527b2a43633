/**
 * Due scheduled messages: each is claimed with a conditional move scheduled → pending through its
 * room (only one claimer wins, so a repeated tick cannot enqueue twice), then enqueued. A claim whose
 * enqueue is lost is picked up by outbox recovery.
 */
import { listDueScheduled } from "../db/queries/maintenance";
import { quietHoursDecision, recipientZone } from "../domain/quiet-hours";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { parseQuietHours } from "../shared/policies";
import { enqueueOutbound } from "./outbox";

const BATCH = 500;

export async function sendDueScheduled(
  env: Env,
  now: number,
): Promise<{ due: number; claimed: number; deferred: number }> {
  const results = await listDueScheduled(env.DB, now, BATCH);
  let claimed = 0;
  let deferred = 0;
  for (const row of results) {
    try {
      // Quiet hours hold a due message until the recipient's window ends (a scheduled message is never
      // refused: it waits, visibly, with its reason).
      const { zone } = recipientZone({ timezone: row.contactZone, phone: row.phone }, row.workspaceZone, now);
      const decision = quietHoursDecision({
        quiet: parseQuietHours(row.quietHours),
        at: now,
        zone,
        lastInboundAt: row.lastInboundAt,
        now,
      });
      if (decision.action !== "send") {
        const moved = await roomFor(env, row.conversationId).editScheduled(row.id, {
          body: row.body,
          segments: row.segments,
          encoding: row.encoding,
          sendAt: decision.until,
          deferredReason: "quiet_hours",
        });
        if (moved) deferred++;
        continue;
      }
      const result = await roomFor(env, row.conversationId).applyStatus({
        messageId: row.id,
        status: "pending",
        source: "cron",
        at: Date.now(),
        requireStatus: ["scheduled"],
      });
      if (!result.applied) continue;
      claimed++;
      await enqueueOutbound(env, row.id, { workspaceId: row.workspaceId, bulk: row.campaignId !== null });
    } catch (err) {
      // One bad row must not stop the batch.
      log("error", "scheduled send failed to start", { messageId: row.id, error: String(err) });
    }
  }
  return { due: results.length, claimed, deferred };
}
