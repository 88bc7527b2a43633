/**
 * Retention: for workspaces with a retention period, message bodies and media past it are erased —
 * in D1, in the conversation rooms' resume logs and in archived objects — and their events deleted, in
 * bounded batches by one job per workspace (the daily cron enqueues them), with an audit-log entry per run
 * that erased something. Messages not yet sent are never touched.
 * Rows stay (status, timestamps, seq) so threads and counts remain consistent.
 */
import { z } from "zod";
import { createDb } from "../db/client";
import { attachmentsOfMessages, deleteAttachments, unusedBefore } from "../db/queries/attachments";
import { auditSystem, eraseBefore, listRetentionWorkspaces, retentionOf } from "../db/queries/maintenance";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { eraseArchivedBefore } from "./archive";
import { sendAll } from "./outbox";

/** Messages per purge batch; a room call per conversation touched, so a batch stays far inside an invocation's subrequests. */
const BATCH = 200;
/** Batches per retention job (then it continues in a new job). */
const JOB_BATCHES = 3;
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

/** One workspace's retention purge, on the jobs queue (it enqueues itself again while more is due). */
export const RetentionJobSchema = z.object({ kind: z.literal("retention"), workspaceId: z.string().min(1).max(64) });

/**
 * The daily cron's part: one retention job per workspace with a retention period, each run in its own
 * invocation (a purge touches rooms, D1 and R2 per conversation: one invocation for every workspace would
 * run out of subrequests and leave the later workspaces unpurged).
 */
export async function scheduleRetention(env: Env): Promise<{ workspaces: number }> {
  const workspaces = await listRetentionWorkspaces(env.DB);
  await sendAll(
    env.JOBS,
    workspaces.map((w) => ({ kind: "retention", workspaceId: w.id }) satisfies z.infer<typeof RetentionJobSchema>),
  );
  return { workspaces: workspaces.length };
}

/** A retention job: one bounded purge of its workspace, continued by a new job while more is due. */
export async function runRetentionJob(env: Env, job: z.infer<typeof RetentionJobSchema>, now: number) {
  const ws = await retentionOf(env.DB, job.workspaceId);
  if (!ws) return null;
  const result = await purgeWorkspace(env, ws, now, JOB_BATCHES);
  if (result.more) await env.JOBS.send(job);
  return result;
}

/**
 * Erases what is past a workspace's retention, at most `batches` batches of BATCH messages (each:
 * one D1 batch, one room call per conversation touched, the files), then its archived messages; writes
 * one audit entry when anything was erased. `more`: stopped at the bound with more due.
 */
async function purgeWorkspace(
  env: Env,
  ws: { id: string; retentionDays: number },
  now: number,
  batches: number,
): Promise<{ messages: number; events: number; more: boolean }> {
  const cutoff = now - ws.retentionDays * DAY_MS;
  let messages = 0;
  let events = 0;
  let media = 0;
  let more = false;
  for (let i = 0; i < batches; i++) {
    // Messages still to be sent (scheduled, pending) are never touched, whatever their age.
    const { erased: purged, events: e } = await eraseBefore(env.DB, ws.id, cutoff, now, BATCH);
    await forgetInRooms(env, purged);
    media += await deleteFilesOf(
      env,
      purged.map((p) => p.id),
    );
    messages += purged.length;
    events += e;
    more = purged.length === BATCH || e === BATCH;
    if (!more) break;
  }
  // Messages archived to R2 are erased there too (their objects rewritten), once D1's part is done.
  const archived = more ? { objects: 0, messageIds: [], more: false } : await eraseArchivedBefore(env, ws.id, cutoff);
  media += await deleteFilesOf(env, archived.messageIds);
  messages += archived.messageIds.length;
  if (messages + events + archived.objects > 0) {
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
  return { messages, events, more: more || archived.more };
}

/** Every workspace's purge to the end, in this invocation (tests and one-off operator runs; the cron uses jobs). */
export async function purgeExpired(
  env: Env,
  now: number,
): Promise<{ workspaces: number; messages: number; events: number }> {
  const totals = { workspaces: 0, messages: 0, events: 0 };
  for (const ws of await listRetentionWorkspaces(env.DB)) {
    try {
      let touched = false;
      for (let more = true; more; ) {
        const result = await purgeWorkspace(env, ws, now, JOB_BATCHES);
        totals.messages += result.messages;
        totals.events += result.events;
        touched ||= result.messages + result.events > 0;
        more = result.more;
      }
      if (touched) totals.workspaces++;
    } catch (err) {
      log("error", "retention purge failed for a workspace", { workspaceId: ws.id, error: String(err) });
    }
  }
  return totals;
}
