/**
 * Archive (owners/admins): how much has moved to R2, archiving now what is due, and restoring a
 * conversation's (or the whole workspace's) archived messages into D1. The threshold itself is the
 * workspace setting `archiveAfterDays` (PATCH /api/workspace).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { listStubs } from "../../db/queries/archive";
import { audit } from "../../db/queries/audit";
import { getConversation } from "../../db/queries/conversations";
import { notFound } from "../../domain/errors";
import { iso } from "../../domain/time";
import { archiveDue, archiveSummary, restoreArchived } from "../../messaging/archive";
import type { AppEnv } from "../context";
import { requireAdmin } from "../middleware/auth";
import { errorResponses, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const SummarySchema = z
  .object({
    archiveAfterDays: z.number().int().nullable().openapi({ description: "The threshold (null: never archive)" }),
    archivedMessages: z.number().int().openapi({ description: "Messages whose contents are in R2" }),
    objects: z.number().int().openapi({ description: "Archive objects (one per conversation and month)" }),
    bytes: z.number().int().openapi({ description: "Their compressed size in R2" }),
    oldestArchivedAt: z.string().nullable(),
    newestArchivedAt: z.string().nullable(),
  })
  .openapi("ArchiveSummary");

const summaryRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["archive"],
  summary: "What has been archived to R2 (owner/admin)",
  security,
  responses: { 200: jsonContent(SummarySchema, "Summary"), ...errorResponses },
});

const EntrySchema = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    month: z.string().openapi({ example: "2026-08" }),
    firstSeq: z.number().int(),
    lastSeq: z.number().int(),
    firstAt: z.string(),
    lastAt: z.string(),
    messages: z.number().int(),
    inbound: z.number().int(),
    outbound: z.number().int(),
    bytes: z.number().int(),
    erasedBefore: z
      .string()
      .nullable()
      .openapi({ description: "Retention erased the contents of messages before this" }),
  })
  .openapi("ArchiveEntry");

const entriesRoute = createRoute({
  method: "get",
  path: "/entries",
  tags: ["archive"],
  summary:
    "Archived conversation-months by metadata: a conversation, a contact, a time range; newest first (owner/admin)",
  security,
  request: {
    query: z.object({
      conversationId: z.string().max(64).optional(),
      contactId: z.string().max(64).optional(),
      from: z.iso
        .datetime({ offset: true })
        .optional()
        .openapi({ description: "Months with messages at or after this" }),
      to: z.iso.datetime({ offset: true }).optional().openapi({ description: "Months with messages before this" }),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: { 200: jsonContent(z.object({ items: z.array(EntrySchema) }), "Entries"), ...errorResponses },
});

/** What a run or a restore did: objects and messages moved, whether more remains, and the summary after. */
function resultSchema(more: string) {
  return z.object({
    objects: z.number().int(),
    messages: z.number().int(),
    more: z.boolean().openapi({ description: more }),
    summary: SummarySchema,
  });
}

const runRoute = createRoute({
  method: "post",
  path: "/run",
  tags: ["archive"],
  summary: "Archive now what is older than the threshold (owner/admin; the daily cron does it too)",
  security,
  responses: {
    200: jsonContent(resultSchema("More is due: run again (or let the cron continue)"), "Archived"),
    ...errorResponses,
  },
});

const restoreRoute = createRoute({
  method: "post",
  path: "/restore",
  tags: ["archive"],
  summary: "Restore archived messages into D1: one conversation's, or all (owner/admin)",
  security,
  request: {
    body: jsonBody(
      z
        .object({
          conversationId: z.string().min(1).max(64).nullable().optional().openapi({
            description: "Only this conversation (omit or null: the whole workspace)",
            example: "cv_8kq2m4x7vt3np9",
          }),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(resultSchema("More remains archived: call again"), "Restored"),
    ...errorResponses,
  },
});

export const archiveRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(summaryRoute, async (c) => {
    const { workspaceId } = requireAdmin(c);
    return c.json(await archiveSummary(c.env, workspaceId), 200);
  })
  .openapi(entriesRoute, async (c) => {
    const { workspaceId } = requireAdmin(c);
    const q = c.req.valid("query");
    const rows = await listStubs(c.get("db"), workspaceId, {
      conversationId: q.conversationId,
      contactId: q.contactId,
      from: q.from ? Date.parse(q.from) : undefined,
      to: q.to ? Date.parse(q.to) : undefined,
      limit: q.limit,
    });
    return c.json(
      {
        items: rows.map((r) => ({
          id: r.id,
          conversationId: r.conversationId,
          month: r.month,
          firstSeq: r.firstSeq,
          lastSeq: r.lastSeq,
          firstAt: iso(r.firstAt) ?? "",
          lastAt: iso(r.lastAt) ?? "",
          messages: r.messages,
          inbound: r.inbound,
          outbound: r.outbound,
          bytes: r.bytes,
          erasedBefore: iso(r.erasedBefore),
        })),
      },
      200,
    );
  })
  .openapi(runRoute, async (c) => {
    const principal = requireAdmin(c);
    const result = await archiveDue(c.env, Date.now(), principal.workspaceId);
    await audit(c.get("db"), principal, "archive.run", "workspace", principal.workspaceId, {
      objects: result.objects,
      messages: result.messages,
    });
    return c.json(
      {
        objects: result.objects,
        messages: result.messages,
        more: result.more,
        summary: await archiveSummary(c.env, principal.workspaceId),
      },
      200,
    );
  })
  .openapi(restoreRoute, async (c) => {
    const principal = requireAdmin(c);
    const conversationId = c.req.valid("json").conversationId ?? null;
    if (conversationId && !(await getConversation(c.get("db"), principal.workspaceId, conversationId))) {
      throw notFound("Conversation");
    }
    const result = await restoreArchived(c.env, principal.workspaceId, conversationId);
    await audit(c.get("db"), principal, "archive.restored", "workspace", principal.workspaceId, {
      conversationId,
      objects: result.objects,
      messages: result.messages,
    });
    return c.json({ ...result, summary: await archiveSummary(c.env, principal.workspaceId) }, 200);
  });
