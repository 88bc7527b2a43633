/**
 * The providers' webhooks, mounted under /webhooks: Twilio's (SMS, MMS, WhatsApp; signed with the
 * account's Auth Token) and the email provider's delivery events (signed by Svix). Each provider's
 * wire format (parameters, signatures, TwiML) lives in its folder under src/channels/.
 */
import { Hono } from "hono";
import { emailWebhookRoutes } from "../channels/email/webhook";
import { handleInbound } from "../channels/twilio/webhooks/inbound";
import { handleStatus } from "../channels/twilio/webhooks/status";
import { verifyTwilioSignature, type WebhookEnv } from "../channels/twilio/webhooks/verify";

export const twilioWebhookRoutes = new Hono<WebhookEnv>()
  .use("*", verifyTwilioSignature)
  .post("/inbound", handleInbound)
  .post("/status", handleStatus);

export { emailWebhookRoutes };
