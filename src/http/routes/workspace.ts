/** The caller's workspace settings: name, HELP reply, retention period. Owners and admins only. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { workspaces } from "../../db/schema";
import { forbidden, notFound, validationFailed } from "../../domain/errors";
import { isTimeZone } from "../../domain/zones";
import { log } from "../../log";
import { deleteWorkspaceFiles } from "../../messaging/archive";
import { inboxFor } from "../../rooms/inbox-stream";
import { limiterFor } from "../../rooms/workspace-limiter";
import { BusinessHoursSchema, QuietHoursSchema, SEND_LIMITS } from "../../shared/policies";
import type { AppEnv } from "../context";
import { requireAdmin, requireRole } from "../middleware/auth";
import { errorResponses, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const WorkspaceSettingsSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    helpText: z.string(),
    retentionDays: z.number().int().nullable(),
    archiveAfterDays: z.number().int().nullable(),
    autoAssign: z.boolean(),
    timezone: z.string(),
    quietHours: QuietHoursSchema.nullable(),
    businessHours: BusinessHoursSchema.nullable(),
    awayMessage: z.string().nullable(),
    limits: z.object({
      userSendsPerMinute: z.number().int(),
      workspaceSendsPerSecond: z.number().int(),
      workspaceSendBurst: z.number().int(),
    }),
  })
  .openapi("WorkspaceSettings");

const getRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["workspace"],
  summary: "The workspace's settings",
  security,
  responses: { 200: jsonContent(WorkspaceSettingsSchema, "Settings"), ...errorResponses },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/",
  tags: ["workspace"],
  summary: "Change the name, HELP reply, retention and archive thresholds (days; null: never), hours and limits",
  security,
  request: {
    body: jsonBody(
      z
        .object({
          name: z.string().trim().min(1).max(100).optional(),
          helpText: z.string().trim().min(1).max(320, "must fit two SMS segments (320 characters)").optional(),
          retentionDays: z
            .number()
            .int()
            .min(1, "must be at least 1 day")
            .max(3650, "must be at most 3650 days")
            .nullable()
            .optional(),
          archiveAfterDays: z
            .number()
            .int()
            .min(7, "must be at least 7 days")
            .max(3650, "must be at most 3650 days")
            .nullable()
            .optional()
            .openapi({
              description:
                "Move message contents older than this many days to R2 (compressed, read back transparently; null: never)",
            }),
          autoAssign: z
            .boolean()
            .optional()
            .openapi({ description: "Assign new inbound conversations round-robin to the agents online" }),
          timezone: z.string().max(64).refine(isTimeZone, "an IANA time zone like America/Chicago").optional().openapi({
            description: "The workspace's zone: business hours, and quiet hours when a recipient's zone is unknown",
          }),
          quietHours: QuietHoursSchema.nullable().optional().openapi({
            description:
              "No texts to a recipient between start and end of their local time (null: off). defer holds them until the end; refuse answers 422 quiet_hours. Replies within exemptRepliesWithinHours of the customer's last text go.",
          }),
          businessHours: BusinessHoursSchema.nullable().optional().openapi({
            description:
              'Weekly opening hours in the workspace zone, e.g. {"mon": [["09:00","17:00"]]} (null: always open)',
          }),
          userSendsPerMinute: z
            .number()
            .int()
            .min(1)
            .max(SEND_LIMITS.maxUserPerMinute)
            .nullable()
            .optional()
            .openapi({
              description: `Messages a member (or API key) may send per minute; default ${SEND_LIMITS.userPerMinute}`,
            }),
          workspaceSendsPerSecond: z
            .number()
            .int()
            .min(1)
            .max(SEND_LIMITS.maxWorkspacePerSecond)
            .nullable()
            .optional()
            .openapi({
              description: `The workspace's send rate (messages/s); default ${SEND_LIMITS.workspacePerSecond}; a deployment may cap it lower (SEND_LIMIT_MAX_PER_SECOND)`,
            }),
          workspaceSendBurst: z
            .number()
            .int()
            .min(1)
            .max(SEND_LIMITS.maxWorkspaceBurst)
            .nullable()
            .optional()
            .openapi({ description: `Messages the workspace may send at once; default ${SEND_LIMITS.workspaceBurst}` }),
          awayMessage: z
            .string()
            .trim()
            .min(1)
            .max(320)
            .nullable()
            .optional()
            .openapi({ description: "Sent (once per conversation per 12 h) to texts outside business hours" }),
        })
        .strict(),
    ),
  },
  responses: { 200: jsonContent(WorkspaceSettingsSchema, "Updated"), ...errorResponses },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/",
  tags: ["workspace"],
  summary: "Delete the workspace and everything in it (owners only; confirm with its name)",
  security,
  request: { body: jsonBody(z.object({ confirm: z.string().min(1).max(100) }).strict()) },
  responses: {
    204: { description: "Deleted: members, conversations, messages, contacts, numbers, keys, all of it" },
    ...errorResponses,
  },
});

function present(row: typeof workspaces.$inferSelect) {
  return {
    id: row.id,
    name: row.name,
    helpText: row.helpText,
    retentionDays: row.retentionDays,
    archiveAfterDays: row.archiveAfterDays ?? null,
    autoAssign: row.autoAssign,
    timezone: row.timezone,
    quietHours: row.quietHours ?? null,
    businessHours: row.businessHours ?? null,
    awayMessage: row.awayMessage ?? null,
    limits: {
      userSendsPerMinute: row.userSendsPerMinute ?? SEND_LIMITS.userPerMinute,
      workspaceSendsPerSecond: row.workspaceSendsPerSecond ?? SEND_LIMITS.workspacePerSecond,
      workspaceSendBurst: row.workspaceSendBurst ?? SEND_LIMITS.workspaceBurst,
    },
  };
}

export const workspaceRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(getRoute, async (c) => {
    const row = await c
      .get("db")
      .query.workspaces.findFirst({ where: eq(workspaces.id, c.get("principal").workspaceId) });
    if (!row) throw notFound("Workspace");
    return c.json(present(row), 200);
  })
  .openapi(patchRoute, async (c) => {
    const principal = requireAdmin(c);
    const input = c.req.valid("json");
    const db = c.get("db");
    const cap = Number(c.env.SEND_LIMIT_MAX_PER_SECOND ?? SEND_LIMITS.maxWorkspacePerSecond);
    if (input.workspaceSendsPerSecond && input.workspaceSendsPerSecond > cap) {
      throw validationFailed([{ path: "workspaceSendsPerSecond", message: `at most ${cap} on this deployment` }]);
    }
    const before = await db.query.workspaces.findFirst({ where: eq(workspaces.id, principal.workspaceId) });
    if (!before) throw notFound("Workspace");
    // An empty change changes nothing (and is not audited).
    if (Object.keys(input).length === 0) return c.json(present(before), 200);
    const [row] = await db.update(workspaces).set(input).where(eq(workspaces.id, principal.workspaceId)).returning();
    if (!row) throw notFound("Workspace");
    const was = { ...present(before), ...before } as Record<string, unknown>;
    if ("userSendsPerMinute" in input || "workspaceSendsPerSecond" in input || "workspaceSendBurst" in input) {
      await limiterFor(c.env, principal.workspaceId)
        .refresh()
        .catch(() => undefined);
    }
    await audit(db, principal, "workspace.updated", "workspace", principal.workspaceId, {
      before: Object.fromEntries(Object.keys(input).map((k) => [k, was[k]])),
      after: input,
    });
    return c.json(present(row), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const principal = requireRole(c, "owner");
    if (principal.kind !== "session") throw forbidden("Only a signed-in owner can delete the workspace.");
    const db = c.get("db");
    const row = await db.query.workspaces.findFirst({ where: eq(workspaces.id, principal.workspaceId) });
    if (!row) throw notFound("Workspace");
    if (c.req.valid("json").confirm !== row.name) {
      throw validationFailed([{ path: "confirm", message: `type the workspace's name (${row.name}) to confirm` }]);
    }
    // Everything else cascades from the workspace row (foreign keys), sessions included; the audit log
    // goes with it, so the deletion is logged here instead.
    await db.delete(workspaces).where(eq(workspaces.id, principal.workspaceId));
    log("warn", "workspace deleted", { workspaceId: row.id, by: principal.userId });
    c.executionCtx.waitUntil(
      inboxFor(c.env, row.id)
        .closeAll("workspace deleted")
        .catch(() => 0),
    );
    // Its files in R2 (attachments, archives, imports, exports) go too.
    c.executionCtx.waitUntil(
      deleteWorkspaceFiles(c.env, row.id).then(
        (n) => log("info", "workspace files deleted", { workspaceId: row.id, objects: n }),
        (err: unknown) => log("error", "workspace files not deleted", { workspaceId: row.id, error: String(err) }),
      ),
    );
    return c.body(null, 204);
  });
