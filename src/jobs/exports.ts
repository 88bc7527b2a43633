/**
 * Exports: contacts (CSV) and conversation transcripts over a date range (CSV or JSON), written to R2
 * by the jobs queue page by page through a multipart upload (parts of ≥ 5 MB, as R2 requires), so no
 * invocation holds more than a part. The download link carries a token and expires.
 */

import { eq } from "drizzle-orm";
import { z } from "zod";
import { createDb } from "../db/client";
import { contactsPage, transcriptPage } from "../db/queries/exports";
import { exportsTable } from "../db/schema";
import { csvCell } from "../domain/csv";
import { log } from "../log";

export const EXPORT_LINK_TTL_MS = 24 * 60 * 60 * 1000;
const PAGE = 1000;
const PART_BYTES = 5 * 1024 * 1024;

export const ExportJobSchema = z.object({ kind: z.literal("export"), exportId: z.string().min(1).max(64) });

type ExportRow = typeof exportsTable.$inferSelect;

export function presentExport(row: ExportRow, url: string | null) {
  return {
    id: row.id,
    kind: row.kind,
    format: row.format,
    from: row.rangeFrom === null ? null : new Date(row.rangeFrom).toISOString(),
    to: row.rangeTo === null ? null : new Date(row.rangeTo).toISOString(),
    status: row.status,
    rows: row.rows,
    failure: row.failure,
    expiresAt: new Date(row.expiresAt).toISOString(),
    createdAt: new Date(row.createdAt).toISOString(),
    finishedAt: row.finishedAt ? new Date(row.finishedAt).toISOString() : null,
    url,
  };
}

/** Writes the whole export (page by page into multipart parts); returns the number of rows. */
async function write(env: Env, row: ExportRow): Promise<number> {
  const upload = await env.FILES.createMultipartUpload(row.fileKey, {
    httpMetadata: { contentType: row.format === "json" ? "application/json" : "text/csv; charset=utf-8" },
  });
  const parts: R2UploadedPart[] = [];
  let buffer = "";
  const flush = async (last: boolean) => {
    const bytes = new TextEncoder().encode(buffer);
    if (bytes.length === 0 || (!last && bytes.length < PART_BYTES)) return;
    parts.push(await upload.uploadPart(parts.length + 1, bytes));
    buffer = "";
  };
  let rows = 0;
  let after = 0;
  try {
    if (row.kind === "contacts") {
      buffer += "id,name,phone,email,timezone,opted_out,created_at,fields,merged_into\r\n";
      for (;;) {
        const page = await contactsPage(env.DB, row.workspaceId, after, PAGE);
        for (const c of page) {
          buffer += `${[
            c.id,
            c.name,
            c.phone,
            c.email,
            c.timezone,
            c.optedOut ? "yes" : "no",
            new Date(c.createdAt).toISOString(),
            c.fields,
            c.mergedInto,
          ]
            .map(csvCell)
            .join(",")}\r\n`;
        }
        rows += page.length;
        await flush(false);
        if (page.length < PAGE) break;
        after = page.at(-1)?.r ?? after;
      }
    } else {
      const range = { from: row.rangeFrom ?? 0, to: row.rangeTo ?? Number.MAX_SAFE_INTEGER };
      const json = row.format === "json";
      buffer += json ? "[" : "conversation_id,contact,seq,direction,from,to,body,status,sent_by,created_at\r\n";
      for (;;) {
        const page = await transcriptPage(env.DB, row.workspaceId, range, after, PAGE);
        for (const m of page) {
          const at = new Date(m.createdAt).toISOString();
          if (json) {
            const { r: _r, ...rest } = m;
            buffer += `${rows > 0 ? "," : ""}\n${JSON.stringify({ ...rest, createdAt: at })}`;
          } else {
            buffer += `${[
              m.conversationId,
              m.contactName,
              m.seq,
              m.direction,
              m.from,
              m.to,
              m.body,
              m.status,
              m.sentBy,
              at,
            ]
              .map(csvCell)
              .join(",")}\r\n`;
          }
          rows++;
        }
        await flush(false);
        if (page.length < PAGE) break;
        after = page.at(-1)?.r ?? after;
      }
      if (json) buffer += "\n]\n";
    }
    await flush(true);
    await upload.complete(parts);
    return rows;
  } catch (err) {
    await upload.abort().catch(() => undefined);
    throw err;
  }
}

export async function processExport(env: Env, exportId: string): Promise<void> {
  const typed = await createDb(env.DB).query.exportsTable.findFirst({ where: eq(exportsTable.id, exportId) });
  if (!typed || typed.status === "done" || typed.status === "failed") return;
  try {
    const rows = await write(env, typed);
    await env.DB.prepare("UPDATE exports SET status = 'done', rows = ?2, finished_at = ?3 WHERE id = ?1")
      .bind(exportId, rows, Date.now())
      .run();
  } catch (err) {
    log("error", "export failed", { exportId, error: String(err) });
    await env.DB.prepare("UPDATE exports SET status = 'failed', failure = ?2, finished_at = ?3 WHERE id = ?1")
      .bind(exportId, "The export could not be written; start it again.", Date.now())
      .run();
  }
}
