/** Twilio's webhooks, both signed: /webhooks/twilio/inbound and /webhooks/twilio/status. */
import { Hono } from "hono";
import { handleInbound } from "./inbound";
import { handleStatus } from "./status";
import { verifyTwilioSignature, type WebhookEnv } from "./verify";

export const webhookRoutes = new Hono<WebhookEnv>()
  .use("*", verifyTwilioSignature)
  .post("/inbound", handleInbound)
  .post("/status", handleStatus);
