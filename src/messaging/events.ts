/**
 * Integration webhooks: a workspace's events (message.received, message.status, conversation.created |
 * assigned | resolved, contact.opted_out, campaign.completed, alert.opened) delivered to its endpoints
 * through the jobs queue, signed per the Standard Webhooks specification
 * (https://www.standardwebhooks.com): `webhook-id` (the event's id, the same on every retry),
 * `webhook-timestamp` (seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
 *
 * emitEvent puts the event on the events queue (no D1 work on the caller's path); its consumer finds
 * the subscribed endpoints of a whole batch in one query and writes one delivery row each; each delivery job POSTs once and, on failure,
 * comes back later with backoff, for 24 hours. An endpoint failing for 24 hours with no success is
 * disabled, its admins notified, and the change audited. Redelivery re-sends a logged delivery.
 */
import { eq } from "drizzle-orm";
import ky, { isHTTPError } from "ky";
import { z } from "zod";
import { createDb, type Db } from "../db/client";
import { openAlert, webhookDisabled } from "../db/queries/alerts";
import { auditSystem } from "../db/queries/maintenance";
import {
  enabledEndpointsOf,
  getDeliveryWithEndpoint,
  insertDeliveries,
  unattemptedDeliveriesOf,
} from "../db/queries/webhooks";
import { memberships, webhookDeliveries, webhookEndpoints } from "../db/schema";
import { newId } from "../domain/ids";
import { iso } from "../domain/time";
import { log } from "../log";
import { toBase64 } from "../security/crypto";
import { seal, unseal } from "../security/sealed";
import { ALERT_WORDS, AUTO_DISABLED_REASON } from "../shared/alerts";
import { notify } from "./notify";
import { sendAll } from "./outbox";

export const EVENT_TYPES = [
  "message.received",
  "message.status",
  "conversation.created",
  "conversation.assigned",
  "conversation.resolved",
  "contact.opted_out",
  "campaign.completed",
  "alert.opened",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EventJobSchema = z.object({
  kind: z.literal("event"),
  id: z.string(),
  type: z.enum(EVENT_TYPES),
  workspaceId: z.string(),
  at: z.number(),
  data: z.record(z.string(), z.unknown()),
});
export const DeliveryJobSchema = z.object({ kind: z.literal("webhook"), deliveryId: z.string() });

/** Backoff between attempts (seconds): quick at first, then hours; together a little over 24 h. */
const BACKOFF_S = [10, 60, 300, 1800, 3600, 7200, 14_400, 28_800, 28_800];
export const GIVE_UP_AFTER_MS = 24 * 60 * 60 * 1000;
const TIMEOUT_MS = 10_000;

/** The `message.status` event's data for a status change D1 recorded (the room's, or a writer's that left the room out). */
export function statusEventData(
  moved: { id: string; status: string; errorCode: number | null },
  at: number,
  conversationId: string,
): Record<string, unknown> {
  return { messageId: moved.id, status: moved.status, errorCode: moved.errorCode, at: iso(at), conversationId };
}

/** Puts an event on the jobs queue (best effort for the caller: a lost event is logged, never thrown). */
export async function emitEvent(
  env: Env,
  workspaceId: string,
  type: EventType,
  data: Record<string, unknown>,
): Promise<void> {
  try {
    await env.EVENTS.send({ kind: "event", id: newId("evt"), type, workspaceId, at: Date.now(), data });
  } catch (err) {
    log("warn", "could not emit an integration event", { type, error: String(err) });
  }
}

/** `whsec_` and 24 random bytes, base64: the secret format of the Standard Webhooks libraries. */
export function newWebhookSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(24)))}`;
}

export function sealWebhookSecret(env: Env, endpointId: string, secret: string) {
  return seal(env, `webhook:${endpointId}`, secret);
}

function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** `v1,<signature>` over `id.timestamp.body` (Standard Webhooks). */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.replace(/^whsec_/, "")),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/**
 * The events queue's consumer: a batch of events costs one lookup of their workspaces' enabled
 * endpoints; each subscribed endpoint gets a delivery row (one per event, however often the batch is
 * redelivered) and a delivery job.
 */
export async function fanOutEvents(env: Env, events: z.infer<typeof EventJobSchema>[]): Promise<number> {
  if (events.length === 0) return 0;
  const db = createDb(env.DB);
  const endpoints = await enabledEndpointsOf(db, [...new Set(events.map((e) => e.workspaceId))]);
  if (endpoints.length === 0) return 0;
  const rows = events.flatMap((event) => {
    const payload = JSON.stringify({ type: event.type, timestamp: new Date(event.at).toISOString(), data: event.data });
    return endpoints
      .filter((e) => e.workspaceId === event.workspaceId && (e.events.includes("*") || e.events.includes(event.type)))
      .map((e) => ({
        id: newId("whd"),
        workspaceId: event.workspaceId,
        endpointId: e.id,
        eventId: event.id,
        eventType: event.type,
        payload,
        status: "pending",
        createdAt: Date.now(),
      }));
  });
  await insertDeliveries(db, rows);
  // Every delivery of these events not yet attempted gets its job: also those a failed earlier run of
  // this batch stored but did not enqueue (receivers dedupe by webhook-id, as the spec says).
  const pending = await unattemptedDeliveriesOf(db, [...new Set(rows.map((r) => r.eventId))]);
  await sendAll(
    env.JOBS,
    pending.map((row) => ({ kind: "webhook", deliveryId: row.id })),
  );
  return pending.length;
}

/** Sends one delivery once; schedules the next attempt (returns its delay) or ends it. */
export async function attemptDelivery(env: Env, deliveryId: string): Promise<{ retryInSeconds: number | null }> {
  const db = createDb(env.DB);
  const found = await getDeliveryWithEndpoint(db, deliveryId);
  if (!found) return { retryInSeconds: null };
  const { delivery, endpoint } = found;
  if (delivery.status === "succeeded" || delivery.status === "failed") return { retryInSeconds: null };
  if (!endpoint.enabled) {
    await db
      .update(webhookDeliveries)
      .set({ status: "failed", lastError: "The endpoint is disabled." })
      .where(eq(webhookDeliveries.id, deliveryId));
    return { retryInSeconds: null };
  }
  const secret = await unseal<string>(env, `webhook:${endpoint.id}`, endpoint.secret);
  const timestamp = Math.floor(Date.now() / 1000);
  const now = Date.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await ky.post(endpoint.url, {
      body: delivery.payload,
      timeout: TIMEOUT_MS,
      retry: 0,
      redirect: "manual",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "Parley-Webhooks/1",
        "webhook-id": delivery.eventId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await signWebhook(secret, delivery.eventId, timestamp, delivery.payload),
      },
    });
    status = res.status;
    if (status < 200 || status >= 300) error = `HTTP ${status}`;
  } catch (err) {
    if (isHTTPError(err)) {
      status = err.response.status;
      error = `HTTP ${status}`;
    } else {
      error = err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200);
    }
  }
  const attempts = delivery.attempts + 1;
  if (error === null) {
    await db.batch([
      db
        .update(webhookDeliveries)
        .set({
          status: "succeeded",
          attempts,
          lastStatusCode: status,
          lastError: null,
          deliveredAt: now,
          nextAttemptAt: null,
        })
        .where(eq(webhookDeliveries.id, deliveryId)),
      db
        .update(webhookEndpoints)
        .set({ lastSuccessAt: now, failingSince: null })
        .where(eq(webhookEndpoints.id, endpoint.id)),
    ]);
    return { retryInSeconds: null };
  }
  const failingSince = endpoint.failingSince ?? now;
  const givingUp = now - delivery.createdAt >= GIVE_UP_AFTER_MS || attempts > BACKOFF_S.length;
  const delay = givingUp ? null : (BACKOFF_S[attempts - 1] ?? BACKOFF_S.at(-1) ?? 3600);
  await db.batch([
    db
      .update(webhookDeliveries)
      .set({
        status: givingUp ? "failed" : "retrying",
        attempts,
        lastStatusCode: status,
        lastError: error,
        nextAttemptAt: delay === null ? null : now + delay * 1000,
      })
      .where(eq(webhookDeliveries.id, deliveryId)),
    db.update(webhookEndpoints).set({ failingSince }).where(eq(webhookEndpoints.id, endpoint.id)),
  ]);
  if (now - failingSince >= GIVE_UP_AFTER_MS) await disableEndpoint(env, db, endpoint.id, endpoint.workspaceId, error);
  return { retryInSeconds: delay };
}

/** 24 hours of failures and no success: the endpoint stops getting events; its admins hear why. */
async function disableEndpoint(env: Env, db: Db, endpointId: string, workspaceId: string, error: string) {
  const reason = `${AUTO_DISABLED_REASON} (last: ${error}).`;
  const [changed] = await db
    .update(webhookEndpoints)
    .set({ enabled: false, disabledReason: reason })
    .where(eq(webhookEndpoints.id, endpointId))
    .returning({ id: webhookEndpoints.id, url: webhookEndpoints.url, enabled: webhookEndpoints.enabled });
  if (!changed) return;
  const now = Date.now();
  await auditSystem(env.DB, workspaceId, "webhook.disabled", { endpointId, url: changed.url, reason }, now);
  // The alert opens now rather than at the next minute's check (which keeps it open until the endpoint is
  // enabled again or removed); the other endpoints hear of it as alert.opened.
  const condition = webhookDisabled(workspaceId, { id: endpointId, url: changed.url, reason });
  const opened = await openAlert(env.DB, condition, now, newId("alr"));
  if (opened) {
    await emitEvent(env, workspaceId, "alert.opened", {
      alertId: opened.id,
      kind: condition.kind,
      subject: condition.subject,
      summary: ALERT_WORDS.webhook_disabled,
      details: condition.details,
    });
  }
  const admins = await db
    .select({ userId: memberships.userId, role: memberships.role })
    .from(memberships)
    .where(eq(memberships.workspaceId, workspaceId));
  await notify(
    env,
    db,
    admins
      .filter((a) => a.role === "owner" || a.role === "admin")
      .map((a) => ({
        workspaceId,
        userId: a.userId,
        type: "webhook_disabled" as const,
        conversationId: null,
        actor: { type: "system" as const, id: endpointId, name: changed.url },
      })),
  ).catch((err: unknown) => log("warn", "webhook-disabled notification failed", { error: String(err) }));
}
