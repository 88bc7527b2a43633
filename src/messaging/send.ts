/**
 * Send: a new outbound message, and the changes a person may make to one before or after it goes out
 * (edit or cancel a scheduled one, retry a failed one). Each step takes plain data — the bindings, the
 * database and who is acting — so routes, cron and (next) campaigns call the same rules:
 * validate, check consent, answer a repeated Idempotency-Key with the first result, append through the
 * conversation's room (the ordering point), and enqueue for handover.
 */

import { channelFor } from "../channels/registry";
import type { Channel } from "../channels/types";
import type { Db } from "../db/client";
import { addCount, type D1Count } from "../db/counted";
import { isSuppressed } from "../db/queries/contacts";
import {
  ensureEmailThread,
  ensureThread,
  findDirectThread,
  findWorkspaceNumber,
  getConversationWithContact,
  workspacePolicy,
} from "../db/queries/conversations";
import { findByIdempotencyKey, getMessage, latestSubject } from "../db/queries/messages";
import { getTemplate } from "../db/queries/templates";
import type { contacts, MediaItem } from "../db/schema";
import { ApiError, conflict, notFound, unprocessable } from "../domain/errors";
import { newId } from "../domain/ids";
import type { Principal } from "../domain/principal";
import { quietHoursDecision, recipientZone } from "../domain/quiet-hours";
import { analyzeSegments } from "../domain/segments";
import { roomFor } from "../rooms/conversation-room";
import { sha256Hex } from "../security/crypto";
import type { ChannelKind } from "../shared/channels";
import type { MessageJson } from "../shared/frames";
import { MAX_BODY_CHARS, MAX_SCHEDULE_MS, MIN_SCHEDULE_MS } from "../shared/limits";
import { parseQuietHours, type QuietHours } from "../shared/policies";
import { isRetryableFailure } from "../shared/retry";
import { linkSentAttachments, mediaForSend } from "./attachments";
import { enqueueOutbound } from "./outbox";
import { presentMessage } from "./present";
import { renderForContact } from "./templates";

export interface MessagingContext {
  env: Env;
  db: Db;
  principal: Principal;
  /** Where the D1 work of rooms called on the caller's behalf is added (the request's count). */
  count?: D1Count;
}

export interface SendInput {
  /** The text; or give `templateId` (and `variables`) to render a template for the contact instead. */
  body?: string;
  templateId?: string;
  variables?: Record<string, string>;
  mediaUrls?: string[];
  /** Files uploaded first (POST /api/attachments), checked against the channel's limits. */
  attachmentIds?: string[];
  /** Email: the subject (a reply defaults to "Re: " and the thread's). */
  subject?: string;
  sendAt?: string;
}

/** The input with its final text (a template rendered for this contact). */
async function resolveBody(
  ctx: MessagingContext,
  input: SendInput,
  contact: ContactRow,
): Promise<SendInput & { body: string }> {
  if (input.templateId === undefined) {
    if (input.body === undefined) throw unprocessable("validation_failed", "Give a body, or a templateId.");
    return { ...input, body: input.body };
  }
  const body = await renderForContact(ctx.db, ctx.principal, input.templateId, contact, input.variables);
  if (body.length > MAX_BODY_CHARS) {
    throw unprocessable("validation_failed", `The rendered template is over ${MAX_BODY_CHARS} characters.`);
  }
  return { ...input, body };
}

/** What the quiet-hours rule needs about the recipient and the workspace. */
export interface SendPolicy {
  quietHours: QuietHours | null;
  workspaceZone: string;
  lastInboundAt: number | null;
}

/** Statuses of an attempt that has not ended yet: a retry now could send the message twice. */
const IN_FLIGHT: string[] = ["pending", "queued", "sending"];

type ContactRow = typeof contacts.$inferSelect;

export function parseSendAt(sendAt: string | undefined, now: number): number | null {
  if (sendAt === undefined) return null;
  const at = Date.parse(sendAt);
  if (at < now + MIN_SCHEDULE_MS || at > now + MAX_SCHEDULE_MS) {
    throw unprocessable("validation_failed", "Invalid sendAt: must be between 1 minute and 35 days from now.", {
      fields: [{ path: "sendAt", message: "must be between 1 minute and 35 days from now" }],
    });
  }
  return at;
}

function optedOut(who: string, contactId?: string) {
  return unprocessable(
    "recipient_opted_out",
    `${who} opted out (replied STOP). They must text START before you can message them again.`,
    contactId ? { contactId } : undefined,
  );
}

async function requestHash(scope: string, input: unknown): Promise<string> {
  return sha256Hex(JSON.stringify([scope, input]));
}

/** The first result for this key, or 409 when the key was used for another request. */
async function replayIdempotent(ctx: MessagingContext, key: string, hash: string) {
  const existing = await findByIdempotencyKey(ctx.db, ctx.principal.workspaceId, key);
  if (!existing) return null;
  if (existing.idempotencyHash !== hash) {
    throw conflict("This Idempotency-Key was already used for a different request.", { header: "Idempotency-Key" });
  }
  return existing;
}

/**
 * Stores and enqueues a new outbound message. Callers answer a repeated Idempotency-Key first; a
 * concurrent repeat that slips past is caught by the unique index and replayed here.
 */
async function createOutbound(
  ctx: MessagingContext,
  conversation: ThreadRef,
  contact: ContactRow,
  unresolved: SendInput,
  idempotencyKey: string | undefined,
  hash: string,
  policy: SendPolicy,
): Promise<MessageJson> {
  const { principal } = ctx;
  const channel = channelFor(conversation.channel ?? "sms");
  const toAddress = conversation.customerAddress ?? channel.customerAddress(contact);
  if (!toAddress) {
    throw unprocessable("no_address", `${contact.name ?? "This contact"} has no ${channel.label} address.`, {
      channel: channel.kind,
    });
  }
  const input = await resolveBody(ctx, unresolved, contact);
  if (input.body.length > channel.capabilities.maxBodyChars) {
    throw unprocessable(
      "validation_failed",
      `A ${channel.label} message is at most ${channel.capabilities.maxBodyChars} characters.`,
      {
        fields: [{ path: "body", message: `must be at most ${channel.capabilities.maxBodyChars} characters` }],
      },
    );
  }
  const now = Date.now();
  const template = await whatsappTemplate(ctx, channel, input);
  assertSessionWindow(channel, template, policy.lastInboundAt, now);
  let sendAt = parseSendAt(input.sendAt, now);
  // Quiet hours, by the recipient's local time when the message would go out (texts only: email waits in the inbox).
  let deferredReason: string | null = null;
  const { zone } = recipientZone(contact, policy.workspaceZone, now);
  const decision = quietHoursDecision({
    quiet: channel.kind === "email" ? null : policy.quietHours,
    at: sendAt ?? now,
    zone,
    lastInboundAt: policy.lastInboundAt,
    now,
  });
  if (decision.action === "refuse") {
    throw unprocessable(
      "quiet_hours",
      `It is quiet hours for this recipient (${decision.zone}); you can send from ${new Date(decision.until).toISOString()}.`,
      { nextAllowedAt: new Date(decision.until).toISOString(), zone: decision.zone },
    );
  }
  if (decision.action === "defer") {
    sendAt = decision.until;
    deferredReason = "quiet_hours";
  }
  const media: MediaItem[] =
    input.attachmentIds && input.attachmentIds.length > 0
      ? await mediaForSend(ctx.db, principal.workspaceId, input.attachmentIds, channel)
      : (input.mediaUrls ?? []).map((url) => ({ url, contentType: null }));
  const subject = channel.capabilities.subject
    ? input.subject?.trim() || replySubject(await latestSubject(ctx.db, conversation.id))
    : null;
  if (channel.capabilities.subject && !subject) {
    throw unprocessable("subject_required", "The first email of a conversation needs a subject.", {
      fields: [{ path: "subject", message: "required for the first email" }],
    });
  }
  const analyzed = analyzeSegments(input.body);
  const { encoding } = analyzed;
  const segments = channel.capabilities.segmented ? analyzed.segments : 1;
  const id = newId("msg");
  const result = await roomFor(ctx.env, conversation.id).appendMessage({
    id,
    workspaceId: principal.workspaceId,
    conversationId: conversation.id,
    direction: "outbound",
    channel: channel.kind === "sms" ? (media.length > 0 ? "mms" : "sms") : channel.kind,
    fromNumber: conversation.fromNumber,
    toNumber: toAddress,
    body: input.body,
    subject,
    contentSid: template?.contentSid ?? null,
    contentVariables: template ? (input.variables ?? {}) : null,
    media,
    status: sendAt === null ? "pending" : "scheduled",
    segments,
    encoding,
    idempotencyKey: idempotencyKey ?? null,
    idempotencyHash: idempotencyKey ? hash : null,
    sendAt,
    deferredReason,
    createdBy: principal.userId ?? principal.credentialId,
    // The room fills in the sender's current name from D1 (in the insert itself, no extra read).
    sentByType: principal.kind === "session" ? "user" : "api_key",
    createdAt: now,
  });
  addCount(ctx.count, result.d1);
  if (result.outcome === "duplicate") {
    // A concurrent request with the same key won the race.
    const replay = idempotencyKey ? await replayIdempotent(ctx, idempotencyKey, hash) : null;
    if (!replay) throw new ApiError(500, "internal", "Could not store the message.");
    return presentMessage(replay);
  }
  if (media.some((m) => m.attachmentId)) await linkSentAttachments(ctx.db, principal.workspaceId, media, id);
  if (sendAt === null) {
    // If this enqueue is lost the message stays pending and the outbox recovery cron sends it.
    await enqueueOutbound(ctx.env, id, { workspaceId: principal.workspaceId }).catch(() => undefined);
  }
  return result.message;
}

/** What a send needs of its thread. */
interface ThreadRef {
  id: string;
  fromNumber: string;
  channel?: ChannelKind;
  customerAddress?: string | null;
}

/** A WhatsApp send naming an approved template (Content SID): the template; null for a free-form message. */
async function whatsappTemplate(ctx: MessagingContext, channel: Channel, input: SendInput) {
  if (!channel.capabilities.templates || input.templateId === undefined) return null;
  const tpl = await getTemplate(ctx.db, ctx.principal.workspaceId, input.templateId);
  return tpl?.contentSid ? { contentSid: tpl.contentSid } : null;
}

/** WhatsApp: free-form messages only within 24 hours of the customer's last one; templates any time. */
function assertSessionWindow(
  channel: Channel,
  template: { contentSid: string } | null,
  lastInboundAt: number | null,
  now: number,
) {
  const window = channel.capabilities.sessionWindowMs;
  if (window === null || template) return;
  if (lastInboundAt !== null && now - lastInboundAt < window) return;
  const closedAt = lastInboundAt === null ? null : new Date(lastInboundAt + window).toISOString();
  throw unprocessable(
    "session_window_closed",
    lastInboundAt === null
      ? `${channel.label} only lets a business write first with an approved template: the customer has not written yet. Pick a template with a WhatsApp Content SID.`
      : `${channel.label}'s 24-hour window closed at ${closedAt} (24 hours after the customer's last message); only an approved template can be sent until they write again.`,
    { channel: channel.kind, windowClosedAt: closedAt },
  );
}

/** "Re: " and the thread's subject (once), or null when the thread has none yet. */
export function replySubject(subject: string | null): string | null {
  if (!subject) return null;
  return /^re:/i.test(subject.trim()) ? subject.trim() : `Re: ${subject.trim()}`;
}

/** A message in an existing conversation: one lookup (thread, consent, sender, key), then the room. */
export async function sendInConversation(
  ctx: MessagingContext,
  conversationId: string,
  input: SendInput,
  idempotencyKey?: string,
): Promise<MessageJson> {
  const hash = await requestHash(`conversation:${conversationId}`, input);
  const thread = await getConversationWithContact(
    ctx.db,
    ctx.principal.workspaceId,
    conversationId,
    idempotencyKey,
    ctx.principal.userId,
  );
  if (thread?.replayId && idempotencyKey) {
    const replay = await replayIdempotent(ctx, idempotencyKey, hash);
    if (replay) return presentMessage(replay);
  }
  if (!thread) throw notFound("Conversation");
  if (!thread.senderActive) {
    throw unprocessable(
      "sender_removed",
      `${thread.conversation.fromNumber} is no longer one of this workspace's numbers; move the conversation to another (PATCH /api/conversations/${conversationId} {from}).`,
      { from: thread.conversation.fromNumber },
    );
  }
  if (thread.suppressed) throw optedOut(thread.contact.name ?? thread.contact.phone, thread.contact.id);
  return createOutbound(ctx, thread.conversation, thread.contact, input, idempotencyKey, hash, {
    quietHours: parseQuietHours(thread.quietHours),
    workspaceZone: thread.workspaceZone,
    lastInboundAt: thread.conversation.lastInboundAt,
  });
}

/** The channel an address is on: an email address, `whatsapp:+E164`, or a phone number. */
export function channelOfAddress(address: string): ChannelKind {
  if (address.includes("@")) return "email";
  return address.startsWith("whatsapp:") ? "whatsapp" : "sms";
}

/**
 * A message to an address (a number, `whatsapp:+E164`, or an email address): finds or creates the
 * contact and the conversation with the sending inbox (`from`, or the workspace's first inbox of
 * that channel).
 */
export async function sendToNumber(
  ctx: MessagingContext,
  input: SendInput & { to: string; from?: string },
  idempotencyKey?: string,
): Promise<MessageJson> {
  const { db, principal } = ctx;
  const hash = await requestHash("direct", input);
  const wanted = channelOfAddress(input.to);
  // The common case, a number with an inbox of its channel: one lookup (the inbox, the thread if there
  // is one, consent, the key's earlier message, the policy), then the room.
  const guess = wanted === "email" ? null : channelFor(wanted).contactKey(input.to);
  if (guess && "phone" in guess) {
    const found = await findDirectThread(db.$client, {
      workspaceId: principal.workspaceId,
      from: input.from,
      channel: wanted,
      phone: guess.phone,
      idempotencyKey,
    });
    const channel = found ? channelFor(found.sender.channel) : null;
    // The address read for its own channel's inbox is the guess (libphonenumber once, not twice).
    const key = found?.sender.channel === wanted ? guess : channel?.contactKey(input.to);
    if (found && channel && key && "phone" in key && key.phone === guess.phone) {
      if (found.replayId && idempotencyKey) {
        const replay = await replayIdempotent(ctx, idempotencyKey, hash);
        if (replay) return presentMessage(replay);
      }
      // Refused before anything is stored: no contact or thread for a number that opted out.
      if (found.suppressed) throw optedOut(key.phone);
      const thread =
        found.contact && found.conversation
          ? { contact: found.contact, conversation: found.conversation }
          : await ensureThread(db, principal.workspaceId, key.phone, found.sender.phoneNumber, newThreadIds, {
              channel: channel.kind,
              customerAddress:
                channel.kind === "sms" ? null : channel.customerAddress({ phone: key.phone, email: null }),
            });
      return createOutbound(ctx, thread.conversation, thread.contact, input, idempotencyKey, hash, {
        quietHours: parseQuietHours(found.quietHours),
        workspaceZone: found.workspaceZone ?? "UTC",
        lastInboundAt: thread.conversation.lastInboundAt,
      });
    }
  }
  const replay = idempotencyKey ? await replayIdempotent(ctx, idempotencyKey, hash) : null;
  if (replay) return presentMessage(replay);
  const sender = await findWorkspaceNumber(db, principal.workspaceId, input.from, input.from ? undefined : wanted);
  if (!sender) {
    throw input.from
      ? unprocessable("unknown_sender", `${input.from} is not one of this workspace's inboxes.`, { field: "from" })
      : wanted === "sms"
        ? unprocessable("no_sender", "Register a sender number (POST /api/numbers) before sending.")
        : unprocessable("no_sender", `Add a ${channelFor(wanted).label} inbox (POST /api/inboxes) before sending.`);
  }
  const channel = channelFor(sender.channel);
  const key = channel.contactKey(input.to);
  if (!key) {
    throw unprocessable("validation_failed", `${input.to} is not an address ${sender.phoneNumber} can send to.`, {
      fields: [{ path: "to", message: `not a ${channel.label} address` }],
    });
  }
  const ids = newThreadIds;
  let thread: Awaited<ReturnType<typeof ensureThread>>;
  if ("email" in key) {
    thread = await ensureEmailThread(db, principal.workspaceId, key.email, sender.phoneNumber, null, ids);
  } else {
    // Refused before anything is stored: no contact or thread for a number that opted out.
    if (await isSuppressed(db, principal.workspaceId, key.phone)) throw optedOut(key.phone);
    thread = await ensureThread(db, principal.workspaceId, key.phone, sender.phoneNumber, ids, {
      channel: channel.kind,
      customerAddress: channel.kind === "sms" ? null : channel.customerAddress({ phone: key.phone, email: null }),
    });
  }
  const workspace = await workspacePolicy(db, principal.workspaceId);
  return createOutbound(ctx, thread.conversation, thread.contact, input, idempotencyKey, hash, {
    quietHours: parseQuietHours(workspace?.quietHours ?? null),
    workspaceZone: workspace?.timezone ?? "UTC",
    lastInboundAt: thread.conversation.lastInboundAt,
  });
}

function newThreadIds() {
  return { contact: newId("ct"), conversation: newId("cv") };
}

/** Changes a scheduled message's body or send time before it is due (re-broadcast under a new seq). */
export async function editScheduled(
  ctx: MessagingContext,
  messageId: string,
  edit: { body?: string; sendAt?: string },
): Promise<MessageJson> {
  const msg = await getMessage(ctx.db, ctx.principal.workspaceId, messageId);
  if (!msg) throw notFound("Message");
  const sendAt = edit.sendAt === undefined ? msg.sendAt : parseSendAt(edit.sendAt, Date.now());
  const body = edit.body ?? msg.body;
  if (msg.status !== "scheduled" || sendAt === null) {
    throw conflict(`Only scheduled messages can be edited; this one is ${msg.status}.`, { status: msg.status });
  }
  const { encoding, segments } = analyzeSegments(body);
  const edited = await roomFor(ctx.env, msg.conversationId).editScheduled(msg.id, {
    body,
    segments,
    encoding,
    sendAt,
  });
  if (!edited) {
    const now = await getMessage(ctx.db, ctx.principal.workspaceId, msg.id);
    throw conflict(`Only scheduled messages can be edited; this one is ${now?.status ?? "gone"}.`, {
      status: now?.status,
    });
  }
  return edited;
}

/** Cancels a scheduled message before it is due. */
export async function cancelScheduled(ctx: MessagingContext, messageId: string): Promise<MessageJson> {
  const { db, principal } = ctx;
  const msg = await getMessage(db, principal.workspaceId, messageId);
  if (!msg) throw notFound("Message");
  const result = await roomFor(ctx.env, msg.conversationId).applyStatus({
    messageId: msg.id,
    status: "canceled",
    source: "api",
    at: Date.now(),
    requireStatus: ["scheduled"],
  });
  addCount(ctx.count, result.d1);
  const updated = await getMessage(db, principal.workspaceId, msg.id);
  if (!result.applied) {
    throw conflict(`Only scheduled messages can be canceled; this one is ${updated?.status ?? msg.status}.`, {
      status: updated?.status ?? msg.status,
    });
  }
  if (!updated) throw notFound("Message");
  return presentMessage(updated);
}

/**
 * Sends a failed message again, as a new attempt (the old one is kept with its sid and outcome).
 * Refused while an attempt is in flight (409 attempt_in_flight) and for failures a retry cannot fix.
 */
export async function retryFailed(ctx: MessagingContext, messageId: string): Promise<MessageJson> {
  const { db, principal } = ctx;
  const msg = await getMessage(db, principal.workspaceId, messageId);
  if (!msg) throw notFound("Message");
  if (IN_FLIGHT.includes(msg.status) || (msg.leaseUntil !== null && msg.leaseUntil > Date.now())) {
    throw new ApiError(
      409,
      "attempt_in_flight",
      `An attempt of this message is in flight (${msg.status}); wait for its outcome.`,
      { status: msg.status },
    );
  }
  if (msg.status !== "failed") {
    throw conflict(`Only failed messages can be retried; this one is ${msg.status}.`, { status: msg.status });
  }
  if (!isRetryableFailure(msg.errorCode)) {
    throw conflict(
      `This failure (${msg.errorCode}: ${msg.errorMessage ?? "unknown"}) will not be fixed by sending again.`,
      { errorCode: msg.errorCode },
    );
  }
  const result = await roomFor(ctx.env, msg.conversationId).restartFailed(msg.id);
  addCount(ctx.count, result.d1);
  if (!result.applied) {
    throw new ApiError(409, "attempt_in_flight", "Another attempt of this message started meanwhile; reload it.");
  }
  await enqueueOutbound(ctx.env, msg.id, { workspaceId: msg.workspaceId }).catch(() => undefined);
  const updated = await getMessage(db, principal.workspaceId, msg.id);
  if (!updated) throw notFound("Message");
  return presentMessage(updated);
}

/**
 * Cancels the messages still waiting to go out from a sender whose number is being removed (the caller
 * listed them with listWaitingFrom, to say how many first).
 */
export async function cancelWaitingFrom(
  ctx: MessagingContext,
  fromNumber: string,
  waiting: { id: string; conversationId: string }[],
): Promise<number> {
  let canceled = 0;
  for (const msg of waiting) {
    const result = await roomFor(ctx.env, msg.conversationId).applyStatus({
      messageId: msg.id,
      status: "canceled",
      errorMessage: `Canceled: the sender ${fromNumber} was removed.`,
      source: "api",
      at: Date.now(),
      requireStatus: ["scheduled", "pending"],
    });
    addCount(ctx.count, result.d1);
    if (result.applied) canceled++;
  }
  return canceled;
}

/**
 * A message Parley sends on its own (the away reply): through the same room and queue as any other, so
 * it is in the thread with its status and `sentBy: system`.
 */
export async function sendSystemMessage(
  env: Env,
  msg: {
    workspaceId: string;
    conversationId: string;
    fromNumber: string;
    toNumber: string;
    body: string;
    name: string;
    channel?: "sms" | "whatsapp";
  },
): Promise<MessageJson | null> {
  const { encoding, segments } = analyzeSegments(msg.body);
  const id = newId("msg");
  const result = await roomFor(env, msg.conversationId).appendMessage({
    id,
    workspaceId: msg.workspaceId,
    conversationId: msg.conversationId,
    direction: "outbound",
    channel: msg.channel ?? "sms",
    fromNumber: msg.fromNumber,
    toNumber: msg.toNumber,
    body: msg.body,
    media: [],
    status: "pending",
    segments,
    encoding,
    createdBy: null,
    sentByType: "system",
    sentByName: msg.name,
    createdAt: Date.now(),
  });
  if (result.outcome !== "created") return null;
  await enqueueOutbound(env, id, { workspaceId: msg.workspaceId }).catch(() => undefined);
  return result.message;
}
