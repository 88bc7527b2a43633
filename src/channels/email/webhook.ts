/**
 * POST /webhooks/email/events: the email provider's delivery events (Resend, signed by Svix). The
 * signature is checked with the deployment's secret, or the secret of the inbox that sent the email;
 * anything unsigned or stale is 401 and changes nothing. Events go to the status step.
 */
import { Hono } from "hono";
import { findInboxByAddress } from "../../db/queries/inboxes";
import { getMessageByProviderSid } from "../../db/queries/messages";
import { ApiError } from "../../domain/errors";
import type { AppEnv } from "../../http/context";
import { log } from "../../log";
import { applyEmailEvent } from "../../messaging/status";
import { emailWebhookSecretFor } from "../credentials";
import { EmailEventSchema, verifySvix } from "./events";

export const emailWebhookRoutes = new Hono<AppEnv>().post("/events", async (c) => {
  const body = new TextDecoder().decode(await c.req.arrayBuffer());
  const headers = {
    id: c.req.header("svix-id") ?? c.req.header("webhook-id"),
    timestamp: c.req.header("svix-timestamp") ?? c.req.header("webhook-timestamp"),
    signature: c.req.header("svix-signature") ?? c.req.header("webhook-signature"),
  };
  let parsed: ReturnType<typeof EmailEventSchema.safeParse> | null = null;
  try {
    parsed = EmailEventSchema.safeParse(JSON.parse(body));
  } catch {
    parsed = null;
  }
  const db = c.get("db");
  // The deployment's secret first; else the secret of the inbox the email went out from.
  const deployment = await emailWebhookSecretFor(c.env, null);
  let ok = deployment !== null && (await verifySvix(deployment, headers, body));
  if (!ok && parsed?.success) {
    const msg = await getMessageByProviderSid(db, parsed.data.data.email_id);
    const inbox = msg ? await findInboxByAddress(db, msg.fromNumber) : null;
    const own = inbox?.credentials ? await emailWebhookSecretFor(c.env, inbox) : null;
    ok = own !== null && own !== deployment && (await verifySvix(own, headers, body));
  }
  if (!ok) {
    log("warn", "email webhook signature rejected", { hasSignature: headers.signature !== undefined });
    throw new ApiError(401, "invalid_signature", "Missing, stale or invalid webhook signature.");
  }
  if (!parsed?.success) throw new ApiError(400, "invalid_webhook", "The event is not valid.");
  const data = parsed.data.data as { email_id: string; bounce?: { message?: string } };
  const result = await applyEmailEvent(c.env, db, {
    type: parsed.data.type,
    emailId: data.email_id,
    detail: data.bounce?.message ?? null,
  });
  return c.json({ ok: true, result }, 200);
});
