/**
 * Receive: a customer's text, after the webhook checked its signature. Routed to the workspace that
 * owns `To` (nowhere if none does), deduplicated by sid, consent updated for STOP/START keywords (and
 * Twilio's OptOutType), then appended to its conversation's room. Returns the reply to send in TwiML:
 * the workspace's HELP text, or null for none.
 */
import { eq } from "drizzle-orm";
import { channelFor } from "../channels/registry";
import type { Db } from "../db/client";
import { addCount, type D1Count } from "../db/counted";
import { recordConsent } from "../db/queries/contacts";
import {
  claimAwayReply,
  ensureThread,
  routeFromBatch,
  routeInbound,
  routeInboundStatement,
} from "../db/queries/conversations";
import { receiveIntoThreadStatements, storedMessage } from "../db/queries/messages";
import { workspaces } from "../db/schema";
import { isOpen } from "../domain/business-hours";
import { newId } from "../domain/ids";
import { classifyKeyword, keywordFromOptOutType } from "../domain/keywords";
import { analyzeSegments } from "../domain/segments";
import { log, maskPhone } from "../log";
import { type ConversationRoom, roomFor } from "../rooms/conversation-room";
import { inboxFor, publishConversation } from "../rooms/inbox-stream";
import { AWAY_REPLY_EVERY_MS, BusinessHoursSchema } from "../shared/policies";
import { enqueueMediaCopy } from "./attachments";
import { emitEvent } from "./events";
import { notify } from "./notify";
import { presentMessage } from "./present";
import { sendSystemMessage } from "./send";

export interface InboundText {
  MessageSid: string;
  From: string;
  To: string;
  Body: string;
  OptOutType?: string;
  media: { url: string; contentType: string | null }[];
  /** The Twilio account that signed the webhook (the deployment's when absent). */
  account?: string;
}

export async function receiveText(
  ctx: { env: Env; db: Db; count?: D1Count },
  input: InboundText,
): Promise<string | null> {
  const db = ctx.db;
  // WhatsApp and SMS both come through Twilio's Messaging webhook; the address says which.
  const channel = channelFor(input.To.startsWith("whatsapp:") ? "whatsapp" : "sms");
  const to = channel.inboxAddress(input.To) ?? input.To;
  const key = channel.contactKey(input.From);
  // The contact is keyed by phone on both channels; the customer's address is the channel's form of it.
  const from = key && "phone" in key ? key.phone : input.From;
  const customerAddress = channel.kind === "whatsapp" ? `whatsapp:${from}` : from;

  const keyword = keywordFromOptOutType(input.OptOutType) ?? classifyKeyword(input.Body);
  const now = Date.now();
  const media = input.media;
  const { encoding, segments } = analyzeSegments(input.Body);
  const messageChannel = channel.kind === "whatsapp" ? "whatsapp" : media.length > 0 ? "mms" : "sms";
  const messageId = newId("msg");

  // One round trip in the common case (a text, not a keyword, to an open or pending thread): which
  // workspace owns `To`, whether this sid is a replay, the contact and thread — and, in the same batch,
  // the message stored into that thread if it exists. Keywords change consent first (see below).
  let route: Awaited<ReturnType<typeof routeInbound>>;
  let stored: ReturnType<typeof storedMessage>;
  if (keyword === null) {
    const d1 = db.$client;
    const [routed, inserted] = await d1.batch([
      routeInboundStatement(d1, to, from, input.MessageSid),
      ...receiveIntoThreadStatements(d1, {
        id: messageId,
        channel: messageChannel,
        fromNumber: customerAddress,
        to,
        phone: from,
        body: input.Body,
        media,
        segments,
        encoding,
        providerSid: input.MessageSid,
        account: input.account ?? null,
        deploymentAccount: ctx.env.TWILIO_ACCOUNT_SID,
        at: now,
      }),
    ]);
    route = routeFromBatch(routed);
    stored = storedMessage(inserted);
  } else {
    route = await routeInbound(db.$client, to, from, input.MessageSid);
  }
  if (!route?.workspaceId) {
    log("warn", "inbound text for a number no workspace owns", { to: maskPhone(to), sid: input.MessageSid });
    return null;
  }
  if (input.account !== undefined && (route.inboxAccountSid ?? ctx.env.TWILIO_ACCOUNT_SID) !== input.account) {
    // Signed by a Twilio account that does not own this inbox: stores nothing.
    log("warn", "inbound text signed by another account ignored", { to: maskPhone(to), sid: input.MessageSid });
    return null;
  }
  const workspaceId = route.workspaceId;
  if (route.replay) {
    log("info", "inbound replay ignored", { sid: input.MessageSid });
    return null;
  }

  // A first text from this customer (or to this number) creates what is missing.
  let thread =
    route.contactId && route.conversationId
      ? { contactId: route.contactId, optedOut: route.optedOut ?? false, conversationId: route.conversationId }
      : undefined;
  const isNewThread = !thread;
  if (!thread) {
    const { contact, conversation } = await ensureThread(
      db,
      workspaceId,
      from,
      to,
      () => ({ contact: newId("ct"), conversation: newId("cv") }),
      { channel: channel.kind, customerAddress: channel.kind === "sms" ? null : customerAddress },
    );
    thread = { contactId: contact.id, optedOut: contact.optedOut, conversationId: conversation.id };
  }
  const { conversationId } = thread;

  // Consent first (idempotent), so a crash before the append cannot lose a STOP on Twilio's retry.
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

  const asleep = route.conversationStatus === "snoozed" || route.conversationStatus === "resolved";
  let result: Awaited<ReturnType<ConversationRoom["appendMessage"]>>;
  if (stored) {
    // Stored with the route: the room only logs and broadcasts it (if that fails, D1 has it all the
    // same, and the room skips the seq it never got: see GAP_WAIT_MS). The route, read in the same
    // batch, says whether anyone may have the room or the inbox open: a room nobody has open is left
    // out (conversations.room_listeners), and the inbox stream is then told directly.
    const message = presentMessage(stored);
    if (route.roomListening) {
      await roomFor(ctx.env, conversationId)
        .deliverMessage(workspaceId, stored.seq, message, route.listening)
        .catch((err: unknown) =>
          log("warn", "could not hand a room its frame", { conversationId, error: String(err) }),
        );
    } else if (route.listening) {
      await publishConversation(ctx.env, workspaceId, conversationId);
    }
    result = { outcome: "created", message, d1: { roundTrips: 0, statements: 0 } };
  } else {
    result = await roomFor(ctx.env, conversationId).appendMessage(
      {
        id: messageId,
        workspaceId,
        conversationId,
        direction: "inbound",
        channel: messageChannel,
        fromNumber: customerAddress,
        toNumber: to,
        body: input.Body,
        media,
        status: "received",
        segments,
        encoding,
        providerSid: input.MessageSid,
        createdAt: now,
      },
      { reopen: asleep },
    );
  }
  addCount(ctx.count, result.d1);
  if (result.outcome === "duplicate") return null;
  // Integration events only when the workspace has an endpoint (read with the route: no extra round trip).
  if (isNewThread && route.integrations)
    await emitEvent(ctx.env, workspaceId, "conversation.created", { conversationId, contactId: thread.contactId });
  if (route.integrations) await emitEvent(ctx.env, workspaceId, "message.received", { message: result.message });
  if (keyword === "opt_out" && route.integrations) {
    await emitEvent(ctx.env, workspaceId, "contact.opted_out", {
      contactId: thread.contactId,
      phone: from,
      source: input.OptOutType ? "twilio_opt_out" : "keyword",
    });
  }
  // The provider's media links need its credentials and may be deleted there: a job keeps copies in R2.
  if (media.length > 0) {
    await enqueueMediaCopy(ctx.env, result.message.id).catch((err: unknown) =>
      log("warn", "could not enqueue the media copy; the retention-safe copy waits for the sweep", {
        error: String(err),
      }),
    );
  }

  // The team: the assignee hears of a reply on their conversation; a new conversation may be
  // assigned round-robin to an online agent (a workspace setting).
  const customer = { type: "customer" as const, id: thread.contactId, name: route.contactName ?? from };
  if (route.assigneeId) {
    await notify(ctx.env, db, {
      workspaceId,
      userId: route.assigneeId,
      type: "inbound_on_mine",
      conversationId,
      actor: customer,
    }).catch((err: unknown) => log("warn", "inbound notification failed", { error: String(err) }));
  } else if (isNewThread && route.autoAssign) {
    await autoAssign(ctx.env, db, workspaceId, conversationId).catch((err: unknown) =>
      log("warn", "auto-assignment failed", { conversationId, error: String(err) }),
    );
  }

  // Outside business hours, the away reply (once per conversation per 12 h; never to a keyword, never
  // to a number that opted out).
  if (keyword === null && !thread.optedOut && route.away) {
    await sendAwayReply(
      ctx.env,
      route.away,
      {
        workspaceId,
        conversationId,
        customer: customerAddress,
        line: to,
        channel: channel.kind === "whatsapp" ? "whatsapp" : "sms",
      },
      now,
    ).catch((err: unknown) => log("warn", "away reply failed", { conversationId, error: String(err) }));
  }

  // HELP gets the workspace's help text, unless Twilio already answered (Advanced Opt-Out) or the
  // contact opted out (an opted-out user gets no HELP reply).
  if (keyword === "help" && input.OptOutType === undefined && !thread.optedOut) {
    const workspace = await db.query.workspaces.findFirst({ where: eq(workspaces.id, workspaceId) });
    if (workspace) return workspace.helpText;
  }
  return null;
}

/** Assigns a new conversation to the next online agent, round-robin (the inbox stream knows who is online). */
async function autoAssign(env: Env, db: Db, workspaceId: string, conversationId: string): Promise<void> {
  const agentId = await inboxFor(env, workspaceId).nextOnlineAgent();
  if (!agentId) return;
  const changed = await roomFor(env, conversationId).changeState(workspaceId, { assigneeId: agentId });
  if (!changed) return;
  await notify(env, db, {
    workspaceId,
    userId: agentId,
    type: "assigned",
    conversationId,
    actor: { type: "system", id: null, name: "Auto-assignment" },
  });
}

async function sendAwayReply(
  env: Env,
  awayJson: string,
  at: { workspaceId: string; conversationId: string; customer: string; line: string; channel: "sms" | "whatsapp" },
  now: number,
): Promise<void> {
  const away = JSON.parse(awayJson) as { hours: unknown; message: string; zone: string };
  const hours = BusinessHoursSchema.safeParse(away.hours);
  if (!hours.success || isOpen(now, away.zone, hours.data)) return;
  if (!(await claimAwayReply(env.DB, at.conversationId, now, AWAY_REPLY_EVERY_MS))) return;
  await sendSystemMessage(env, {
    workspaceId: at.workspaceId,
    conversationId: at.conversationId,
    fromNumber: at.line,
    toNumber: at.customer,
    body: away.message,
    name: "Away reply",
    channel: at.channel,
  });
}
