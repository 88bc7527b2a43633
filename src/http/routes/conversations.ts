/** Conversations: the inbox list (most recent first, unread counts, last message) and find-or-create. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { channelFor } from "../../channels/registry";
import { audit } from "../../db/queries/audit";
import { findOrCreateContact, getContact } from "../../db/queries/contacts";
import {
  type ConversationChange,
  findOrCreateConversation,
  findWorkspaceNumber,
  getConversationView,
  listConversations,
} from "../../db/queries/conversations";
import { findLabels } from "../../db/queries/labels";
import { findMembership } from "../../db/queries/team";
import { conversations } from "../../db/schema";
import { isUniqueViolation } from "../../db/unique";
import { conflict, notFound, unprocessable, validationFailed } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { emitEvent } from "../../messaging/events";
import { actorOf, notify } from "../../messaging/notify";
import { presentConversation } from "../../messaging/present";
import { roomFor } from "../../rooms/conversation-room";
import { publishConversation } from "../../rooms/inbox-stream";
import { CONVERSATION_STATUSES, type ConversationStatus } from "../../shared/status";
import type { AppEnv } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { principalNow } from "../middleware/auth";
import {
  AddressInput,
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
      status: z.enum(CONVERSATION_STATUSES).optional(),
      assignee: z
        .string()
        .trim()
        .min(1)
        .max(64)
        .optional()
        .openapi({ description: "`me`, `none` (unassigned) or a user id" }),
      label: z.string().trim().min(1).max(64).optional().openapi({ description: "A label's id or name" }),
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
          from: AddressInput.optional().openapi({
            description:
              "The inbox to talk from (its number, whatsapp:+E164, or email address); default the first SMS number",
          }),
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
  summary:
    "Assign, change status (open, pending, snoozed until a time, resolved), set labels, or move to another sender number",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          status: z.enum(CONVERSATION_STATUSES).optional(),
          snoozedUntil: z.string().datetime({ offset: true }).optional().openapi({
            description: "With status `snoozed`: when it wakes (back to open); a customer's text wakes it sooner",
          }),
          assignee: z
            .string()
            .min(1)
            .max(64)
            .nullable()
            .optional()
            .openapi({ description: "A member's user id, `me`, or null to unassign" }),
          labels: z
            .array(z.string().min(1).max(64))
            .max(20)
            .optional()
            .openapi({ description: "The conversation's labels (ids or names), replacing the current set" }),
          from: AddressInput.optional().openapi({
            description: "Send from this inbox of the workspace from now on (one of the same channel)",
          }),
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
    const { status, assignee, label, q, limit, cursor } = c.req.valid("query");
    // One query, the credential check folded in (see listConversations); only an empty page asks who is
    // calling, to answer 401/403 instead of an empty list.
    const opts = { status, assignee, label, q, limit, before: decodeCursor(cursor) };
    const rows = await listConversations(c.get("db").$client, c.get("credential"), Date.now(), opts);
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
    const channel = channelFor(sender.channel);
    const customerAddress = channel.customerAddress(contact);
    if (!customerAddress) {
      throw unprocessable("no_address", `This contact has no ${channel.label} address; add it to the contact first.`, {
        field: "from",
      });
    }
    const { conversation, created } = await findOrCreateConversation(
      db,
      workspaceId,
      contact.id,
      sender.phoneNumber,
      newId("cv"),
      { channel: channel.kind, customerAddress: channel.kind === "sms" ? null : customerAddress },
    );
    const view = await getConversationView(db, workspaceId, userId, conversation.id);
    if (!view) throw notFound("Conversation");
    if (created) {
      c.executionCtx.waitUntil(publishConversation(c.env, workspaceId, conversation.id));
      c.executionCtx.waitUntil(
        emitEvent(c.env, workspaceId, "conversation.created", {
          conversationId: conversation.id,
          contactId: contact.id,
        }),
      );
    }
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
    const before = await getConversationView(db, workspaceId, userId, id);
    if (!before) throw notFound("Conversation");
    const change = await resolveChange(c, input);
    if (input.from !== undefined) {
      const sender = await findWorkspaceNumber(db, workspaceId, input.from);
      if (!sender) {
        throw unprocessable("unknown_sender", `${input.from} is not one of this workspace's numbers.`, {
          field: "from",
        });
      }
      if (sender.channel !== (before.conversation.channel ?? "sms")) {
        throw unprocessable(
          "channel_mismatch",
          `${input.from} is a ${sender.channel} inbox; a conversation moves only to an inbox of its own channel (${before.conversation.channel}).`,
          { field: "from" },
        );
      }
      try {
        await db
          .update(conversations)
          .set({ fromNumber: input.from })
          .where(and(eq(conversations.id, id), eq(conversations.workspaceId, workspaceId)));
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw conflict(`This contact already has a conversation from ${input.from}; open that one instead.`, {
            field: "from",
          });
        }
        throw err;
      }
      await audit(db, principal, "conversation.sender_changed", "conversation", id, {
        before: before.conversation.fromNumber,
        after: input.from,
      });
    }
    if (change) {
      // The change is an event in the conversation's order (a `conversation` frame in its room).
      const changed = await roomFor(c.env, id).changeState(workspaceId, change);
      if (!changed) throw notFound("Conversation");
      const newAssignee = change.assigneeId;
      if (newAssignee && newAssignee !== before.conversation.assignedUserId && newAssignee !== userId) {
        await notify(c.env, db, {
          workspaceId,
          userId: newAssignee,
          type: "assigned",
          conversationId: id,
          actor: await actorOf(db, principal),
        });
      }
    }
    const view = await getConversationView(db, workspaceId, userId, id);
    if (!view) throw notFound("Conversation");
    if (!change) {
      c.executionCtx.waitUntil(publishConversation(c.env, workspaceId, id));
    }
    return c.json(presentConversation(view), 200);
  });

/** The PATCH body as a state change: `me` and label names resolved, the assignee checked to be a member. */
async function resolveChange(
  c: Context<AppEnv>,
  input: { status?: ConversationStatus; snoozedUntil?: string; assignee?: string | null; labels?: string[] },
): Promise<ConversationChange | null> {
  const { workspaceId, userId } = c.get("principal");
  const db = c.get("db");
  const change: ConversationChange = {};
  if (input.snoozedUntil !== undefined && input.status !== "snoozed") {
    throw validationFailed([{ path: "snoozedUntil", message: "only with status snoozed" }]);
  }
  if (input.status === "snoozed") {
    const until = input.snoozedUntil ? Date.parse(input.snoozedUntil) : Number.NaN;
    if (!Number.isFinite(until) || until <= Date.now()) {
      throw validationFailed([
        { path: "snoozedUntil", message: "a snoozed conversation needs a wake time in the future" },
      ]);
    }
    change.snoozedUntil = until;
  }
  if (input.status !== undefined) change.status = input.status;
  if (input.assignee !== undefined) {
    const assignee = input.assignee === "me" ? userId : input.assignee;
    if (input.assignee === "me" && !userId) {
      throw validationFailed([{ path: "assignee", message: "an API key is not a member; name a user id" }]);
    }
    if (assignee !== null && !(await findMembership(db, workspaceId, assignee ?? ""))) {
      throw unprocessable("unknown_member", "The assignee is not a member of this workspace.", { field: "assignee" });
    }
    change.assigneeId = assignee ?? null;
  }
  if (input.labels !== undefined) {
    const wanted = [...new Set(input.labels)];
    const found = await findLabels(db, workspaceId, wanted);
    const missing = wanted.filter((w) => !found.some((l) => l.id === w || l.name === w));
    if (missing.length > 0) {
      throw unprocessable("unknown_label", `No label ${missing.map((m) => `"${m}"`).join(", ")} in this workspace.`, {
        field: "labels",
      });
    }
    change.labelIds = found.map((l) => l.id);
  }
  return Object.keys(change).length > 0 ? change : null;
}
