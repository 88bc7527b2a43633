/** The audit log, readable: who did what to which row, when, from where (owner/admin). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { listAudit } from "../../db/queries/audit";
import { badRequest } from "../../domain/errors";
import { iso } from "../../domain/time";
import type { AppEnv } from "../context";
import { requireAdmin } from "../middleware/auth";
import { errorResponses, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const AuditEntrySchema = z
  .object({
    id: z.string(),
    action: z.string(),
    actor: z.object({ type: z.string(), id: z.string().nullable(), name: z.string().nullable() }),
    target: z.object({ type: z.string().nullable(), id: z.string().nullable() }),
    data: z.record(z.string(), z.unknown()).nullable(),
    clientIp: z.string().nullable(),
    at: z.string(),
  })
  .openapi("AuditEntry");

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["audit"],
  summary: "The workspace's audit log, newest first (owner/admin)",
  security,
  request: {
    query: z.object({
      actor: z.string().max(64).optional().openapi({ description: "A user or API key id" }),
      action: z
        .string()
        .max(64)
        .regex(/^[a-z_]+(\.[a-z_]+)?$/, "an action like member.removed, or a family like member")
        .optional(),
      from: z.string().datetime({ offset: true }).optional(),
      to: z.string().datetime({ offset: true }).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z.string().max(40).optional(),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ items: z.array(AuditEntrySchema), nextCursor: z.string().nullable() }).openapi("AuditList"),
      "Entries",
    ),
    ...errorResponses,
  },
});

export const auditRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(listRoute, async (c) => {
  const { workspaceId } = requireAdmin(c);
  const q = c.req.valid("query");
  const beforeId = q.cursor === undefined ? undefined : Number(q.cursor);
  if (beforeId !== undefined && !Number.isSafeInteger(beforeId)) throw badRequest("The cursor is not valid.");
  const rows = await listAudit(c.get("db"), workspaceId, {
    actor: q.actor,
    action: q.action,
    from: q.from ? Date.parse(q.from) : undefined,
    to: q.to ? Date.parse(q.to) : undefined,
    limit: q.limit,
    beforeId,
  });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return c.json(
    {
      items: page.map(({ row, actorName }) => ({
        id: String(row.id),
        action: row.action,
        actor: { type: row.actorType, id: row.actorId, name: actorName },
        target: { type: row.targetType, id: row.targetId },
        data: row.data ?? null,
        clientIp: row.clientIp,
        at: iso(row.at),
      })),
      nextCursor: rows.length > q.limit && last ? String(last.row.id) : null,
    },
    200,
  );
});
