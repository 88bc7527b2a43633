/**
 * Messages: send (202, stored `pending` or `scheduled`, enqueued), read a thread in seq order, one
 * message with its events, cancel a scheduled one, retry a failed one, mark a conversation read.
 */

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { addCount } from "../../db/counted";
import { isSuppressed } from "../../db/queries/contacts";
import {
  ensureThread,
  findWorkspaceNumber,
  getConversation,
  getConversationWithContact,
} from "../../db/queries/conversations";
import { getMessage, listAttempts, listMessageEvents, listThread } from "../../db/queries/messages";
import { messages } from "../../db/schema";
import { newId } from "../../domain/ids";
import { analyzeSegments } from "../../domain/segments";
import { iso } from "../../domain/time";
import { enqueueOutbound } from "../../queue/outbound";
import { roomFor } from "../../rooms/conversation-room";
import { sha256Hex } from "../../security/crypto";
import type { MessageJson } from "../../shared/frames";
import { isRetryableFailure } from "../../twilio/error-codes";
import type { AppEnv, Principal } from "../context";
import { ApiError, conflict, notFound, unprocessable } from "../errors";
import { type ContactRow, presentMessage } from "../present";
import {
  ErrorSchema,
  errorResponses,
  IdParam,
  jsonBody,
  jsonContent,
  listOf,
  MessageSchema,
  PhoneInput,
  security,
} from "../schemas";
import { validationHook } from "../validation";

/** Statuses of an attempt that has not ended yet: a retry now could send the message twice. */
const IN_FLIGHT: string[] = ["pending", "queued", "sending"];

export const MIN_SCHEDULE_MS = 60_000;
export const MAX_SCHEDULE_MS = 35 * 24 * 60 * 60 * 1000;

const Body = z
  .string()
  .max(1600, "must be at most 1,600 characters")
  .refine((s) => s.trim().length > 0, "must not be empty")
  .openapi({ example: "Your order is ready for pickup." });
const MediaUrls = z
  .array(
    z
      .string()
      .url("must be a URL")
      .max(2048)
      .refine((u) => u.startsWith("https://"), "must be an https URL Twilio can fetch"),
  )
  .max(10, "at most 10 media URLs")
  .optional();
const SendAt = z.iso.datetime({ offset: true, message: "must be an ISO-8601 date-time" }).optional();

const SendInConversation = z.object({ body: Body, mediaUrls: MediaUrls, sendAt: SendAt }).strict();
const SendDirect = z
  .object({ to: PhoneInput, from: PhoneInput.optional(), body: Body, mediaUrls: MediaUrls, sendAt: SendAt })
  .strict();

const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "Repeat a send safely: the same key and body returns the first result; another body answers 409.",
    }),
});

const MessageEventSchema = z
  .object({
    status: z.string(),
    errorCode: z.number().int().nullable(),
    errorMessage: z.string().nullable(),
    at: z.string(),
    source: z.string(),
    applied: z.boolean(),
  })
  .openapi("MessageEvent");
const MessageAttemptSchema = z
  .object({
    attempt: z.number().int(),
    providerSid: z.string().nullable(),
    status: z.string(),
    errorCode: z.number().int().nullable(),
    errorMessage: z.string().nullable(),
    startedAt: z.string().nullable(),
    endedAt: z.string().nullable(),
  })
  .openapi("MessageAttempt");
const MessageWithEvents = MessageSchema.extend({
  events: z.array(MessageEventSchema),
  attempts: z.array(MessageAttemptSchema).openapi({ description: "Earlier attempts that a manual retry replaced" }),
}).openapi("MessageWithEvents");

const accepted = { 202: jsonContent(MessageSchema, "Accepted: stored and queued (or scheduled)") };
const sendErrors = {
  409: jsonContent(ErrorSchema, "Idempotency-Key reused with another body"),
  ...errorResponses,
};

const sendInConversationRoute = createRoute({
  method: "post",
  path: "/conversations/{id}/messages",
  tags: ["messages"],
  summary: "Send a message in a conversation",
  security,
  request: { params: IdParam, headers: IdempotencyHeader, body: jsonBody(SendInConversation) },
  responses: { ...accepted, ...sendErrors },
});

const sendDirectRoute = createRoute({
  method: "post",
  path: "/messages",
  tags: ["messages"],
  summary: "Send a message to a number (finds or creates the contact and conversation)",
  security,
  request: { headers: IdempotencyHeader, body: jsonBody(SendDirect) },
  responses: { ...accepted, ...sendErrors },
});

const threadRoute = createRoute({
  method: "get",
  path: "/conversations/{id}/messages",
  tags: ["messages"],
  summary: "A conversation's messages in seq order (after, before, or the latest)",
  security,
  request: {
    params: IdParam,
    query: z.object({
      after: z.coerce.number().int().min(0).optional(),
      before: z.coerce.number().int().min(1).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: { 200: jsonContent(listOf(MessageSchema, "MessageList"), "Messages"), ...errorResponses },
});

const getRoute = createRoute({
  method: "get",
  path: "/messages/{id}",
  tags: ["messages"],
  summary: "A message with its events (every status report and error)",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(MessageWithEvents, "The message"), ...errorResponses },
});

const editRoute = createRoute({
  method: "patch",
  path: "/messages/{id}",
  tags: ["messages"],
  summary: "Edit a scheduled message (body and/or send time) before it is due",
  security,
  request: {
    params: IdParam,
    body: jsonBody(z.object({ body: Body.optional(), sendAt: z.iso.datetime({ offset: true }).optional() }).strict()),
  },
  responses: {
    200: jsonContent(MessageSchema, "Edited"),
    409: jsonContent(ErrorSchema, "Not scheduled"),
    ...errorResponses,
  },
});

const cancelRoute = createRoute({
  method: "post",
  path: "/messages/{id}/cancel",
  tags: ["messages"],
  summary: "Cancel a scheduled message before it is due",
  security,
  request: { params: IdParam },
  responses: {
    200: jsonContent(MessageSchema, "Canceled"),
    409: jsonContent(ErrorSchema, "Not scheduled"),
    ...errorResponses,
  },
});

const retryRoute = createRoute({
  method: "post",
  path: "/messages/{id}/retry",
  tags: ["messages"],
  summary: "Send a failed message again (only for failures a retry can fix)",
  security,
  request: { params: IdParam },
  responses: {
    202: jsonContent(MessageSchema, "Queued again"),
    409: jsonContent(ErrorSchema, "Not retryable"),
    ...errorResponses,
  },
});

const readRoute = createRoute({
  method: "post",
  path: "/conversations/{id}/read",
  tags: ["conversations"],
  summary: "Mark the conversation read up to seq (per user)",
  security,
  request: { params: IdParam, body: jsonBody(z.object({ seq: z.number().int().min(0) }).strict()) },
  responses: {
    200: jsonContent(z.object({ conversationId: z.string(), seq: z.number().int() }), "Read marker stored"),
    ...errorResponses,
  },
});

interface SendInput {
  body: string;
  mediaUrls?: string[];
  sendAt?: string;
}

function parseSendAt(sendAt: string | undefined, now: number): number | null {
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

/** The first result for this key, or 409 when the key was used for another request. */
async function replayIdempotent(c: Context<AppEnv>, principal: Principal, key: string, hash: string) {
  const existing = await c.get("db").query.messages.findFirst({
    where: and(eq(messages.workspaceId, principal.workspaceId), eq(messages.idempotencyKey, key)),
  });
  if (!existing) return null;
  if (existing.idempotencyHash !== hash) {
    throw conflict("This Idempotency-Key was already used for a different request.", { header: "Idempotency-Key" });
  }
  return existing;
}

/**
 * Stores and enqueues a new outbound message. Callers answer a repeated Idempotency-Key first
 * (sendOnce); a concurrent repeat that slips past is caught by the unique index and replayed here.
 */
async function createOutbound(
  c: Context<AppEnv>,
  conversation: { id: string; workspaceId: string; fromNumber: string },
  contact: ContactRow,
  suppressed: boolean,
  input: SendInput,
  idempotencyKey: string | undefined,
  requestHash: string,
): Promise<MessageJson> {
  const principal = c.get("principal");
  const now = Date.now();
  const sendAt = parseSendAt(input.sendAt, now);
  if (suppressed) throw optedOut(contact.name ?? contact.phone, contact.id);
  const media = (input.mediaUrls ?? []).map((url) => ({ url, contentType: null }));
  const { encoding, segments } = analyzeSegments(input.body);
  const id = newId("msg");
  const result = await roomFor(c.env, conversation.id).appendMessage({
    id,
    workspaceId: principal.workspaceId,
    conversationId: conversation.id,
    direction: "outbound",
    channel: media.length > 0 ? "mms" : "sms",
    fromNumber: conversation.fromNumber,
    toNumber: contact.phone,
    body: input.body,
    media,
    status: sendAt === null ? "pending" : "scheduled",
    segments,
    encoding,
    idempotencyKey: idempotencyKey ?? null,
    idempotencyHash: idempotencyKey ? requestHash : null,
    sendAt,
    createdBy: principal.userId ?? principal.credentialId,
    createdAt: now,
  });
  addCount(c.get("d1Count"), result.d1);
  if (result.outcome === "duplicate") {
    // A concurrent request with the same key won the race.
    const replay = idempotencyKey ? await replayIdempotent(c, principal, idempotencyKey, requestHash) : null;
    if (!replay) throw new ApiError(500, "internal", "Could not store the message.");
    return presentMessage(replay);
  }
  if (sendAt === null) {
    // If this enqueue is lost the message stays pending and the outbox recovery cron sends it.
    await enqueueOutbound(c.env, id).catch(() => undefined);
  }
  return result.message;
}

async function requestHash(scope: string, input: unknown): Promise<string> {
  return sha256Hex(JSON.stringify([scope, input]));
}

/** Answers a repeated Idempotency-Key with the first result (one lookup), else creates the message. */
async function sendOnce(
  c: Context<AppEnv>,
  key: string | undefined,
  hash: string,
  create: () => Promise<MessageJson>,
): Promise<MessageJson> {
  const replay = key ? await replayIdempotent(c, c.get("principal"), key, hash) : null;
  return replay ? presentMessage(replay) : create();
}

export const messageRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(sendInConversationRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const hash = await requestHash(`conversation:${id}`, input);
    // One query: the thread, what a send needs to know about it, and whether this key was used.
    const thread = await getConversationWithContact(c.get("db"), principal.workspaceId, id, key);
    if (thread?.replayId && key) {
      const replay = await replayIdempotent(c, principal, key, hash);
      if (replay) return c.json(presentMessage(replay), 202);
    }
    if (!thread) throw notFound("Conversation");
    if (!thread.senderActive) {
      throw unprocessable(
        "sender_removed",
        `${thread.conversation.fromNumber} is no longer one of this workspace's numbers; move the conversation to another (PATCH /api/conversations/${id} {from}).`,
        { from: thread.conversation.fromNumber },
      );
    }
    const message = await createOutbound(c, thread.conversation, thread.contact, thread.suppressed, input, key, hash);
    return c.json(message, 202);
  })
  .openapi(sendDirectRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const input = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const hash = await requestHash("direct", input);
    const message = await sendOnce(c, key, hash, async () => {
      // Refused before anything is stored: no contact or thread for a number that opted out.
      if (await isSuppressed(db, principal.workspaceId, input.to)) throw optedOut(input.to);
      const sender = await findWorkspaceNumber(db, principal.workspaceId, input.from);
      if (!sender) {
        throw input.from
          ? unprocessable("unknown_sender", `${input.from} is not one of this workspace's numbers.`, { field: "from" })
          : unprocessable("no_sender", "Register a sender number (POST /api/numbers) before sending.");
      }
      const { contact, conversation } = await ensureThread(
        db,
        principal.workspaceId,
        input.to,
        sender.phoneNumber,
        () => ({
          contact: newId("ct"),
          conversation: newId("cv"),
        }),
      );
      return createOutbound(c, conversation, contact, false, input, key, hash);
    });
    return c.json(message, 202);
  })
  .openapi(threadRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const { after, before, limit } = c.req.valid("query");
    const db = c.get("db");
    // One query in the common case; only an empty page needs to tell "no messages" from "not yours".
    const rows = await listThread(db, principal.workspaceId, id, { after, before, limit: limit + 1 });
    if (rows.length === 0 && !(await getConversation(db, principal.workspaceId, id))) throw notFound("Conversation");
    const hasMore = rows.length > limit;
    // Older pages drop their first (oldest) extra row; newer pages their last.
    const page = after !== undefined ? rows.slice(0, limit) : rows.slice(rows.length > limit ? 1 : 0);
    const edge = after !== undefined ? page.at(-1) : page[0];
    const nextCursor = hasMore && edge ? String(edge.seq) : null;
    return c.json({ items: page.map(presentMessage), nextCursor }, 200);
  })
  .openapi(getRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const msg = await getMessage(db, principal.workspaceId, c.req.valid("param").id);
    if (!msg) throw notFound("Message");
    const [events, attempts] = await Promise.all([listMessageEvents(db, msg.id), listAttempts(db, msg.id)]);
    return c.json(
      {
        ...presentMessage(msg),
        events: events.map((e) => ({
          status: e.status,
          errorCode: e.errorCode,
          errorMessage: e.errorMessage,
          at: iso(e.at),
          source: e.source,
          applied: e.applied,
        })),
        attempts: attempts.map((a) => ({
          attempt: a.attempt,
          providerSid: a.providerSid,
          status: a.status,
          errorCode: a.errorCode,
          errorMessage: a.errorMessage,
          startedAt: iso(a.startedAt),
          endedAt: iso(a.endedAt),
        })),
      },
      200,
    );
  })
  .openapi(editRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const msg = await getMessage(db, principal.workspaceId, c.req.valid("param").id);
    if (!msg) throw notFound("Message");
    const input = c.req.valid("json");
    const sendAt = input.sendAt === undefined ? msg.sendAt : parseSendAt(input.sendAt, Date.now());
    const body = input.body ?? msg.body;
    if (msg.status !== "scheduled" || sendAt === null) {
      throw conflict(`Only scheduled messages can be edited; this one is ${msg.status}.`, { status: msg.status });
    }
    const { encoding, segments } = analyzeSegments(body);
    const edited = await roomFor(c.env, msg.conversationId).editScheduled(msg.conversationId, msg.id, {
      body,
      segments,
      encoding,
      sendAt,
    });
    if (!edited) {
      const now = await getMessage(db, principal.workspaceId, msg.id);
      throw conflict(`Only scheduled messages can be edited; this one is ${now?.status ?? "gone"}.`, {
        status: now?.status,
      });
    }
    return c.json(edited, 200);
  })
  .openapi(cancelRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const msg = await getMessage(db, principal.workspaceId, c.req.valid("param").id);
    if (!msg) throw notFound("Message");
    const result = await roomFor(c.env, msg.conversationId).applyStatus(msg.conversationId, {
      messageId: msg.id,
      status: "canceled",
      source: "api",
      at: Date.now(),
      requireStatus: ["scheduled"],
    });
    addCount(c.get("d1Count"), result.d1);
    if (!result.applied) {
      const now = await getMessage(db, principal.workspaceId, msg.id);
      throw conflict(`Only scheduled messages can be canceled; this one is ${now?.status ?? msg.status}.`, {
        status: now?.status ?? msg.status,
      });
    }
    const updated = await getMessage(db, principal.workspaceId, msg.id);
    if (!updated) throw notFound("Message");
    return c.json(presentMessage(updated), 200);
  })
  .openapi(retryRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const msg = await getMessage(db, principal.workspaceId, c.req.valid("param").id);
    if (!msg) throw notFound("Message");
    if (IN_FLIGHT.includes(msg.status) || (msg.leaseUntil !== null && msg.leaseUntil > Date.now())) {
      throw new ApiError(
        409,
        "attempt_in_flight",
        `An attempt of this message is in flight (${msg.status}); wait for its outcome.`,
        {
          status: msg.status,
        },
      );
    }
    if (msg.status !== "failed") {
      throw conflict(`Only failed messages can be retried; this one is ${msg.status}.`, { status: msg.status });
    }
    if (!isRetryableFailure(msg.errorCode)) {
      throw conflict(
        `This failure (${msg.errorCode}: ${msg.errorMessage ?? "unknown"}) will not be fixed by sending again.`,
        {
          errorCode: msg.errorCode,
        },
      );
    }
    const result = await roomFor(c.env, msg.conversationId).restartFailed(msg.conversationId, msg.id);
    addCount(c.get("d1Count"), result.d1);
    if (!result.applied) {
      throw new ApiError(409, "attempt_in_flight", "Another attempt of this message started meanwhile; reload it.");
    }
    await enqueueOutbound(c.env, msg.id).catch(() => undefined);
    const updated = await getMessage(db, principal.workspaceId, msg.id);
    if (!updated) throw notFound("Message");
    return c.json(presentMessage(updated), 202);
  })
  .openapi(readRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const { seq } = c.req.valid("json");
    const db = c.get("db");
    const conversation = await getConversation(db, principal.workspaceId, id);
    if (!conversation) throw notFound("Conversation");
    if (!principal.userId)
      throw unprocessable("needs_user", "Read markers belong to users; sign in to mark conversations read.");
    const upTo = await roomFor(c.env, id).markRead(id, principal.workspaceId, principal.userId, seq);
    return c.json({ conversationId: id, seq: upTo }, 200);
  });
