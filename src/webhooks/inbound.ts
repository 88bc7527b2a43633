/**
 * POST /webhooks/twilio/inbound: a customer's text. After the signature check: route to the
 * workspace owning `To`, dedupe by MessageSid, update consent for keywords, append the message to its
 * conversation's room, and answer TwiML (empty, or the workspace's HELP text).
 */

import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { z } from "zod";
import { addCount } from "../db/counted";
import { recordConsent } from "../db/queries/contacts";
import { ensureThread, findThreadByNumbers } from "../db/queries/conversations";
import { messages, numbers, workspaces } from "../db/schema";
import { newId } from "../domain/ids";
import { classifyKeyword, keywordFromOptOutType } from "../domain/keywords";
import { toE164 } from "../domain/phone";
import { analyzeSegments } from "../domain/segments";
import { ApiError } from "../http/errors";
import { log, maskPhone } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { EMPTY_TWIML, messageTwiml, twimlResponse } from "./twiml";
import { firstValues, type WebhookEnv } from "./verify";

const MAX_MEDIA = 10;

const InboundSchema = z.object({
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, "not a Twilio message sid"),
  From: z.string().min(1).max(64),
  To: z.string().min(1).max(64),
  Body: z.string().max(1600).default(""),
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
  const input = parsed.data;
  const db = c.get("db");
  const to = toE164(input.To) ?? input.To;
  const from = toE164(input.From) ?? input.From;

  // One round trip: which workspace owns `To`, whether this sid is a replay, and (the common case)
  // the existing contact and thread.
  const [owners, replays, threads] = await db.batch([
    db.select({ workspaceId: numbers.workspaceId }).from(numbers).where(eq(numbers.phoneNumber, to)).limit(1),
    db.select({ id: messages.id }).from(messages).where(eq(messages.providerSid, input.MessageSid)).limit(1),
    findThreadByNumbers(db, to, from),
  ]);
  const number = owners[0];
  if (!number) {
    log("warn", "inbound text for a number no workspace owns", { to: maskPhone(to), sid: input.MessageSid });
    return twimlResponse(EMPTY_TWIML);
  }
  const workspaceId = number.workspaceId;
  if (replays.length > 0) {
    log("info", "inbound replay ignored", { sid: input.MessageSid });
    return twimlResponse(EMPTY_TWIML);
  }

  // A first text from this customer (or to this number) creates what is missing.
  let thread = threads[0];
  if (!thread) {
    const { contact, conversation } = await ensureThread(db, workspaceId, from, to, () => ({
      contact: newId("ct"),
      conversation: newId("cv"),
    }));
    thread = { contactId: contact.id, optedOut: contact.optedOut, conversationId: conversation.id };
  }
  const { conversationId } = thread;

  // Consent first (idempotent), so a crash before the append cannot lose a STOP on Twilio's retry.
  const keyword = keywordFromOptOutType(input.OptOutType) ?? classifyKeyword(input.Body);
  const now = Date.now();
  if (keyword === "opt_out" || keyword === "opt_in") {
    await recordConsent(
      db,
      workspaceId,
      from,
      keyword === "opt_out",
      { source: "keyword", keyword: input.OptOutType ?? input.Body.trim().toUpperCase(), reference: input.MessageSid },
      now,
    );
  }

  const media = mediaFrom(params, input.NumMedia);
  const { encoding, segments } = analyzeSegments(input.Body);
  const result = await roomFor(c.env, conversationId).appendMessage({
    id: newId("msg"),
    workspaceId,
    conversationId,
    direction: "inbound",
    channel: from.startsWith("whatsapp:") ? "whatsapp" : media.length > 0 ? "mms" : "sms",
    fromNumber: from,
    toNumber: to,
    body: input.Body,
    media,
    status: "received",
    segments,
    encoding,
    providerSid: input.MessageSid,
    createdAt: now,
  });
  addCount(c.get("d1Count"), result.d1);
  if (result.outcome === "duplicate") return twimlResponse(EMPTY_TWIML);

  // HELP gets the workspace's help text, unless Twilio already answered (Advanced Opt-Out) or the
  // contact opted out (an opted-out user gets no HELP reply).
  if (keyword === "help" && input.OptOutType === undefined && !thread.optedOut) {
    const workspace = await db.query.workspaces.findFirst({ where: eq(workspaces.id, workspaceId) });
    if (workspace) return twimlResponse(messageTwiml(workspace.helpText));
  }
  return twimlResponse(EMPTY_TWIML);
}
