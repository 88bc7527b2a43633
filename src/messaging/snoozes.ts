/** Wakes snoozed conversations whose time has come: back to open, as an event in each room. */
import { createDb } from "../db/client";
import { dueSnoozes } from "../db/queries/conversations";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";

export const WAKE_BATCH = 200;

export async function wakeSnoozed(env: Env, now: number): Promise<{ woken: number }> {
  const due = await dueSnoozes(createDb(env.DB), now, WAKE_BATCH);
  let woken = 0;
  for (const { id, workspaceId } of due) {
    try {
      // Applies only to a conversation still due (dueBy): one snoozed again since the read stays asleep.
      const changed = await roomFor(env, id).changeState(workspaceId, { status: "open", dueBy: now });
      if (changed) woken++;
    } catch (err) {
      log("error", "could not wake a snoozed conversation", { conversationId: id, error: String(err) });
    }
  }
  return { woken };
}
