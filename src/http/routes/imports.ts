/** Contact imports: a CSV upload goes to R2 and is imported chunk by chunk in the background. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { imports } from "../../db/schema";
import { csvCell } from "../../domain/csv";
import { ApiError, notFound, unprocessable } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { MAX_IMPORT_BYTES, presentImport } from "../../jobs/imports";
import { ImportJsonSchema } from "../../shared/frames";
import type { AppEnv } from "../context";
import { errorResponses, IdParam, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const ImportSchema = z.object(ImportJsonSchema.shape).openapi("Import");
const TARGETS = /^(name|phone|email|consent|timezone|labels|fields\.[A-Za-z][A-Za-z0-9_]{0,39})$/;

/** `?map=phone:Mobile,name:Full name,fields.plan:Plan` → {target: header}; defaults to same-named columns. */
export function parseMapping(map: string | undefined): Record<string, string> {
  const mapping: Record<string, string> = {
    name: "name",
    phone: "phone",
    email: "email",
    consent: "consent",
    timezone: "timezone",
    labels: "labels",
  };
  if (!map) return mapping;
  for (const pair of map.split(",")) {
    const at = pair.indexOf(":");
    const target = pair.slice(0, at).trim();
    const header = pair.slice(at + 1).trim();
    if (at < 0 || !TARGETS.test(target) || !header) {
      throw unprocessable("validation_failed", `Invalid map entry "${pair}": use target:Column, e.g. phone:Mobile.`, {
        fields: [{ path: "map", message: `invalid entry "${pair}"` }],
      });
    }
    mapping[target] = header;
  }
  return mapping;
}

const createImportRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["imports"],
  summary:
    "Import contacts from a CSV file (text/csv body, ≤ 10 MB, ≤ 50,000 rows); 202, then poll or watch `import` frames",
  security,
  request: {
    query: z.object({
      map: z.string().max(2000).optional().openapi({
        description:
          "Which column fills what: target:Column pairs, comma-separated. Targets: name, phone, email, consent (no/false/unsubscribed/stop = opted out), timezone, labels (names separated by ; or |), fields.<key>. Default: columns of those names.",
        example: "phone:Mobile,name:Full name,fields.plan:Plan",
      }),
      labels: z.string().max(500).optional().openapi({
        description: "Label names put on every imported contact (comma-separated; created when missing)",
        example: "Newsletter,2026 fair",
      }),
      country: z
        .string()
        .regex(/^[A-Z]{2}$/, "a two-letter country code")
        .default("US")
        .openapi({ description: "For numbers written without a country code" }),
    }),
    body: { required: true, content: { "text/csv": { schema: z.string() } } },
  },
  responses: {
    202: jsonContent(ImportSchema, "Accepted; importing in the background"),
    413: jsonContent(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "Over 10 MB"),
    ...errorResponses,
  },
});

const getImportRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["imports"],
  summary: "An import's progress and errors",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(ImportSchema, "The import"), ...errorResponses },
});

const listImportsRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["imports"],
  summary: "Recent imports",
  security,
  responses: { 200: jsonContent(z.object({ items: z.array(ImportSchema) }), "Imports"), ...errorResponses },
});

const errorsRoute = createRoute({
  method: "get",
  path: "/{id}/errors.csv",
  tags: ["imports"],
  summary: "An import's rejected rows as CSV (row, reason)",
  security,
  request: { params: IdParam },
  responses: { 200: { description: "CSV", content: { "text/csv": { schema: z.string() } } }, ...errorResponses },
});

export const importRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createImportRoute, async (c) => {
    const principal = c.get("principal");
    const { map, country, labels: labelList } = c.req.valid("query");
    const labels = [
      ...new Set(
        (labelList ?? "")
          .split(",")
          .map((l) => l.trim())
          .filter(Boolean),
      ),
    ];
    if (labels.some((l) => l.length > 40) || labels.length > 20) {
      throw unprocessable("validation_failed", "Up to 20 labels of at most 40 characters each.", {
        fields: [{ path: "labels", message: "up to 20 labels, 40 characters each" }],
      });
    }
    const type = c.req.header("Content-Type") ?? "";
    if (!/^text\/(csv|plain)/i.test(type)) {
      throw new ApiError(415, "unsupported_media_type", "Send the file as text/csv.");
    }
    const length = Number(c.req.header("Content-Length") ?? "NaN");
    if (!Number.isFinite(length) || length <= 0) {
      throw unprocessable("validation_failed", "The CSV body is empty (or its Content-Length is missing).");
    }
    if (length > MAX_IMPORT_BYTES) throw new ApiError(413, "payload_too_large", "CSV files are limited to 10 MB.");
    const mapping = parseMapping(map);
    const id = newId("imp");
    const fileKey = `imports/${principal.workspaceId}/${id}.csv`;
    // Streamed to R2 as it arrives: the Worker never holds the file.
    const body = c.req.raw.body;
    if (!body) throw unprocessable("validation_failed", "The CSV body is empty.");
    const fixed = new FixedLengthStream(length);
    const stored = body.pipeTo(fixed.writable);
    await Promise.all([
      c.env.FILES.put(fileKey, fixed.readable, { httpMetadata: { contentType: "text/csv" } }),
      stored,
    ]);
    const now = Date.now();
    const row = {
      id,
      workspaceId: principal.workspaceId,
      status: "queued" as const,
      fileKey,
      fileBytes: length,
      mapping,
      defaultCountry: country,
      labels,
      createdBy: principal.userId ?? principal.credentialId,
      createdAt: now,
    };
    await c.get("db").insert(imports).values(row);
    await audit(c.get("db"), principal, "contacts.import_started", "import", id, { bytes: length, mapping, labels });
    await c.env.JOBS.send({ kind: "import", importId: id });
    const created = await c.get("db").query.imports.findFirst({ where: eq(imports.id, id) });
    if (!created) throw notFound("Import");
    return c.json(presentImport(created), 202);
  })
  .openapi(listImportsRoute, async (c) => {
    const rows = await c
      .get("db")
      .select()
      .from(imports)
      .where(eq(imports.workspaceId, c.get("principal").workspaceId))
      .orderBy(desc(imports.createdAt))
      .limit(20);
    return c.json({ items: rows.map(presentImport) }, 200);
  })
  .openapi(getImportRoute, async (c) => {
    const row = await c.get("db").query.imports.findFirst({
      where: and(eq(imports.id, c.req.valid("param").id), eq(imports.workspaceId, c.get("principal").workspaceId)),
    });
    if (!row) throw notFound("Import");
    return c.json(presentImport(row), 200);
  })
  .openapi(errorsRoute, async (c) => {
    const row = await c.get("db").query.imports.findFirst({
      where: and(eq(imports.id, c.req.valid("param").id), eq(imports.workspaceId, c.get("principal").workspaceId)),
    });
    if (!row) throw notFound("Import");
    const csv = ["row,reason", ...row.errors.map((e) => `${e.row},${csvCell(e.reason)}`)].join("\r\n");
    return c.body(`${csv}\r\n`, 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="import-${row.id}-errors.csv"`,
    });
  });
