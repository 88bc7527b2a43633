/**
 * Retention: for workspaces with a retention period, message bodies and media past it are erased —
 * in D1 and in the conversation rooms' resume logs — and their events deleted, in bounded batches,
 * with an audit-log entry per workspace that lost data. Messages not yet sent are never touched.
 * Rows stay (status, timestamps, seq) so threads and counts remain consistent.
 */
import { createDb } from "../db/client";
import { attachmentsOfMessages, deleteAttachments, unusedBefore } from "../db/queries/attachments";
import { auditSystem, eraseBefore, listRetentionWorkspaces } from "../db/queries/maintenance";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { eraseArchivedBefore } from "./archive";

const BATCH = 500;
const MAX_BATCHES_PER_RUN = 20;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The rooms' resume logs hold whole messages: each conversation whose messages were purged drops
 * them (and everything before them) from its log, so a client resuming from before gets `reset`.
 */
async function forgetInRooms(env: Env, purged: { id: string; conversationId: string; seq: number }[]) {
  const byConversation = new Map<string, { throughSeq: number; ids: string[] }>();
  for (const row of purged) {
    const entry = byConversation.get(row.conversationId) ?? { throughSeq: 0, ids: [] };
    entry.throughSeq = Math.max(entry.throughSeq, row.seq);
    entry.ids.push(row.id);
    byConversation.set(row.conversationId, entry);
  }
  for (const [conversationId, { throughSeq, ids }] of byConversation) {
    await roomFor(env, conversationId).forget(throughSeq, ids);
  }
}

/** Deletes the files (R2 objects, then rows) of these messages; returns how many. */
async function deleteFilesOf(env: Env, messageIds: string[]): Promise<number> {
  const db = createDb(env.DB);
  const files = await attachmentsOfMessages(db, messageIds);
  if (files.length === 0) return 0;
  await env.FILES.delete(files.map((f) => f.key));
  await deleteAttachments(
    db,
    files.map((f) => f.id),
  );
  return files.length;
}

/** Uploads nobody sent within a day are deleted (objects and rows), in bounded batches. */
export async function purgeUnsentUploads(env: Env, now: number): Promise<number> {
  const db = createDb(env.DB);
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const stale = await unusedBefore(db, now - DAY_MS, 500);
    if (stale.length === 0) break;
    await env.FILES.delete(stale.map((f) => f.key));
    await deleteAttachments(
      db,
      stale.map((f) => f.id),
    );
    total += stale.length;
    if (stale.length < 500) break;
  }
  return total;
}

export async function purgeExpired(
  env: Env,
  now: number,
): Promise<{ workspaces: number; messages: number; events: number }> {
  const workspaces = await listRetentionWorkspaces(env.DB);
  const totals = { workspaces: 0, messages: 0, events: 0 };
  for (const ws of workspaces) {
    try {
      const cutoff = now - ws.retentionDays * DAY_MS;
      let messages = 0;
      let events = 0;
      let media = 0;
      for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
        // Messages still to be sent (scheduled, pending) are never touched, whatever their age.
        const { erased: purged, events: e } = await eraseBefore(env.DB, ws.id, cutoff, now, BATCH);
        await forgetInRooms(env, purged);
        media += await deleteFilesOf(
          env,
          purged.map((p) => p.id),
        );
        const m = purged.length;
        messages += m;
        events += e;
        if (m < BATCH && e < BATCH) break;
      }
      // Messages archived to R2 are erased there too (whole objects, or rewritten when partly expired).
      const archived = await eraseArchivedBefore(env, ws.id, cutoff);
      media += await deleteFilesOf(env, archived.messageIds);
      messages += archived.messageIds.length;
      if (messages + events + archived.objects > 0) {
        totals.workspaces++;
        totals.messages += messages;
        totals.events += events;
        await auditSystem(
          env.DB,
          ws.id,
          "retention.purged",
          {
            retentionDays: ws.retentionDays,
            cutoff: new Date(cutoff).toISOString(),
            messages,
            events,
            media,
            archives: archived.objects,
          },
          now,
        );
      }
    } catch (err) {
      log("error", "retention purge failed for a workspace", { workspaceId: ws.id, error: String(err) });
    }
  }
  return totals;
}
