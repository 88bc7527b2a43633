/**
 * Integration webhooks (owners/admins): endpoints that receive the workspace's events, signed per
 * Standard Webhooks, with a delivery log and redelivery. The signing secret is shown once.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import {
  getDelivery,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  type WebhookEndpointRow,
} from "../../db/queries/webhooks";
import { webhookDeliveries, webhookEndpoints } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { iso } from "../../domain/time";
import { EVENT_TYPES, newWebhookSecret, sealWebhookSecret } from "../../messaging/events";
import type { AppEnv } from "../context";
import { requireAdmin } from "../middleware/auth";
import { errorResponses, IdParam, jsonBody, jsonContent, listOf, security } from "../schemas";
import { validationHook } from "../validation";

const Url = z
  .string()
  .url("must be a URL")
  .max(2048)
  .refine(
    (u) => u.startsWith("https://") || /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(u),
    "must be an https URL",
  )
  .openapi({ example: "https://example.com/hooks/parley" });
const Events = z
  .array(z.enum([...EVENT_TYPES, "*"]))
  .min(1)
  .max(EVENT_TYPES.length + 1)
  .openapi({ description: 'The event types to receive, or ["*"] for all', example: ["message.received"] });

const EndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    failingSince: z.string().nullable(),
    lastSuccessAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("WebhookEndpoint");
const CreatedEndpointSchema = EndpointSchema.extend({
  secret: z.string().openapi({ description: "The signing secret (whsec_…): shown only in this answer" }),
}).openapi("CreatedWebhookEndpoint");

const DeliverySchema = z
  .object({
    id: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(["pending", "retrying", "succeeded", "failed"]),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
    payload: z.unknown(),
  })
  .openapi("WebhookDelivery");

function present(row: WebhookEndpointRow) {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    enabled: row.enabled,
    disabledReason: row.disabledReason ?? null,
    failingSince: iso(row.failingSince),
    lastSuccessAt: iso(row.lastSuccessAt),
    createdAt: iso(row.createdAt) ?? "",
  };
}

const DeliveryParams = z.object({ id: z.string().min(1).max(64), deliveryId: z.string().min(1).max(64) });

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["webhooks"],
  summary: "The workspace's integration webhooks (owner/admin)",
  security,
  responses: { 200: jsonContent(listOf(EndpointSchema, "WebhookEndpointList"), "Endpoints"), ...errorResponses },
});
const createWebhookRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["webhooks"],
  summary: "Add an endpoint for some event types; the answer carries its signing secret, once (owner/admin)",
  security,
  request: {
    body: jsonBody(
      z
        .object({
          url: Url,
          events: Events,
          secret: z
            .string()
            .regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, "a Standard Webhooks secret (whsec_ and base64)")
            .optional(),
        })
        .strict(),
    ),
  },
  responses: { 201: jsonContent(CreatedEndpointSchema, "Added"), ...errorResponses },
});
const patchRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["webhooks"],
  summary: "Change an endpoint's URL or events, or enable it again after it was disabled (owner/admin)",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({ url: Url.optional(), events: Events.optional(), enabled: z.boolean().optional() }).strict(),
    ),
  },
  responses: { 200: jsonContent(EndpointSchema, "Updated"), ...errorResponses },
});
const deleteRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["webhooks"],
  summary: "Remove an endpoint and its delivery log (owner/admin)",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});
const deliveriesRoute = createRoute({
  method: "get",
  path: "/{id}/deliveries",
  tags: ["webhooks"],
  summary: "An endpoint's delivery log, newest first: each event, its attempts and the last response code",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(listOf(DeliverySchema, "WebhookDeliveryList"), "Deliveries"), ...errorResponses },
});
const redeliverRoute = createRoute({
  method: "post",
  path: "/{id}/deliveries/{deliveryId}/redeliver",
  tags: ["webhooks"],
  summary: "Send a logged delivery again now (the same webhook-id, so a receiver that saw it can tell)",
  security,
  request: { params: DeliveryParams },
  responses: { 202: jsonContent(DeliverySchema, "Queued"), ...errorResponses },
});

function presentDelivery(row: typeof webhookDeliveries.$inferSelect) {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status as "pending" | "retrying" | "succeeded" | "failed",
    attempts: row.attempts,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    nextAttemptAt: iso(row.nextAttemptAt),
    createdAt: iso(row.createdAt) ?? "",
    deliveredAt: iso(row.deliveredAt),
    payload: JSON.parse(row.payload) as unknown,
  };
}

export const webhookRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const principal = requireAdmin(c);
    const rows = await listEndpoints(c.get("db"), principal.workspaceId);
    return c.json({ items: rows.map(present), nextCursor: null }, 200);
  })
  .openapi(createWebhookRoute, async (c) => {
    const principal = requireAdmin(c);
    const input = c.req.valid("json");
    const id = newId("whk");
    const secret = input.secret ?? newWebhookSecret();
    const row = {
      id,
      workspaceId: principal.workspaceId,
      url: input.url,
      events: [...new Set(input.events)],
      secret: await sealWebhookSecret(c.env, id, secret),
      enabled: true,
      disabledReason: null,
      failingSince: null,
      lastSuccessAt: null,
      createdAt: Date.now(),
    };
    const db = c.get("db");
    await db.insert(webhookEndpoints).values(row);
    await audit(db, principal, "webhook.created", "webhook", id, { url: row.url, events: row.events });
    return c.json({ ...present(row), secret }, 201);
  })
  .openapi(patchRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = c.get("db");
    const before = await getEndpoint(db, principal.workspaceId, id);
    if (!before) throw notFound("Webhook");
    const set: Partial<typeof webhookEndpoints.$inferInsert> = {};
    if (input.url !== undefined) set.url = input.url;
    if (input.events !== undefined) set.events = [...new Set(input.events)];
    if (input.enabled !== undefined) {
      set.enabled = input.enabled;
      if (input.enabled) {
        set.disabledReason = null;
        set.failingSince = null;
      } else set.disabledReason = "Disabled by an admin.";
    }
    const [row] =
      Object.keys(set).length === 0
        ? [before]
        : await db
            .update(webhookEndpoints)
            .set(set)
            .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.workspaceId, principal.workspaceId)))
            .returning();
    if (!row) throw notFound("Webhook");
    if (Object.keys(set).length > 0) await audit(db, principal, "webhook.updated", "webhook", id, input);
    return c.json(present(row), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const [gone] = await db
      .delete(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.workspaceId, principal.workspaceId)))
      .returning({ url: webhookEndpoints.url });
    if (!gone) throw notFound("Webhook");
    await audit(db, principal, "webhook.deleted", "webhook", id, { url: gone.url });
    return c.body(null, 204);
  })
  .openapi(deliveriesRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const db = c.get("db");
    if (!(await getEndpoint(db, principal.workspaceId, id))) throw notFound("Webhook");
    const rows = await listDeliveries(db, principal.workspaceId, id);
    return c.json({ items: rows.map(presentDelivery), nextCursor: null }, 200);
  })
  .openapi(redeliverRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id, deliveryId } = c.req.valid("param");
    const db = c.get("db");
    const delivery = await getDelivery(db, principal.workspaceId, id, deliveryId);
    if (!delivery) throw notFound("Delivery");
    // A fresh 24 hours of attempts, from now.
    const [row] = await db
      .update(webhookDeliveries)
      .set({ status: "pending", nextAttemptAt: null, createdAt: Date.now() })
      .where(eq(webhookDeliveries.id, deliveryId))
      .returning();
    if (!row) throw notFound("Delivery");
    await c.env.JOBS.send({ kind: "webhook", deliveryId });
    await audit(db, principal, "webhook.redelivered", "webhook", id, { deliveryId, eventId: row.eventId });
    return c.json(presentDelivery(row), 202);
  });
