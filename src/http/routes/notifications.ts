/** The signed-in member's notification feed. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { listNotifications, markNotificationsRead } from "../../db/queries/notifications";
import { forbidden } from "../../domain/errors";
import { presentNotification } from "../../messaging/notify";
import { NotificationJsonSchema } from "../../shared/frames";
import type { AppEnv } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { errorResponses, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const NotificationSchema = z.object(NotificationJsonSchema.shape).openapi("Notification");

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["notifications"],
  summary: "Your notifications, newest first, with the unread count",
  security,
  request: {
    query: z.object({
      unread: z.enum(["true", "false"]).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(30),
      cursor: z.string().max(200).optional(),
    }),
  },
  responses: {
    200: jsonContent(
      z
        .object({
          items: z.array(NotificationSchema),
          nextCursor: z.string().nullable(),
          unreadCount: z.number().int(),
        })
        .openapi("NotificationList"),
      "Notifications",
    ),
    ...errorResponses,
  },
});

const readRoute = createRoute({
  method: "post",
  path: "/read",
  tags: ["notifications"],
  summary: "Mark notifications read: `{ids: [...]}` or `{all: true}`",
  security,
  request: {
    body: jsonBody(
      z
        .object({ ids: z.array(z.string().min(1).max(64)).max(200).optional(), all: z.literal(true).optional() })
        .strict()
        .refine((v) => (v.ids === undefined) !== (v.all === undefined), {
          message: "pass ids or all: true",
          path: ["ids"],
        }),
    ),
  },
  responses: { 200: jsonContent(z.object({ updated: z.number().int() }), "Marked"), ...errorResponses },
});

function member(c: { get: (k: "principal") => AppEnv["Variables"]["principal"] }) {
  const principal = c.get("principal");
  if (principal.kind !== "session" || !principal.userId) {
    throw forbidden("Notifications belong to members; an API key has none.");
  }
  return { workspaceId: principal.workspaceId, userId: principal.userId };
}

export const notificationRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const { workspaceId, userId } = member(c);
    const { unread, limit, cursor } = c.req.valid("query");
    const rows = await listNotifications(c.get("db"), workspaceId, userId, {
      limit,
      unread: unread === "true",
      before: decodeCursor(cursor),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      {
        items: page.map((r) => presentNotification(r.row)),
        nextCursor: rows.length > limit && last ? encodeCursor(last.row.createdAt, last.row.id) : null,
        unreadCount:
          rows[0]?.unreadCount ??
          (await listNotifications(c.get("db"), workspaceId, userId, { limit: 1 }))[0]?.unreadCount ??
          0,
      },
      200,
    );
  })
  .openapi(readRoute, async (c) => {
    const { workspaceId, userId } = member(c);
    const body = c.req.valid("json");
    const updated = await markNotificationsRead(
      c.get("db"),
      workspaceId,
      userId,
      body.all ? "all" : (body.ids ?? []),
      Date.now(),
    );
    return c.json({ updated }, 200);
  });
