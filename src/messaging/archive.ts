/**
 * Archive to R2. For a workspace with `archiveAfterDays`, the daily cron (or an admin's "Archive now")
 * moves messages older than that out of D1: per conversation and UTC month, the whole rows and their
 * status events go to R2 as gzip-compressed JSONL
 * (`archive/<workspace>/<conversation>/<YYYY-MM>.<first seq>-<last seq>.jsonl.gz`), and a stub
 * (`message_archives`: seq and time range, counts, the key) stays in D1. D1 keeps one row per
 * conversation-month instead of one per message, its events and its search-index entries.
 *
 * Thread pages read archived pages transparently: when a page reaches below the oldest message in D1
 * (or a resume cursor points into an archived range), the stubs covering it are found and their
 * objects read. Search by metadata (a contact's name, number or email) still finds the conversation;
 * the archived words are no longer full-text indexed. `GET /api/archive/entries` lists stubs by
 * conversation, contact and time. Restore inserts the rows and events again and deletes stub and object.
 *
 * Nothing is lost between the steps: the object is written first, then the stub and the deletion in one
 * D1 transaction, so a crash in between leaves the rows in D1 (the next run writes the same key again);
 * a message still in flight, and each conversation's last message (the inbox list shows it), stay.
 */
import { z } from "zod";
import { createDb } from "../db/client";
import {
  type ArchivedLine,
  anyDue,
  archiveCandidates,
  archiveStats,
  archivingWorkspaces,
  commitArchive,
  linesToArchive,
  markStubErased,
  restoreLines,
  stubsAround,
  stubsOfConversations,
  stubsPastRetention,
  stubsToRestore,
} from "../db/queries/archive";
import { attachmentsByIds, attachmentsOfConversations, deleteAttachments } from "../db/queries/attachments";
import { freezeCampaignCounts } from "../db/queries/campaigns";
import { auditSystem } from "../db/queries/maintenance";
import { newId } from "../domain/ids";
import { log } from "../log";
import { sendAll } from "./outbox";

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Conversation-months per run (each: one D1 read, one R2 write, one D1 write), so one run stays far inside
 * an invocation's 1,000 subrequests; a workspace with more is continued by another job.
 */
const MAX_GROUPS_PER_RUN = 100;

/** One workspace's archiving, on the jobs queue (one invocation each; it enqueues itself again while more is due). */
export const ArchiveJobSchema = z.object({ kind: z.literal("archive"), workspaceId: z.string().min(1).max(64) });

/** The daily cron's part: one archive job per workspace with a threshold (each runs in its own invocation). */
export async function scheduleArchiving(env: Env): Promise<{ workspaces: number }> {
  const workspaces = await archivingWorkspaces(env.DB);
  await sendAll(
    env.JOBS,
    workspaces.map((w) => ({ kind: "archive", workspaceId: w.id }) satisfies z.infer<typeof ArchiveJobSchema>),
  );
  return { workspaces: workspaces.length };
}

/** An archive job: archives what is due in its workspace, and continues in a new job while more is. */
export async function runArchiveJob(env: Env, job: z.infer<typeof ArchiveJobSchema>, now: number) {
  const result = await archiveDue(env, now, job.workspaceId);
  if (result.more) await env.JOBS.send(job);
  return result;
}

async function gzipLines(lines: ArchivedLine[]): Promise<Uint8Array> {
  const text = `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The lines of an archive object (null when it is missing). */
async function readArchive(env: Env, key: string): Promise<ArchivedLine[] | null> {
  const object = await env.FILES.get(key);
  if (!object) return null;
  const text = await new Response(object.body.pipeThrough(new DecompressionStream("gzip"))).text();
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as ArchivedLine);
}

function archiveKeyFor(workspaceId: string, conversationId: string, month: string, first: number, last: number) {
  return `archive/${workspaceId}/${conversationId}/${month}.${first}-${last}.jsonl.gz`;
}

/** Archives what is due (at most MAX_GROUPS_PER_RUN conversation-months) in every workspace with a threshold, or one. */
export async function archiveDue(
  env: Env,
  now: number,
  only?: string,
): Promise<{ workspaces: number; objects: number; messages: number; more: boolean }> {
  const db = createDb(env.DB);
  const totals = { workspaces: 0, objects: 0, messages: 0, more: false };
  for (const ws of await archivingWorkspaces(env.DB, only)) {
    try {
      const cutoff = now - ws.archiveAfterDays * DAY_MS;
      const groups = await archiveCandidates(db, ws.id, cutoff, MAX_GROUPS_PER_RUN);
      let objects = 0;
      let messages = 0;
      for (const g of groups) {
        const lines = await linesToArchive(db, ws.id, g.conversationId, g.month, cutoff);
        const first = lines[0];
        const last = lines.at(-1);
        if (!first || !last) continue;
        for (const campaignId of new Set(lines.flatMap((l) => (l.campaignId ? [l.campaignId] : [])))) {
          await freezeCampaignCounts(env.DB, campaignId);
        }
        const key = archiveKeyFor(ws.id, g.conversationId, g.month, first.seq, last.seq);
        const body = await gzipLines(lines);
        await env.FILES.put(key, body, {
          httpMetadata: { contentType: "application/jsonl", contentEncoding: "gzip" },
          customMetadata: { workspaceId: ws.id, conversationId: g.conversationId, messages: String(lines.length) },
        });
        messages += await commitArchive(
          env.DB,
          {
            id: newId("arc"),
            workspaceId: ws.id,
            conversationId: g.conversationId,
            month: g.month,
            firstSeq: first.seq,
            lastSeq: last.seq,
            firstAt: first.createdAt,
            lastAt: last.createdAt,
            messages: lines.length,
            inbound: lines.filter((l) => l.direction === "inbound").length,
            outbound: lines.filter((l) => l.direction === "outbound").length,
            key,
            bytes: body.byteLength,
            createdAt: now,
          },
          lines.map((l) => l.id),
        );
        objects++;
      }
      if (objects > 0) {
        totals.workspaces++;
        await auditSystem(
          env.DB,
          ws.id,
          "messages.archived",
          { objects, messages, before: new Date(cutoff).toISOString() },
          now,
        );
        log("info", "messages archived", { workspaceId: ws.id, objects, messages });
      }
      totals.objects += objects;
      totals.messages += messages;
      // The candidates come from a bounded window of the oldest due messages: ask whether any is left.
      if (groups.length > 0 && (await anyDue(db, ws.id, cutoff))) totals.more = true;
    } catch (err) {
      log("error", "archiving failed for a workspace", { workspaceId: ws.id, error: String(err) });
      if (only) throw err;
    }
  }
  return totals;
}

type Row = Omit<ArchivedLine, "events">;

async function linesOf(env: Env, stubs: { key: string }[]): Promise<Row[]> {
  const objects = await Promise.all(stubs.map((s) => readArchive(env, s.key)));
  return objects.flatMap((lines, i) => {
    if (!lines) log("error", "archive object missing", { key: stubs[i]?.key });
    return (lines ?? []).map(({ events: _events, ...row }) => row);
  });
}

/**
 * A thread page with its archived part. `rows` are what D1 returned for the page: the newest `want`
 * below `before` (or the latest), or the oldest `want` after `after`, oldest first; `archivedThrough` is
 * the highest archived seq (null: nothing archived; undefined: not known, as when D1 returned no row).
 *
 * The page is the `want` messages nearest the cursor among D1's rows and the archived ones together:
 * archived and D1 seqs may interleave (a running campaign's message stays in D1 while its month goes),
 * so objects are read while one could still hold a seq inside the page. D1 rows it did not return lie
 * beyond the ones it did, so they never belong to the page.
 */
export async function withArchived(
  env: Env,
  workspaceId: string,
  conversationId: string,
  rows: Row[],
  page: { before?: number; after?: number; want: number; archivedThrough: number | null | undefined },
): Promise<Row[]> {
  if (page.archivedThrough === null) return rows;
  const forward = page.after !== undefined;
  // Nothing archived can fall inside a full page: forward, all archived seqs are at or before the cursor;
  // backward, all of them are older than the oldest row returned.
  if (page.archivedThrough !== undefined) {
    if (forward && page.archivedThrough <= (page.after ?? 0)) return rows;
    if (!forward && rows.length >= page.want && page.archivedThrough < (rows[0]?.seq ?? 0)) return rows;
  }
  const stubs = await stubsAround(env.DB, workspaceId, conversationId, page, page.want);
  const inWindow = (seq: number) =>
    forward ? seq > (page.after ?? 0) : seq < (page.before ?? Number.POSITIVE_INFINITY);
  const merged = new Map<number, Row>(rows.map((r) => [r.seq, r]));
  // The seq the page reaches to so far (the want-th nearest the cursor), or none while it is short.
  const edge = () => {
    const seqs = [...merged.keys()].sort((a, b) => (forward ? a - b : b - a));
    return seqs.length >= page.want ? seqs[page.want - 1] : undefined;
  };
  for (const stub of stubs) {
    const reach = edge();
    // Stubs come nearest-first: once one starts beyond the page's reach, none after it can contribute.
    if (reach !== undefined && (forward ? stub.firstSeq > reach : stub.lastSeq < reach)) break;
    for (const line of await linesOf(env, [stub])) if (inWindow(line.seq)) merged.set(line.seq, line);
  }
  const seqs = [...merged.keys()].sort((a, b) => (forward ? a - b : b - a)).slice(0, page.want);
  return seqs.sort((a, b) => a - b).flatMap((seq) => merged.get(seq) ?? []);
}

/** Restores a workspace's (or one conversation's) archived messages into D1 and deletes their objects. */
export async function restoreArchived(
  env: Env,
  workspaceId: string,
  conversationId: string | null,
): Promise<{ objects: number; messages: number; more: boolean }> {
  const limit = 50;
  const stubs = await stubsToRestore(env.DB, workspaceId, conversationId, limit);
  let messages = 0;
  let objects = 0;
  for (const stub of stubs) {
    const lines = await readArchive(env, stub.key);
    if (!lines) {
      log("error", "archive object missing on restore", { key: stub.key });
      continue;
    }
    messages += await restoreLines(env.DB, stub.id, lines);
    await env.FILES.delete(stub.key);
    objects++;
  }
  return { objects, messages, more: stubs.length === limit };
}

/**
 * Retention over archives, as in D1: the messages past the cutoff keep their place (seq, status, times)
 * but lose their contents (body, media, subject, html) and their events before the cutoff; the object is
 * rewritten (a partly expired one again on later days, as more of it expires). Returns the ids of the
 * messages erased now (the caller deletes their attachments) and how many objects changed.
 */
export async function eraseArchivedBefore(
  env: Env,
  workspaceId: string,
  cutoff: number,
): Promise<{ objects: number; messageIds: string[]; more: boolean }> {
  const limit = 50;
  const stubs = await stubsPastRetention(env.DB, workspaceId, cutoff, limit);
  const messageIds: string[] = [];
  let changed = 0;
  for (const stub of stubs) {
    const lines = await readArchive(env, stub.key);
    const holds = (l: ArchivedLine) => l.body !== "" || l.media.length > 0 || l.subject !== null || l.html !== null;
    // Only messages not erased by an earlier run count (a partly expired object is rewritten daily).
    const expired = (lines ?? []).filter((l) => l.createdAt < cutoff && holds(l));
    messageIds.push(...expired.map((l) => l.id));
    if (!lines || expired.length === 0) {
      await markStubErased(env.DB, stub.id, cutoff, stub.bytes);
      continue;
    }
    const erased = lines.map((l) =>
      l.createdAt < cutoff
        ? { ...l, body: "", media: [], subject: null, html: null, events: l.events.filter((e) => e.at >= cutoff) }
        : l,
    );
    const body = await gzipLines(erased);
    await env.FILES.put(stub.key, body, {
      httpMetadata: { contentType: "application/jsonl", contentEncoding: "gzip" },
      customMetadata: { workspaceId, conversationId: lines[0]?.conversationId ?? "", messages: String(lines.length) },
    });
    await markStubErased(env.DB, stub.id, cutoff, body.byteLength);
    changed++;
  }
  return { objects: changed, messageIds, more: stubs.length === limit };
}

export async function archiveSummary(env: Env, workspaceId: string) {
  const row = await archiveStats(env.DB, workspaceId);
  return {
    archiveAfterDays: row?.archiveAfterDays ?? null,
    archivedMessages: Number(row?.messages ?? 0),
    objects: Number(row?.objects ?? 0),
    bytes: Number(row?.bytes ?? 0),
    oldestArchivedAt: row?.oldest ? new Date(row.oldest).toISOString() : null,
    newestArchivedAt: row?.newest ? new Date(row.newest).toISOString() : null,
  };
}

/** The R2 prefixes that hold a workspace's files: attachments, archives, imports, exports. */
const WORKSPACE_PREFIXES = ["attachments", "archive", "imports", "exports"];

/**
 * Deletes every object of a deleted workspace (its rows went by cascade), page by page. Returns how many.
 * Runs after the response (waitUntil); a failure is logged and leaves objects nobody can reach.
 */
export async function deleteWorkspaceFiles(env: Env, workspaceId: string): Promise<number> {
  let deleted = 0;
  for (const prefix of WORKSPACE_PREFIXES) {
    let cursor: string | undefined;
    do {
      const page = await env.FILES.list({ prefix: `${prefix}/${workspaceId}/`, cursor, limit: 1000 });
      if (page.objects.length > 0) {
        await env.FILES.delete(page.objects.map((o) => o.key));
        deleted += page.objects.length;
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }
  return deleted;
}

/**
 * The files a contact's conversations hold — their archive objects, and the attachments of their
 * messages, live or archived — read before the rows go; `deleteFiles` removes them after.
 */
export async function filesOfConversations(env: Env, workspaceId: string, conversationIds: string[]) {
  const stubs = await stubsOfConversations(env.DB, workspaceId, conversationIds);
  const lines = (await Promise.all(stubs.map((s) => readArchive(env, s.key)))).flatMap((l) => l ?? []);
  const archivedIds = lines.flatMap((l) => l.media.flatMap((m) => (m.attachmentId ? [m.attachmentId] : [])));
  const db = createDb(env.DB);
  const live = await attachmentsOfConversations(db, workspaceId, conversationIds);
  const archived = archivedIds.length > 0 ? await attachmentsByIds(db, workspaceId, archivedIds) : [];
  return {
    objectKeys: [...stubs.map((s) => s.key), ...live.map((a) => a.key), ...archived.map((a) => a.key)],
    attachmentIds: [...live, ...archived].map((a) => a.id),
  };
}

/** Deletes files found by filesOfConversations (rows first, then objects). */
export async function deleteFiles(env: Env, files: { objectKeys: string[]; attachmentIds: string[] }) {
  await deleteAttachments(createDb(env.DB), files.attachmentIds);
  for (let i = 0; i < files.objectKeys.length; i += 1000) await env.FILES.delete(files.objectKeys.slice(i, i + 1000));
}
