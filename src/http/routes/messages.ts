/**
 * Messages: send (202, stored `pending` or `scheduled`, enqueued), read a thread in seq order, one
 * message with its events, cancel a scheduled one, retry a failed one, mark a conversation read.
 */

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createDb } from "../../db/client";
import { audit } from "../../db/queries/audit";
import { getConversation } from "../../db/queries/conversations";
import { getMessage, listAttempts, listMessageEvents, listThread } from "../../db/queries/messages";
import { ApiError, notFound, unprocessable } from "../../domain/errors";
import { iso } from "../../domain/time";
import { withArchived } from "../../messaging/archive";
import { presentMessage } from "../../messaging/present";
import {
  cancelScheduled,
  editScheduled,
  type MessagingContext,
  retryFailed,
  sendInConversation,
  sendToNumber,
} from "../../messaging/send";
import { roomFor } from "../../rooms/conversation-room";
import { limiterFor } from "../../rooms/workspace-limiter";
import { MAX_BODY_CHARS, MAX_EMAIL_BODY_CHARS, MAX_MEDIA, MAX_SUBJECT_CHARS } from "../../shared/limits";
import type { AppEnv } from "../context";
import { principalNow } from "../middleware/auth";
import {
  AddressInput,
  ErrorSchema,
  errorResponses,
  IdParam,
  jsonBody,
  jsonContent,
  listOf,
  MessageSchema,
  security,
} from "../schemas";
import { validationHook } from "../validation";

// The longest any channel takes (email); the send checks the conversation's channel (SMS: 1,600).
const Body = z
  .string()
  .max(MAX_EMAIL_BODY_CHARS, `must be at most ${MAX_EMAIL_BODY_CHARS.toLocaleString("en-US")} characters`)
  .openapi({ example: "Your order is ready for pickup." });
const MediaUrls = z
  .array(
    z
      .string()
      .url("must be a URL")
      .max(2048)
      .refine((u) => u.startsWith("https://"), "must be an https URL Twilio can fetch"),
  )
  .max(MAX_MEDIA, `at most ${MAX_MEDIA} media URLs`)
  .optional();
const AttachmentIds = z
  .array(z.string().min(1).max(64))
  .max(MAX_MEDIA, `at most ${MAX_MEDIA} attachments`)
  .optional()
  .openapi({ description: "Files uploaded with POST /api/attachments (MMS: ≤ 10, ≤ 5 MB in all)" });
const Subject = z
  .string()
  .trim()
  .min(1)
  .max(MAX_SUBJECT_CHARS)
  .optional()
  .openapi({ description: "Email only: the subject (a reply defaults to Re: and the thread's)" });
const SendAt = z.iso.datetime({ offset: true, message: "must be an ISO-8601 date-time" }).optional();

const TemplateFields = {
  templateId: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .openapi({ description: "Send this template, rendered for the contact, instead of a body" }),
  variables: z
    .record(z.string().max(64), z.string().max(MAX_BODY_CHARS))
    .optional()
    .openapi({ description: "Values for the template's placeholders (over the contact's own)" }),
};
const oneOfBodyOrTemplate = (v: { body?: string; templateId?: string }) =>
  (v.body === undefined) !== (v.templateId === undefined);
/** A body may be empty only when files go with it (a picture on its own). */
const bodyNotBlank = (v: { body?: string; attachmentIds?: string[] }) =>
  v.body === undefined || v.body.trim().length > 0 || (v.attachmentIds?.length ?? 0) > 0;
const notBlank = { message: "must not be empty", path: ["body"] };
const bodyOrTemplate = { message: "give either body or templateId", path: ["body"] };
const SendInConversation = z
  .object({
    body: Body.optional(),
    ...TemplateFields,
    mediaUrls: MediaUrls,
    attachmentIds: AttachmentIds,
    subject: Subject,
    sendAt: SendAt,
  })
  .strict()
  .refine(oneOfBodyOrTemplate, bodyOrTemplate)
  .refine(bodyNotBlank, notBlank);
const SendDirect = z
  .object({
    to: AddressInput,
    from: AddressInput.optional(),
    body: Body.optional(),
    ...TemplateFields,
    mediaUrls: MediaUrls,
    attachmentIds: AttachmentIds,
    subject: Subject,
    sendAt: SendAt,
  })
  .strict()
  .refine(oneOfBodyOrTemplate, bodyOrTemplate)
  .refine(bodyNotBlank, notBlank);

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
    body: jsonBody(
      z
        .object({
          body: Body.refine((b) => b.trim().length > 0, "must not be empty").optional(),
          sendAt: z.iso.datetime({ offset: true }).optional(),
        })
        .strict(),
    ),
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

/**
 * An integration's send is an audit event (who sent which SMS through the API). Written after the 202,
 * outside the request's counted budget: the message row itself already names its sender.
 */
function auditKeySend(c: Context<AppEnv>, message: { id: string; to: string; conversationId: string }) {
  const principal = c.get("principal");
  if (principal.kind !== "api_key") return;
  c.executionCtx.waitUntil(
    audit(createDb(c.env.DB), principal, "message.sent_by_api_key", "message", message.id, {
      to: message.to,
      conversationId: message.conversationId,
    }).catch(() => undefined),
  );
}

/**
 * The send limits (per user or API key per minute, and the workspace's rate and burst): 429 with
 * Retry-After and RateLimit-* when over, RateLimit-* on every admitted send. A limiter that cannot be
 * reached does not stop sending.
 */
async function admitSend(c: Context<AppEnv>): Promise<void> {
  const principal = c.get("principal");
  const sender = principal.userId ? `user:${principal.userId}` : `key:${principal.credentialId}`;
  let admission: Awaited<ReturnType<ReturnType<typeof limiterFor>["admit"]>>;
  try {
    admission = await limiterFor(c.env, principal.workspaceId).admit(sender);
  } catch {
    return;
  }
  const headers = {
    "RateLimit-Limit": String(admission.limit),
    "RateLimit-Remaining": String(admission.remaining),
    "RateLimit-Reset": String(admission.resetSeconds),
  };
  if (!admission.allowed) {
    throw new ApiError(
      429,
      "rate_limited",
      admission.which === "user"
        ? `You can send ${admission.limit} messages a minute; try again in ${admission.retryAfterSeconds} s.`
        : `This workspace is sending faster than its limit; try again in ${admission.retryAfterSeconds} s.`,
      { retryAfterSeconds: admission.retryAfterSeconds, limit: admission.limit, scope: admission.which },
      { ...headers, "Retry-After": String(admission.retryAfterSeconds) },
    );
  }
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
}

/** The send steps' plain-data context for this request. */
function messaging(c: Context<AppEnv>): MessagingContext {
  return { env: c.env, db: c.get("db"), principal: c.get("principal"), count: c.get("d1Count") };
}

export const messageRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(sendInConversationRoute, async (c) => {
    const { id } = c.req.valid("param");
    const key = c.req.valid("header")["idempotency-key"];
    await admitSend(c);
    const message = await sendInConversation(messaging(c), id, c.req.valid("json"), key);
    auditKeySend(c, message);
    return c.json(message, 202);
  })
  .openapi(sendDirectRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    await admitSend(c);
    const message = await sendToNumber(messaging(c), c.req.valid("json"), key);
    auditKeySend(c, message);
    return c.json(message, 202);
  })
  .openapi(threadRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { after, before, limit } = c.req.valid("query");
    const db = c.get("db");
    // One query in the common case, the credential check folded in; only an empty page needs to tell
    // "no messages" from "not signed in" (401/403) or "not yours" (404).
    const found = await listThread(db.$client, c.get("credential"), Date.now(), id, {
      after,
      before,
      limit: limit + 1,
    });
    let workspaceId = found[0]?.workspaceId;
    if (!workspaceId) {
      const principal = await principalNow(c);
      if (!(await getConversation(db, principal.workspaceId, id, principal.userId))) throw notFound("Conversation");
      workspaceId = principal.workspaceId;
    }
    // Messages archived to R2 are read back when the page reaches them (no D1 round trip otherwise).
    const rows = await withArchived(c.env, workspaceId, id, found, {
      before,
      after,
      want: limit + 1,
      archivedThrough: found.length > 0 ? (found[0]?.archivedThrough ?? null) : undefined,
    });
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
    return c.json(await editScheduled(messaging(c), c.req.valid("param").id, c.req.valid("json")), 200);
  })
  .openapi(cancelRoute, async (c) => {
    return c.json(await cancelScheduled(messaging(c), c.req.valid("param").id), 200);
  })
  .openapi(retryRoute, async (c) => {
    return c.json(await retryFailed(messaging(c), c.req.valid("param").id), 202);
  })
  .openapi(readRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const { seq } = c.req.valid("json");
    const db = c.get("db");
    const conversation = await getConversation(db, principal.workspaceId, id, principal.userId);
    if (!conversation) throw notFound("Conversation");
    if (!principal.userId)
      throw unprocessable("needs_user", "Read markers belong to users; sign in to mark conversations read.");
    const upTo = await roomFor(c.env, id).markRead(principal.workspaceId, principal.userId, seq);
    return c.json({ conversationId: id, seq: upTo }, 200);
  });
