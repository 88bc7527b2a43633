/**
 * Campaigns: one text to an audience, sent as `bulk` priority so conversations go first.
 *
 * Lifecycle: draft → (start) running, or scheduled until `sendAt` (the minute cron starts it) →
 * paused ⇄ running → completed; canceled from any state before completed. Every transition is one
 * conditional UPDATE that bumps the campaign's `generation`, so only one fan-out chain runs at a time:
 * a tick of an older generation stops.
 *
 * The fan-out is a chain of ticks on the jobs queue (about one a second while running). A tick tops the
 * campaign's backlog up to ~10 s of its numbers' sending rate with the next chunk of the audience (in
 * contact-id order): each recipient first gets a campaign_recipients row (primary key campaign +
 * contact) holding the message id chosen for it, then the message is appended through its thread's
 * room with the idempotency key `campaign:<id>:<contact>` and enqueued on the bulk queue. A tick
 * that crashes is redone from the same cursor: the rows and keys make every recipient's message
 * happen at most once. Opted-out numbers are skipped (and counted); quiet hours defer a recipient's
 * message to the end of their night; recipients are spread round-robin over the campaign's numbers
 * (a contact who already has a thread from one of them keeps it). Each sender's SenderPacer paces the
 * sends and puts conversation sends ahead of the campaign's. Pause holds the pacers' waiting sends at
 * once and the claim skips the rest; an opt-out rate above the workspace's threshold pauses it and
 * tells the admins. Each tick pushes a `campaign` frame with the counts to the workspace's inboxes.
 */
import { and, eq, inArray, isNull, lt, lte, or, sql } from "drizzle-orm";
import { z } from "zod";
import { createDb, type Db } from "../db/client";
import {
  audienceChunk,
  type CampaignCountRow,
  type CampaignRow,
  campaignBacklog,
  campaignCounts,
  emptyCounts,
  waitingCampaignMessages,
} from "../db/queries/campaigns";
import { templateWithNames } from "../db/queries/templates";
import { campaigns } from "../db/schema";
import { newId } from "../domain/ids";
import { quietHoursDecision, recipientZone } from "../domain/quiet-hours";
import { analyzeSegments } from "../domain/segments";
import { renderTemplate } from "../domain/templates";
import { iso } from "../domain/time";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { inboxFor } from "../rooms/inbox-stream";
import { pacerFor } from "../rooms/sender-pacer";
import type { CampaignJson } from "../shared/frames";
import { MAX_BODY_CHARS } from "../shared/limits";
import { parseQuietHours } from "../shared/policies";
import { emitEvent } from "./events";
import { notify } from "./notify";
import { enqueueOutboundMany } from "./outbox";

export const CampaignTickSchema = z.object({
  kind: z.literal("campaign"),
  campaignId: z.string().min(1).max(64),
  generation: z.number().int().min(0),
});
export type CampaignTick = z.infer<typeof CampaignTickSchema>;

/** Recipients per fan-out chunk. */
export const CHUNK = 100;
/** Seconds of sending the backlog is topped up to (enough to keep the bulk queue's batches full). */
const BACKLOG_SECONDS = 10;
/** The rate assumed for a number without one (messages per second) when sizing the backlog. */
const UNPACED_RATE = 10;
/** An opt-out rate is judged only once this many messages went out (one STOP in ten is not a trend). */
export const OPT_OUT_MIN_SAMPLE = 50;
export const DEFAULT_OPT_OUT_PAUSE_PCT = 2;
/** A running campaign whose chain has not ticked for this long gets a new one (the cron checks). */
export const STALLED_TICK_MS = 60_000;

export function presentCampaign(row: CampaignRow, counts: CampaignCountRow): CampaignJson {
  const audience = Math.max(row.audienceCount, counts.recipients);
  const handled = counts.sent + counts.failed + counts.skippedOptOut + counts.canceled;
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    audience: row.audience,
    templateId: row.templateId,
    body: row.body,
    numberIds: row.numberIds,
    sendAt: iso(row.sendAt),
    pausedReason: row.pausedReason,
    counts: {
      audience,
      queued: counts.queued,
      sent: counts.sent,
      delivered: counts.delivered,
      failed: counts.failed,
      skippedOptOut: counts.skippedOptOut,
      skippedQuietHours: counts.skippedQuietHours,
      replied: counts.replied,
      optedOut: counts.optedOut,
      canceled: counts.canceled,
    },
    progress: row.status === "completed" ? 1 : audience > 0 ? Math.min(1, handled / audience) : 0,
    createdAt: iso(row.createdAt) ?? new Date(row.createdAt).toISOString(),
    startedAt: iso(row.startedAt),
    completedAt: iso(row.completedAt),
  };
}

export async function campaignJson(env: Env, row: CampaignRow): Promise<CampaignJson> {
  const counts = row.status === "draft" ? emptyCounts() : await campaignCounts(env.DB, row.id);
  return presentCampaign(row, counts);
}

/** Pushes the campaign's progress to the workspace's open inboxes (best effort). */
export async function publishCampaign(env: Env, row: CampaignRow, counts?: CampaignCountRow): Promise<CampaignJson> {
  const json = counts ? presentCampaign(row, counts) : await campaignJson(env, row);
  await inboxFor(env, row.workspaceId)
    .broadcast({ type: "campaign", campaign: json })
    .catch(() => undefined);
  return json;
}

export async function enqueueTick(env: Env, campaignId: string, generation: number, delaySeconds = 0) {
  const job: CampaignTick = { kind: "campaign", campaignId, generation };
  await env.JOBS.send(job, delaySeconds > 0 ? { delaySeconds } : undefined);
}

/**
 * A state change as one conditional UPDATE (`from` lists the states it may leave), bumping the
 * generation; null when the campaign was not in one of them (someone else moved it first).
 */
export async function transition(
  d1: D1Database,
  workspaceId: string,
  id: string,
  from: CampaignRow["status"][],
  to: CampaignRow["status"],
  set: { pausedReason?: string | null; startedAt?: number; completedAt?: number; audienceCount?: number } = {},
): Promise<CampaignRow | null> {
  const now = Date.now();
  const [row] = await createDb(d1)
    .update(campaigns)
    .set({
      status: to,
      generation: sql`${campaigns.generation} + 1`,
      updatedAt: now,
      tickedAt: now,
      pausedReason: set.pausedReason ?? null,
      ...(set.startedAt ? { startedAt: sql`coalesce(${campaigns.startedAt}, ${set.startedAt})` } : {}),
      ...(set.completedAt ? { completedAt: set.completedAt } : {}),
      ...(set.audienceCount !== undefined ? { audienceCount: set.audienceCount } : {}),
    })
    .where(and(eq(campaigns.workspaceId, workspaceId), eq(campaigns.id, id), inArray(campaigns.status, from)))
    .returning();
  return row ?? null;
}

/** The campaign's sender numbers that still belong to its workspace, with their rates. */
export async function campaignSenders(d1: D1Database, row: Pick<CampaignRow, "workspaceId" | "numberIds">) {
  const { results } = await d1
    .prepare(
      `SELECT id, phone_number AS phone, rate_per_second AS rate FROM numbers
       WHERE workspace_id = ?1 AND id IN (SELECT value FROM json_each(?2)) ORDER BY phone_number`,
    )
    .bind(row.workspaceId, JSON.stringify(row.numberIds))
    .all<{ id: string; phone: string; rate: number | null }>();
  return results;
}

/** Stops the campaign's sends waiting at its numbers' pacers (pause, cancel) or lets them go again (resume). */
export async function holdPacers(env: Env, row: CampaignRow, hold: boolean): Promise<void> {
  const senders = await campaignSenders(env.DB, row);
  await Promise.all(
    senders.map((s) =>
      (hold ? pacerFor(env, s.phone).hold(row.id) : pacerFor(env, s.phone).release(row.id)).catch((err: unknown) =>
        log("warn", "could not reach a sender's pacer", { campaignId: row.id, error: String(err) }),
      ),
    ),
  );
}

/** Resume: the messages made before the pause go back on the bulk queue, and the fan-out continues. */
export async function afterResume(env: Env, row: CampaignRow): Promise<void> {
  await holdPacers(env, row, false);
  const [waiting, senders] = await Promise.all([
    waitingCampaignMessages(env.DB, row.id, 1000),
    campaignSenders(env.DB, row),
  ]);
  const rates = new Map(senders.map((s) => [s.phone, s.rate]));
  await enqueueOutboundMany(
    env,
    waiting
      .filter((m) => m.status === "pending")
      .map((m) => ({
        id: m.id,
        bulk: true,
        workspaceId: m.workspaceId,
        from: m.fromNumber,
        rate: rates.get(m.fromNumber),
      })),
  );
  await enqueueTick(env, row.id, row.generation);
}

/** One tick of a campaign's chain; returns the delay before the next, or null when the chain ends. */
export async function runCampaignTick(env: Env, job: CampaignTick): Promise<number | null> {
  const db = createDb(env.DB);
  const row = await db.query.campaigns.findFirst({ where: (c, { eq }) => eq(c.id, job.campaignId) });
  if (!row || row.generation !== job.generation) return null;
  if (row.status === "canceled") return cancelWaiting(env, row);
  if (row.status !== "running") return null;
  const senders = await campaignSenders(env.DB, row);
  if (senders.length === 0) {
    const paused = await transition(env.DB, row.workspaceId, row.id, ["running"], "paused", {
      pausedReason: "no_senders",
    });
    if (paused) await publishCampaign(env, paused);
    return null;
  }
  let current = row;
  if (!row.fanoutDone) {
    const backlog = await campaignBacklog(env.DB, row.id);
    const rate = senders.reduce((sum, s) => sum + (s.rate ?? UNPACED_RATE), 0);
    const target = Math.min(500, Math.max(CHUNK, rate * BACKLOG_SECONDS));
    if (backlog.pending < target) current = (await fanOutChunk(env, db, row, senders)) ?? row;
  }
  const counts = await campaignCounts(env.DB, row.id);
  // Too many opt-outs: pause, tell the admins.
  const handedOver = counts.sent + counts.failed;
  const threshold = await optOutThreshold(env.DB, row.workspaceId);
  if (handedOver >= OPT_OUT_MIN_SAMPLE && counts.optedOut * 100 > threshold * handedOver) {
    const paused = await transition(env.DB, row.workspaceId, row.id, ["running"], "paused", {
      pausedReason: "opt_out_rate",
    });
    if (paused) {
      await holdPacers(env, paused, true);
      await autoPaused(env, db, paused, counts, threshold);
      await publishCampaign(env, paused, counts);
    }
    return null;
  }
  if (current.fanoutDone && counts.queued === 0 && counts.recipients >= current.fannedOut) {
    const done = await transition(env.DB, row.workspaceId, row.id, ["running"], "completed", {
      completedAt: Date.now(),
    });
    if (done) {
      await systemAudit(env.DB, done, "campaign.completed", { counts });
      await publishCampaign(env, done, counts);
      await emitEvent(env, done.workspaceId, "campaign.completed", { campaignId: done.id, name: done.name, counts });
    }
    return null;
  }
  await env.DB.prepare("UPDATE campaigns SET ticked_at = ?2 WHERE id = ?1 AND generation = ?3")
    .bind(row.id, Date.now(), row.generation)
    .run();
  await publishCampaign(env, current, counts);
  // Once everyone has a message, only deferred ones (quiet hours) remain to watch: tick slower.
  return current.fanoutDone && counts.queued === counts.skippedQuietHours ? 30 : 1;
}

async function optOutThreshold(d1: D1Database, workspaceId: string): Promise<number> {
  const row = await d1
    .prepare("SELECT campaign_opt_out_pause_pct AS pct FROM workspaces WHERE id = ?")
    .bind(workspaceId)
    .first<{ pct: number | null }>();
  return row?.pct ?? DEFAULT_OPT_OUT_PAUSE_PCT;
}

async function systemAudit(d1: D1Database, row: CampaignRow, action: string, data: Record<string, unknown>) {
  await d1
    .prepare(
      `INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, target_type, target_id, data)
       VALUES (?1, 'system', NULL, ?2, 'campaign', ?3, ?4)`,
    )
    .bind(row.workspaceId, action, row.id, JSON.stringify({ name: row.name, ...data }))
    .run();
}

/** An automatic pause: audited, and every owner and admin notified. */
async function autoPaused(env: Env, db: Db, row: CampaignRow, counts: CampaignCountRow, threshold: number) {
  const rate = counts.optedOut / Math.max(1, counts.sent + counts.failed);
  await systemAudit(env.DB, row, "campaign.paused", {
    reason: "opt_out_rate",
    optedOut: counts.optedOut,
    sent: counts.sent + counts.failed,
    rate: Math.round(rate * 1000) / 10,
    thresholdPct: threshold,
  });
  const { results } = await env.DB.prepare(
    "SELECT user_id AS userId FROM memberships WHERE workspace_id = ? AND role IN ('owner', 'admin')",
  )
    .bind(row.workspaceId)
    .all<{ userId: string }>();
  await notify(
    env,
    db,
    results.map((m) => ({
      workspaceId: row.workspaceId,
      userId: m.userId,
      type: "campaign_paused" as const,
      conversationId: null,
      actor: { type: "system" as const, id: row.id, name: row.name },
    })),
  ).catch((err: unknown) => log("warn", "could not notify admins of a paused campaign", { error: String(err) }));
}

/** After cancel: the campaign's messages that have not gone are canceled (a page per tick). */
async function cancelWaiting(env: Env, row: CampaignRow): Promise<number | null> {
  const waiting = await waitingCampaignMessages(env.DB, row.id, CHUNK);
  await Promise.all(
    waiting.map((m) =>
      roomFor(env, m.conversationId)
        .applyStatus({
          messageId: m.id,
          status: "canceled",
          errorMessage: "Canceled with its campaign.",
          source: "api",
          at: Date.now(),
          requireStatus: ["pending", "scheduled"],
        })
        .catch((err: unknown) => log("warn", "could not cancel a campaign message", { id: m.id, error: String(err) })),
    ),
  );
  await publishCampaign(env, row);
  return waiting.length === CHUNK ? 0 : null;
}

interface Sender {
  id: string;
  phone: string;
  rate: number | null;
}

/** The campaign's text for one contact, or null when the template needs data the contact lacks. */
type Renderer = (contact: {
  name: string | null;
  phone: string;
  email: string | null;
  fields: Record<string, string>;
}) => string | null;

async function rendererFor(db: Db, d1: D1Database, row: CampaignRow): Promise<Renderer> {
  // A template's text, or the campaign's own (placeholders work in both).
  let body = row.body ?? "";
  let workspaceName = "";
  let agentName: string | null = null;
  if (row.templateId) {
    const found = await templateWithNames(db, row.workspaceId, row.templateId, row.createdBy);
    if (!found) return () => null;
    ({ workspaceName, agentName } = found);
    body = found.template.body;
  } else {
    const names = await d1
      .prepare(
        "SELECT (SELECT name FROM workspaces WHERE id = ?1) AS workspaceName, (SELECT name FROM users WHERE id = ?2) AS agentName",
      )
      .bind(row.workspaceId, row.createdBy)
      .first<{ workspaceName: string; agentName: string | null }>();
    workspaceName = names?.workspaceName ?? "";
    agentName = names?.agentName ?? null;
  }
  return (contact) => {
    const result = renderTemplate(body, { contact, agent: { name: agentName }, workspace: { name: workspaceName } });
    return result.ok && result.body.trim() && result.body.length <= MAX_BODY_CHARS ? result.body : null;
  };
}

/**
 * The next chunk of the audience: recipient rows first (each with its message id), then each message
 * through its room, then the cursor. Returns the campaign as it stands after the chunk.
 */
async function fanOutChunk(env: Env, db: Db, row: CampaignRow, senders: Sender[]): Promise<CampaignRow | null> {
  const members = await audienceChunk(
    db,
    row.workspaceId,
    row.audience,
    row.cursor,
    CHUNK,
    senders.map((s) => s.phone),
  );
  const now = Date.now();
  const render = await rendererFor(db, env.DB, row);
  const policy = await env.DB.prepare("SELECT quiet_hours AS quietHours, timezone FROM workspaces WHERE id = ?")
    .bind(row.workspaceId)
    .first<{ quietHours: string | null; timezone: string }>();
  const quiet = parseQuietHours(policy?.quietHours ?? null);

  interface Planned {
    contactId: string;
    phone: string;
    fromNumber: string;
    messageId: string | null;
    outcome: "message" | "skipped_opt_out" | "skipped_invalid";
    body: string | null;
    sendAt: number | null;
  }
  const phones = senders.map((s) => s.phone);
  const planned: Planned[] = members.map((m, i) => {
    // Round-robin by position in the audience, so the numbers share the work evenly.
    const fromNumber = m.usualSender ?? phones[(row.fannedOut + i) % phones.length] ?? "";
    if (m.suppressed) {
      return {
        contactId: m.id,
        phone: m.phone,
        fromNumber,
        messageId: null,
        outcome: "skipped_opt_out",
        body: null,
        sendAt: null,
      };
    }
    const body = render(m);
    if (body === null) {
      return {
        contactId: m.id,
        phone: m.phone,
        fromNumber,
        messageId: null,
        outcome: "skipped_invalid",
        body: null,
        sendAt: null,
      };
    }
    // Quiet hours defer a campaign's message to the end of the recipient's night (never refuse it).
    const { zone } = recipientZone(m, policy?.timezone ?? "UTC", now);
    const decision = quietHoursDecision({
      quiet: quiet ? { ...quiet, mode: "defer" } : null,
      at: now,
      zone,
      lastInboundAt: m.lastInboundAt,
      now,
    });
    return {
      contactId: m.id,
      phone: m.phone,
      fromNumber,
      messageId: newId("msg"),
      outcome: "message",
      body,
      sendAt: decision.action === "defer" ? decision.until : null,
    };
  });

  if (planned.length > 0) {
    // Threads that do not exist yet start resolved (a reply reopens them), so a campaign does not fill
    // the open inbox; then the recipient rows (first write wins); then what is stored.
    const threads = planned
      .filter((p) => p.outcome === "message")
      .map((p) => ({ id: newId("cv"), contactId: p.contactId, fromNumber: p.fromNumber }));
    const recipients = planned.map((p) => ({
      contactId: p.contactId,
      phone: p.phone,
      fromNumber: p.fromNumber,
      messageId: p.messageId,
      outcome: p.outcome,
    }));
    const [created, , stored] = await env.DB.batch([
      env.DB.prepare(
        `INSERT OR IGNORE INTO conversations (id, workspace_id, contact_id, from_number, status, last_message_at, created_at)
         SELECT json_extract(value, '$.id'), ?1, json_extract(value, '$.contactId'), json_extract(value, '$.fromNumber'), 'resolved', ?2, ?2
         FROM json_each(?3) WHERE true RETURNING id`,
      ).bind(row.workspaceId, now, JSON.stringify(threads)),
      env.DB.prepare(
        `INSERT OR IGNORE INTO campaign_recipients (campaign_id, contact_id, workspace_id, phone, from_number, message_id, outcome, created_at)
         SELECT ?1, json_extract(value, '$.contactId'), ?2, json_extract(value, '$.phone'), json_extract(value, '$.fromNumber'),
           json_extract(value, '$.messageId'), json_extract(value, '$.outcome'), ?3
         FROM json_each(?4)`,
      ).bind(row.id, row.workspaceId, now, JSON.stringify(recipients)),
      env.DB.prepare(
        `SELECT r.contact_id AS contactId, r.message_id AS messageId, r.from_number AS fromNumber, r.outcome,
           cv.id AS conversationId, cv.status AS conversationStatus
         FROM campaign_recipients r
           LEFT JOIN conversations cv ON cv.workspace_id = r.workspace_id AND cv.contact_id = r.contact_id AND cv.from_number = r.from_number
         WHERE r.campaign_id = ?1 AND r.contact_id IN (SELECT json_extract(value, '$.contactId') FROM json_each(?2))`,
      ).bind(row.id, JSON.stringify(recipients)),
    ]);
    const byContact = new Map(planned.map((p) => [p.contactId, p]));
    const toSend = (
      (stored?.results ?? []) as {
        contactId: string;
        messageId: string | null;
        fromNumber: string;
        outcome: string;
        conversationId: string | null;
      }[]
    ).filter((r) => r.outcome === "message" && r.messageId && r.conversationId);
    const enqueue: { id: string; from: string }[] = [];
    // A thread this chunk just created has nothing to order its first message against and nobody
    // watching it: its messages are written in one batch for the whole chunk (seq 1, as D1 takes it),
    // and its room comes to life with the first status change, reading its seq from D1 as any room does.
    // (Making 100 rooms at once would stall every sender's turns on the dev runtime's one thread.)
    const fresh = new Set(((created?.results ?? []) as { id: string }[]).map((c) => c.id));
    const firsts = toSend.filter((r) => r.conversationId && fresh.has(r.conversationId));
    if (firsts.length > 0) {
      const rows = firsts.flatMap((r) => {
        const plan = byContact.get(r.contactId);
        if (!plan?.body || !r.messageId) return [];
        const { encoding, segments } = analyzeSegments(plan.body);
        return [
          {
            id: r.messageId,
            cv: r.conversationId,
            from: r.fromNumber,
            to: plan.phone,
            body: plan.body,
            status: plan.sendAt === null ? "pending" : "scheduled",
            sendAt: plan.sendAt,
            deferred: plan.sendAt === null ? null : "quiet_hours",
            segments,
            encoding,
            key: `campaign:${row.id}:${r.contactId}`,
          },
        ];
      });
      const json = JSON.stringify(rows);
      const at = Date.now();
      await env.DB.batch([
        env.DB.prepare(
          `INSERT OR IGNORE INTO messages (id, workspace_id, conversation_id, seq, direction, channel, from_number, to_number,
             body, status, segments, encoding, idempotency_key, send_at, deferred_reason, campaign_id, created_by,
             sent_by_type, sent_by_name, created_at, updated_at)
           SELECT json_extract(j.value, '$.id'), ?1, json_extract(j.value, '$.cv'),
             1 + coalesce((SELECT max(m.seq) FROM messages m WHERE m.conversation_id = json_extract(j.value, '$.cv')), 0),
             'outbound', 'sms', json_extract(j.value, '$.from'), json_extract(j.value, '$.to'), json_extract(j.value, '$.body'),
             json_extract(j.value, '$.status'), json_extract(j.value, '$.segments'), json_extract(j.value, '$.encoding'),
             json_extract(j.value, '$.key'), json_extract(j.value, '$.sendAt'), json_extract(j.value, '$.deferred'),
             ?2, ?2, 'campaign', ?3, ?4, ?4
           FROM json_each(?5) j`,
        ).bind(row.workspaceId, row.id, row.name, at, json),
        env.DB.prepare(
          `INSERT INTO message_events (workspace_id, message_id, status, source, at)
           SELECT ?1, m.id, m.status, 'api', ?2 FROM messages m
           WHERE m.id IN (SELECT json_extract(value, '$.id') FROM json_each(?3))
             AND NOT EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id)`,
        ).bind(row.workspaceId, at, json),
        env.DB.prepare(
          `UPDATE conversations SET last_seq = m.seq, last_message_id = m.id, last_message_at = m.created_at, campaign_id = ?1
           FROM messages m
           WHERE m.id IN (SELECT json_extract(value, '$.id') FROM json_each(?2)) AND m.conversation_id = conversations.id`,
        ).bind(row.id, json),
      ]);
      for (const r of rows) if (r.status === "pending") enqueue.push({ id: r.id, from: r.from });
    }
    const others = toSend.filter((r) => !(r.conversationId && fresh.has(r.conversationId)));
    // The rest through each thread's room (different threads: side by side, a few at a time).
    for (let i = 0; i < others.length; i += 20) {
      await Promise.all(
        others.slice(i, i + 20).map(async (r) => {
          const plan = byContact.get(r.contactId);
          if (!plan?.body || !r.messageId || !r.conversationId) return;
          const { encoding, segments } = analyzeSegments(plan.body);
          await roomFor(env, r.conversationId).appendMessage({
            id: r.messageId,
            workspaceId: row.workspaceId,
            conversationId: r.conversationId,
            direction: "outbound",
            channel: "sms",
            fromNumber: r.fromNumber,
            toNumber: plan.phone,
            body: plan.body,
            media: [],
            status: plan.sendAt === null ? "pending" : "scheduled",
            sendAt: plan.sendAt,
            deferredReason: plan.sendAt === null ? null : "quiet_hours",
            segments,
            encoding,
            idempotencyKey: `campaign:${row.id}:${r.contactId}`,
            idempotencyHash: null,
            campaignId: row.id,
            createdBy: row.id,
            sentByType: "campaign",
            sentByName: row.name,
            createdAt: Date.now(),
          });
          // A duplicate is this recipient's message from an earlier try of this chunk: enqueue it again
          // (the handover sends a message once, whatever the queue repeats).
          if (plan.sendAt === null) enqueue.push({ id: r.messageId, from: r.fromNumber });
        }),
      );
    }
    const rates = new Map(senders.map((s) => [s.phone, s.rate]));
    await enqueueOutboundMany(
      env,
      enqueue.map((m) => ({ ...m, bulk: true, workspaceId: row.workspaceId, rate: rates.get(m.from) ?? null })),
    );
  }
  const last = members.at(-1)?.id ?? row.cursor;
  const done = members.length < CHUNK;
  const [updated] = await db
    .update(campaigns)
    .set({
      cursor: last,
      fannedOut: sql`${campaigns.fannedOut} + ${members.length}`,
      fanoutDone: done,
      updatedAt: Date.now(),
    })
    .where(and(eq(campaigns.id, row.id), eq(campaigns.generation, row.generation)))
    .returning();
  return updated ?? null;
}

/** Cron: scheduled campaigns whose time came start; running ones whose chain stalled get a new one. */
export async function startDueCampaigns(env: Env, now: number): Promise<{ started: number; revived: number }> {
  const db = createDb(env.DB);
  const due = await db
    .update(campaigns)
    .set({
      status: "running",
      startedAt: sql`coalesce(${campaigns.startedAt}, ${now})`,
      generation: sql`${campaigns.generation} + 1`,
      updatedAt: now,
      tickedAt: now,
    })
    .where(and(eq(campaigns.status, "scheduled"), lte(campaigns.sendAt, now)))
    .returning({ id: campaigns.id, generation: campaigns.generation });
  const stalled = await db
    .update(campaigns)
    .set({ generation: sql`${campaigns.generation} + 1`, tickedAt: now })
    .where(
      and(
        eq(campaigns.status, "running"),
        or(isNull(campaigns.tickedAt), lt(campaigns.tickedAt, now - STALLED_TICK_MS)),
      ),
    )
    .returning({ id: campaigns.id, generation: campaigns.generation });
  for (const row of [...due, ...stalled]) await enqueueTick(env, row.id, row.generation);
  if (stalled.length > 0) log("warn", "revived stalled campaign fan-outs", { count: stalled.length });
  return { started: due.length, revived: stalled.length };
}
