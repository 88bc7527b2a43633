/** Conversations: the inbox list (most recent first, unread counts, last message) and find-or-create. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { credentialSql } from "../../db/queries/auth";
import { findOrCreateContact, getContact } from "../../db/queries/contacts";
import {
  findOrCreateConversation,
  findWorkspaceNumber,
  getConversationView,
  listConversations,
} from "../../db/queries/conversations";
import { conversations } from "../../db/schema";
import { isUniqueViolation } from "../../db/unique";
import { conflict, notFound, unprocessable, validationFailed } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { presentConversation } from "../../messaging/present";
import { inboxFor } from "../../rooms/inbox-stream";
import type { AppEnv } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { principalNow } from "../middleware/auth";
import {
  ConversationSchema,
  ErrorSchema,
  errorResponses,
  IdParam,
  jsonBody,
  jsonContent,
  listOf,
  PhoneInput,
  security,
} from "../schemas";
import { validationHook } from "../validation";

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["conversations"],
  summary: "The inbox: conversations by most recent activity, with unread counts and last message",
  security,
  request: {
    query: z.object({
      status: z.enum(["open", "closed"]).optional(),
      q: z.string().trim().max(100).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(30),
      cursor: z.string().max(200).optional(),
    }),
  },
  responses: { 200: jsonContent(listOf(ConversationSchema, "ConversationList"), "Conversations"), ...errorResponses },
});

const createConversationRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["conversations"],
  summary: "Find or create the conversation with a contact (by id or phone) from a sender number",
  security,
  request: {
    body: jsonBody(
      z
        .object({
          contactId: z.string().min(1).max(64).optional(),
          phone: PhoneInput.optional(),
          from: PhoneInput.optional(),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(ConversationSchema, "Found"),
    201: jsonContent(ConversationSchema, "Created"),
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["conversations"],
  summary: "Get a conversation",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(ConversationSchema, "The conversation"), ...errorResponses },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["conversations"],
  summary: "Open or close a conversation, or move it to another of the workspace's sender numbers",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          status: z.enum(["open", "closed"]).optional(),
          from: PhoneInput.optional().openapi({ description: "Send from this number of the workspace from now on" }),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(ConversationSchema, "Updated"),
    409: jsonContent(ErrorSchema, "The contact already has a conversation from that number"),
    ...errorResponses,
  },
});

export const conversationRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const { status, q, limit, cursor } = c.req.valid("query");
    const credential = c.get("credential");
    // One query, the credential check folded in (see credentialSql); only an empty page asks who is
    // calling, to answer 401/403 instead of an empty list.
    const who = credentialSql(credential, Date.now(), "messages:read");
    const opts = { status, q, limit, before: decodeCursor(cursor) };
    const rows = await listConversations(
      c.get("db"),
      who.workspaceId,
      credential.kind === "session" ? who.userId : null,
      opts,
    );
    if (rows.length === 0) await principalNow(c);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? encodeCursor(last.conversation.lastMessageAt ?? 0, last.conversation.id) : null;
    return c.json({ items: page.map(presentConversation), nextCursor }, 200);
  })
  .openapi(createConversationRoute, async (c) => {
    const { workspaceId, userId } = c.get("principal");
    const input = c.req.valid("json");
    const db = c.get("db");
    if ((input.contactId === undefined) === (input.phone === undefined)) {
      throw validationFailed([{ path: "contactId", message: "pass exactly one of contactId or phone" }]);
    }
    const contact = input.contactId
      ? await getContact(db, workspaceId, input.contactId)
      : await findOrCreateContact(db, workspaceId, input.phone ?? "", newId("ct"));
    if (!contact) throw notFound("Contact");
    const sender = await findWorkspaceNumber(db, workspaceId, input.from);
    if (!sender) {
      throw input.from
        ? unprocessable("unknown_sender", `${input.from} is not one of this workspace's numbers.`, { field: "from" })
        : unprocessable("no_sender", "Register a sender number (POST /api/numbers) before starting conversations.");
    }
    const { conversation, created } = await findOrCreateConversation(
      db,
      workspaceId,
      contact.id,
      sender.phoneNumber,
      newId("cv"),
    );
    const view = await getConversationView(db, workspaceId, userId, conversation.id);
    if (!view) throw notFound("Conversation");
    if (created)
      c.executionCtx.waitUntil(
        inboxFor(c.env, workspaceId)
          .publish(conversation.id)
          .catch(() => undefined),
      );
    return c.json(presentConversation(view), created ? 201 : 200);
  })
  .openapi(getRoute, async (c) => {
    const { workspaceId, userId } = c.get("principal");
    const view = await getConversationView(c.get("db"), workspaceId, userId, c.req.valid("param").id);
    if (!view) throw notFound("Conversation");
    return c.json(presentConversation(view), 200);
  })
  .openapi(patchRoute, async (c) => {
    const principal = c.get("principal");
    const { workspaceId, userId } = principal;
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = c.get("db");
    if (input.from !== undefined) {
      const sender = await findWorkspaceNumber(db, workspaceId, input.from);
      if (!sender) {
        throw unprocessable("unknown_sender", `${input.from} is not one of this workspace's numbers.`, {
          field: "from",
        });
      }
    }
    const set = {
      ...(input.status ? { status: input.status } : {}),
      ...(input.from ? { fromNumber: input.from } : {}),
    };
    const where = and(eq(conversations.id, id), eq(conversations.workspaceId, workspaceId));
    let row: { id: string } | undefined;
    try {
      [row] =
        Object.keys(set).length === 0
          ? await db.select({ id: conversations.id }).from(conversations).where(where)
          : await db.update(conversations).set(set).where(where).returning({ id: conversations.id });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw conflict(`This contact already has a conversation from ${input.from}; open that one instead.`, {
          field: "from",
        });
      }
      throw err;
    }
    if (!row) throw notFound("Conversation");
    if (input.from) await audit(db, principal, "conversation.sender_changed", "conversation", id, { from: input.from });
    const view = await getConversationView(db, workspaceId, userId, id);
    if (!view) throw notFound("Conversation");
    c.executionCtx.waitUntil(
      inboxFor(c.env, workspaceId)
        .publish(id)
        .catch(() => undefined),
    );
    return c.json(presentConversation(view), 200);
  });
