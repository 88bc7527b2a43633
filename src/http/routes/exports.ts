/** Exports: contacts and transcripts, written in the background; the download link expires. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { exportsTable } from "../../db/schema";
import { ApiError, notFound, validationFailed } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { EXPORT_LINK_TTL_MS, presentExport } from "../../jobs/exports";
import { randomToken, sha256Hex, timingSafeEqualStrings } from "../../security/crypto";
import type { AppEnv } from "../context";
import { errorResponses, IdParam, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const ExportSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["contacts", "transcripts"]),
    format: z.enum(["csv", "json"]),
    from: z.string().nullable(),
    to: z.string().nullable(),
    status: z.enum(["queued", "running", "done", "failed"]),
    rows: z.number().int(),
    failure: z.string().nullable(),
    expiresAt: z.string(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    url: z
      .string()
      .nullable()
      .openapi({ description: "The download link (only in the answer to the request that made it)" }),
  })
  .openapi("Export");

const createExportRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["exports"],
  summary: "Export contacts (CSV) or transcripts over a date range (CSV or JSON); 202, then GET it until done",
  security,
  request: {
    body: jsonBody(
      z
        .object({
          kind: z.enum(["contacts", "transcripts"]),
          format: z.enum(["csv", "json"]).default("csv"),
          from: z.string().datetime({ offset: true }).optional(),
          to: z.string().datetime({ offset: true }).optional(),
        })
        .strict(),
    ),
  },
  responses: { 202: jsonContent(ExportSchema, "Started"), ...errorResponses },
});

const getExportRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["exports"],
  summary: "An export's status",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(ExportSchema, "The export"), ...errorResponses },
});

const downloadRoute = createRoute({
  method: "get",
  path: "/{id}/download",
  tags: ["exports"],
  summary: "Download a finished export with its link's token (no session needed; the link expires after 24 h)",
  request: { params: IdParam, query: z.object({ token: z.string().min(10).max(100) }) },
  responses: { 200: { description: "The file" }, ...errorResponses },
});

export const exportRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createExportRoute, async (c) => {
    const principal = c.get("principal");
    const input = c.req.valid("json");
    if (input.kind === "contacts" && input.format === "json") {
      throw validationFailed([{ path: "format", message: "contacts export as csv" }]);
    }
    const from = input.from ? Date.parse(input.from) : null;
    const to = input.to ? Date.parse(input.to) : null;
    if (from !== null && to !== null && from >= to)
      throw validationFailed([{ path: "to", message: "must be after from" }]);
    const id = newId("exp");
    const token = randomToken(24);
    const now = Date.now();
    const row = {
      id,
      workspaceId: principal.workspaceId,
      kind: input.kind,
      format: input.format,
      rangeFrom: from,
      rangeTo: to,
      status: "queued" as const,
      fileKey: `exports/${principal.workspaceId}/${id}.${input.format}`,
      tokenHash: await sha256Hex(token),
      expiresAt: now + EXPORT_LINK_TTL_MS,
      createdBy: principal.userId ?? principal.credentialId,
      createdAt: now,
    };
    const db = c.get("db");
    await db.insert(exportsTable).values(row);
    await audit(db, principal, "export.created", "export", id, {
      kind: input.kind,
      format: input.format,
      from: input.from,
      to: input.to,
    });
    await c.env.JOBS.send({ kind: "export", exportId: id });
    const url = `/api/exports/${id}/download?token=${encodeURIComponent(token)}`;
    return c.json(presentExport({ ...row, rows: 0, failure: null, finishedAt: null }, url), 202);
  })
  .openapi(getExportRoute, async (c) => {
    const row = await c.get("db").query.exportsTable.findFirst({
      where: and(
        eq(exportsTable.id, c.req.valid("param").id),
        eq(exportsTable.workspaceId, c.get("principal").workspaceId),
      ),
    });
    if (!row) throw notFound("Export");
    return c.json(presentExport(row, null), 200);
  })
  .openapi(downloadRoute, async (c) => {
    const { id } = c.req.valid("param");
    const row = await c.get("db").query.exportsTable.findFirst({ where: eq(exportsTable.id, id) });
    const given = await sha256Hex(c.req.valid("query").token);
    if (!row || !timingSafeEqualStrings(given, row.tokenHash)) throw notFound("Export");
    if (row.expiresAt <= Date.now())
      throw new ApiError(410, "link_expired", "This download link has expired; export again.");
    if (row.status !== "done")
      throw new ApiError(409, "not_ready", `The export is ${row.status}; try again when it is done.`);
    const object = await c.env.FILES.get(row.fileKey);
    if (!object) throw notFound("Export");
    return new Response(object.body, {
      headers: {
        "Content-Type": row.format === "json" ? "application/json" : "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="parley-${row.kind}-${row.id}.${row.format}"`,
        "Cache-Control": "private, no-store",
      },
    });
  });
