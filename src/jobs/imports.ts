/**
 * CSV contact imports, chunk by chunk: the file waits in R2 (FILES); each job on the JOBS queue reads the
 * next CHUNK_BYTES from where the last stopped, parses the complete records in it, writes the chunk's
 * contacts in one batch and enqueues the next chunk. No request or invocation holds the whole file.
 * Progress goes to the workspace's open inboxes as `import` frames. A chunk that fails is retried by the
 * queue from the same offset; its writes are upserts, so a retry (or importing the same file twice)
 * changes nothing that is already there.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import { createDb } from "../db/client";
import {
  contactLabelStatements,
  contactsByPhone,
  type ImportedContact,
  importStatements,
  recordConsent,
} from "../db/queries/contacts";
import { imports } from "../db/schema";
import { parseCsvChunk } from "../domain/csv";
import { newId } from "../domain/ids";
import { toE164 } from "../domain/phone";
import { isTimeZone } from "../domain/zones";
import { log } from "../log";
import { ArchiveJobSchema, runArchiveJob } from "../messaging/archive";
import { copyInboundMedia, MediaJobSchema } from "../messaging/attachments";
import { CampaignTickSchema, enqueueTick, runCampaignTick } from "../messaging/campaigns";
import { attemptDelivery, DeliveryJobSchema } from "../messaging/events";
import { RetentionJobSchema, runRetentionJob } from "../messaging/retention";
import { inboxFor } from "../rooms/inbox-stream";
import type { ImportJson } from "../shared/frames";
import { ExportJobSchema, processExport } from "./exports";

export const CHUNK_BYTES = 64 * 1024;
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;
export const MAX_IMPORT_ROWS = 50_000;
export const MAX_REPORTED_ERRORS = 1000;

export const ImportJobSchema = z.object({ kind: z.literal("import"), importId: z.string().min(1).max(64) });

type ImportRow = typeof imports.$inferSelect;

export function presentImport(row: ImportRow): ImportJson {
  return {
    id: row.id,
    status: row.status,
    total: row.total,
    imported: row.imported,
    updated: row.updated,
    skipped: row.skipped,
    errors: row.errors.slice(0, 100),
    errorCount: row.errors.length,
    failure: row.failure,
    progress: row.fileBytes > 0 ? Math.min(1, row.byteOffset / row.fileBytes) : 1,
    createdAt: new Date(row.createdAt).toISOString(),
    finishedAt: row.finishedAt ? new Date(row.finishedAt).toISOString() : null,
  };
}

const OPTED_OUT = new Set(["no", "false", "0", "n", "opted out", "opted_out", "optout", "unsubscribed", "stop"]);

/** One chunk of an import; returns whether more chunks follow. */
export async function processImportChunk(env: Env, importId: string): Promise<"more" | "done"> {
  const db = createDb(env.DB);
  const row = await db.query.imports.findFirst({ where: eq(imports.id, importId) });
  if (!row || row.status === "done" || row.status === "failed") return "done";
  const object = await env.FILES.get(row.fileKey, { range: { offset: row.byteOffset, length: CHUNK_BYTES } });
  if (!object) return fail(env, row, "The uploaded file is gone.");
  const bytes = new Uint8Array(await object.arrayBuffer());
  const final = row.byteOffset + bytes.length >= row.fileBytes;
  // Keep a byte-order mark in the text (so offsets stay byte-exact) and skip it when parsing.
  const text = new TextDecoder("utf-8", { ignoreBOM: true, fatal: false }).decode(bytes, { stream: !final });
  const skip = row.byteOffset === 0 && text.startsWith("\uFEFF") ? 1 : 0;
  const { records, consumed } = parseCsvChunk(text.slice(skip), final);
  const consumedBytes = new TextEncoder().encode(text.slice(0, skip + consumed)).length;
  if (records.length === 0 && !final) {
    return fail(env, row, `A record is longer than ${CHUNK_BYTES / 1024} KB (an unclosed quote?).`);
  }

  let columns = row.columns;
  let data = records;
  if (!columns) {
    columns = (records[0] ?? []).map((c) => c.trim());
    data = records.slice(1);
    if (!row.mapping.phone || !columns.includes(row.mapping.phone)) {
      return fail(
        env,
        row,
        `No "${row.mapping.phone ?? "phone"}" column in the file (columns: ${columns.join(", ")}).`,
      );
    }
  }
  const at = (record: string[], target: string) => {
    const header = row.mapping[target];
    const index = header === undefined ? -1 : columns.indexOf(header);
    const value = index >= 0 ? record[index]?.trim() : undefined;
    return value ? value : null;
  };

  const firstRow = row.total + 2; // the header is row 1
  const errors: { row: number; reason: string }[] = [];
  const byPhone = new Map<string, ImportedContact & { optedOut: boolean }>();
  const labelled: { phone: string; label: string }[] = [];
  data.forEach((record, i) => {
    const rowNumber = firstRow + i;
    if (row.total + i >= MAX_IMPORT_ROWS) {
      errors.push({ row: rowNumber, reason: `over the ${MAX_IMPORT_ROWS.toLocaleString("en-US")}-row limit` });
      return;
    }
    const rawPhone = at(record, "phone");
    const phone = rawPhone ? toE164(rawPhone, row.defaultCountry) : null;
    if (!phone) {
      errors.push({
        row: rowNumber,
        reason: rawPhone ? `"${rawPhone}" is not a valid phone number` : "no phone number",
      });
      return;
    }
    const timezone = at(record, "timezone");
    if (timezone && !isTimeZone(timezone)) {
      errors.push({ row: rowNumber, reason: `"${timezone}" is not a time zone` });
      return;
    }
    const fields: Record<string, string> = {};
    for (const target of Object.keys(row.mapping)) {
      if (target.startsWith("fields.")) {
        const value = at(record, target);
        if (value) fields[target.slice(7)] = value;
      }
    }
    const consent = at(record, "consent");
    const earlier = byPhone.get(phone);
    const rowLabels = (at(record, "labels") ?? "")
      .split(/[;|]/)
      .map((l) => l.trim().slice(0, 40))
      .filter(Boolean);
    for (const label of [...row.labels, ...rowLabels]) labelled.push({ phone, label });
    byPhone.set(phone, {
      phone,
      name: at(record, "name") ?? earlier?.name ?? null,
      email: at(record, "email")?.toLowerCase() ?? earlier?.email ?? null,
      timezone: timezone ?? earlier?.timezone ?? null,
      fields: { ...earlier?.fields, ...fields },
      optedOut: consent !== null && OPTED_OUT.has(consent.toLowerCase()),
    });
  });

  // Compare with what is there: new contacts are inserted, changed ones updated, the rest left alone.
  const existing = new Map(
    (await contactsByPhone(env.DB, row.workspaceId, [...byPhone.keys()])).map((c) => [c.phone, c]),
  );
  const inserts: (ImportedContact & { id: string })[] = [];
  const updates: (ImportedContact & { id: string })[] = [];
  let unchanged = 0;
  for (const c of byPhone.values()) {
    const have = existing.get(c.phone);
    if (!have) {
      inserts.push({ ...c, id: newId("ct") });
      continue;
    }
    const merged = {
      id: have.id,
      phone: c.phone,
      name: c.name ?? have.name,
      email: c.email ?? have.email,
      timezone: c.timezone ?? have.timezone,
      fields: { ...(JSON.parse(have.fields || "{}") as Record<string, string>), ...c.fields },
    };
    const same =
      merged.name === have.name &&
      merged.email === have.email &&
      merged.timezone === have.timezone &&
      JSON.stringify(merged.fields) === JSON.stringify(JSON.parse(have.fields || "{}"));
    if (same) unchanged++;
    else updates.push(merged);
  }
  const now = Date.now();
  const duplicatesInChunk = data.length - errors.length - byPhone.size;
  const total = row.total + data.length;
  const done = final || row.byteOffset + consumedBytes >= row.fileBytes;
  const nextErrors = [...row.errors, ...errors].slice(0, MAX_REPORTED_ERRORS);
  await env.DB.batch([
    ...importStatements(env.DB, row.workspaceId, inserts, updates, now),
    ...contactLabelStatements(env.DB, row.workspaceId, labelled, now),
    env.DB.prepare(
      `UPDATE imports SET status = ?2, columns = ?3, byte_offset = ?4, total = ?5, imported = imported + ?6,
         updated = updated + ?7, skipped = skipped + ?8, errors = ?9, updated_at = ?10, finished_at = ?11
       WHERE id = ?1 AND byte_offset = ?12`,
    ).bind(
      row.id,
      done ? "done" : "running",
      JSON.stringify(columns),
      row.byteOffset + consumedBytes,
      total,
      inserts.length,
      updates.length,
      unchanged + errors.length + duplicatesInChunk,
      JSON.stringify(nextErrors),
      now,
      done ? now : null,
      row.byteOffset,
    ),
  ]);
  // Opted-out rows go on the suppression list (and so never into an audience).
  for (const c of byPhone.values()) {
    if (c.optedOut) {
      await recordConsent(db, row.workspaceId, c.phone, true, { source: "import", reference: row.id }, now);
    }
  }
  const updated = await db.query.imports.findFirst({ where: eq(imports.id, row.id) });
  if (updated) await publish(env, updated);
  return done ? "done" : "more";
}

async function fail(env: Env, row: ImportRow, reason: string): Promise<"done"> {
  const now = Date.now();
  await env.DB.prepare(
    "UPDATE imports SET status = 'failed', failure = ?2, updated_at = ?3, finished_at = ?3 WHERE id = ?1",
  )
    .bind(row.id, reason, now)
    .run();
  log("warn", "import failed", { importId: row.id, reason });
  await publish(env, { ...row, status: "failed", failure: reason, finishedAt: now });
  return "done";
}

async function publish(env: Env, row: ImportRow): Promise<void> {
  await inboxFor(env, row.workspaceId)
    .broadcast({ type: "import", import: presentImport(row) })
    .catch(() => undefined);
}

/** The jobs queue: one import chunk per message (the next chunk is a new message), one export, one campaign tick, one workspace's archiving. */
export async function handleJobsBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const delivery = DeliveryJobSchema.safeParse(message.body);
    if (delivery.success) {
      try {
        const { retryInSeconds } = await attemptDelivery(env, delivery.data.deliveryId);
        if (retryInSeconds !== null) await env.JOBS.send(delivery.data, { delaySeconds: retryInSeconds });
        message.ack();
      } catch (err) {
        log("warn", "webhook delivery failed on our side; retrying", { error: String(err) });
        message.retry({ delaySeconds: Math.min(300, 5 * 2 ** message.attempts) });
      }
      continue;
    }
    const media = MediaJobSchema.safeParse(message.body);
    if (media.success) {
      try {
        await copyInboundMedia(env, media.data.messageId);
        message.ack();
      } catch (err) {
        log("warn", "media copy failed; retrying", { messageId: media.data.messageId, error: String(err) });
        message.retry({ delaySeconds: Math.min(300, 5 * 2 ** message.attempts) });
      }
      continue;
    }
    const retention = RetentionJobSchema.safeParse(message.body);
    if (retention.success) {
      try {
        await runRetentionJob(env, retention.data, Date.now());
        message.ack();
      } catch (err) {
        log("error", "retention job failed; retrying", { workspaceId: retention.data.workspaceId, error: String(err) });
        message.retry({ delaySeconds: Math.min(600, 30 * 2 ** message.attempts) });
      }
      continue;
    }
    const archive = ArchiveJobSchema.safeParse(message.body);
    if (archive.success) {
      try {
        await runArchiveJob(env, archive.data, Date.now());
        message.ack();
      } catch (err) {
        log("error", "archive job failed; retrying", { workspaceId: archive.data.workspaceId, error: String(err) });
        message.retry({ delaySeconds: Math.min(600, 30 * 2 ** message.attempts) });
      }
      continue;
    }
    const exportJob = ExportJobSchema.safeParse(message.body);
    if (exportJob.success) {
      await processExport(env, exportJob.data.exportId);
      message.ack();
      continue;
    }
    const tick = CampaignTickSchema.safeParse(message.body);
    if (tick.success) {
      try {
        const delay = await runCampaignTick(env, tick.data);
        if (delay !== null) await enqueueTick(env, tick.data.campaignId, tick.data.generation, delay);
        message.ack();
      } catch (err) {
        log("error", "campaign tick failed; retrying", { campaignId: tick.data.campaignId, error: String(err) });
        message.retry({ delaySeconds: Math.min(30, 2 ** message.attempts) });
      }
      continue;
    }
    const job = ImportJobSchema.safeParse(message.body);
    if (!job.success) {
      log("error", "dropping a malformed job", { id: message.id });
      message.ack();
      continue;
    }
    try {
      const next = await processImportChunk(env, job.data.importId);
      if (next === "more") await env.JOBS.send(job.data);
      message.ack();
    } catch (err) {
      log("error", "import chunk failed; retrying", { importId: job.data.importId, error: String(err) });
      message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
    }
  }
}
