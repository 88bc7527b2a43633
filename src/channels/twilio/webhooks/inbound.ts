/**
 * POST /webhooks/twilio/inbound: a customer's text. After the signature check, the permitted fields
 * go to the receive step (src/messaging/receive.ts), and Twilio gets TwiML: empty, or the HELP reply.
 */
import type { Context } from "hono";
import { z } from "zod";
import { ApiError } from "../../../domain/errors";
import { log } from "../../../log";
import { receiveText } from "../../../messaging/receive";
import { MAX_BODY_CHARS, MAX_MEDIA } from "../../../shared/limits";
import { EMPTY_TWIML, messageTwiml, twimlResponse } from "./twiml";
import { firstValues, type WebhookEnv } from "./verify";

const InboundSchema = z.object({
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, "not a Twilio message sid"),
  From: z.string().min(1).max(64),
  To: z.string().min(1).max(64),
  Body: z.string().max(MAX_BODY_CHARS).default(""),
  NumMedia: z.coerce.number().int().min(0).max(MAX_MEDIA).default(0),
  OptOutType: z.string().max(16).optional(),
});

function mediaFrom(params: Record<string, string>, count: number) {
  const media: { url: string; contentType: string | null }[] = [];
  for (let i = 0; i < count; i++) {
    const url = params[`MediaUrl${i}`];
    if (url) media.push({ url, contentType: params[`MediaContentType${i}`] ?? null });
  }
  return media;
}

export async function handleInbound(c: Context<WebhookEnv>): Promise<Response> {
  const params = firstValues(c.get("twilioParams"));
  const parsed = InboundSchema.safeParse(params);
  if (!parsed.success) {
    log("warn", "inbound webhook with invalid parameters", {
      issues: parsed.error.issues.map((i) => i.path.join(".")),
    });
    throw new ApiError(400, "invalid_webhook", "The inbound webhook's parameters are not valid.");
  }
  const reply = await receiveText(
    { env: c.env, db: c.get("db"), count: c.get("d1Count") },
    { ...parsed.data, media: mediaFrom(params, parsed.data.NumMedia), account: c.get("twilioAccountSid") },
  );
  return twimlResponse(reply === null ? EMPTY_TWIML : messageTwiml(reply));
}
