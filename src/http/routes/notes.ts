/** Internal notes in a conversation: the team's, in the conversation's order, with @mentions. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { getConversation, getConversationWithContact, readMarkers } from "../../db/queries/conversations";
import { listNotes } from "../../db/queries/notes";
import { listMembers } from "../../db/queries/team";
import { notFound } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { findMentions } from "../../domain/mentions";
import { inQuietHours, quietHoursDecision, recipientZone } from "../../domain/quiet-hours";
import { actorOf, notify } from "../../messaging/notify";
import { presentNote } from "../../messaging/present";
import { roomFor } from "../../rooms/conversation-room";
import { NoteJsonSchema } from "../../shared/frames";
import { parseQuietHours } from "../../shared/policies";
import type { AppEnv } from "../context";
import { errorResponses, IdParam, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

export const NOTE_MAX_CHARS = 4000;
const NoteSchema = z.object(NoteJsonSchema.shape).openapi("Note");

const createNoteRoute = createRoute({
  method: "post",
  path: "/{id}/notes",
  tags: ["notes"],
  summary: "Add an internal note (never sent to the customer); @name or @email mentions notify members",
  security,
  request: {
    params: IdParam,
    body: jsonBody(z.object({ body: z.string().trim().min(1).max(NOTE_MAX_CHARS) }).strict()),
  },
  responses: { 201: jsonContent(NoteSchema, "The note, at its seq"), ...errorResponses },
});

const readsRoute = createRoute({
  method: "get",
  path: "/{id}/reads",
  tags: ["conversations"],
  summary: 'How far each member has read (for "Seen by"); live changes arrive as `read` frames',
  security,
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z.object({ items: z.array(z.object({ userId: z.string(), name: z.string(), seq: z.number().int() })) }),
      "Read markers",
    ),
    ...errorResponses,
  },
});

const sendPolicyRoute = createRoute({
  method: "get",
  path: "/{id}/send-policy",
  tags: ["conversations"],
  summary: "What a send now would meet: quiet hours by the recipient's local time (for the composer's warning)",
  security,
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z.object({
        quietHours: z.object({
          active: z.boolean(),
          action: z.enum(["send", "defer", "refuse"]),
          exempt: z.boolean(),
          until: z.string().nullable(),
          zone: z.string(),
          zoneSource: z.enum(["contact", "number", "workspace"]),
        }),
      }),
      "The policy now",
    ),
    ...errorResponses,
  },
});

const listNotesRoute = createRoute({
  method: "get",
  path: "/{id}/notes",
  tags: ["notes"],
  summary: "The conversation's internal notes, in order (seq)",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(z.object({ items: z.array(NoteSchema) }), "Notes"), ...errorResponses },
});

export const noteRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createNoteRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const { body } = c.req.valid("json");
    const db = c.get("db");
    const [conversation, members] = await Promise.all([
      getConversation(db, principal.workspaceId, id, principal.userId),
      listMembers(db, principal.workspaceId),
    ]);
    if (!conversation) throw notFound("Conversation");
    const mentions = findMentions(body, members);
    const note = await roomFor(c.env, id).addNote({
      id: newId("note"),
      workspaceId: principal.workspaceId,
      conversationId: id,
      userId: principal.userId,
      body,
      mentions,
    });
    if (!note) throw notFound("Conversation");
    if (mentions.length > 0) {
      const actor = await actorOf(db, principal);
      await notify(
        c.env,
        db,
        mentions.map((userId) => ({
          workspaceId: principal.workspaceId,
          userId,
          type: "mention" as const,
          conversationId: id,
          actor,
        })),
      );
    }
    return c.json(note, 201);
  })
  .openapi(listNotesRoute, async (c) => {
    const { workspaceId } = c.get("principal");
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const conversation = await getConversation(db, workspaceId, id, c.get("principal").userId);
    if (!conversation) throw notFound("Conversation");
    const rows = await listNotes(db, workspaceId, id);
    return c.json({ items: rows.map((r) => presentNote({ ...r.note, authorName: r.authorName })) }, 200);
  })
  .openapi(sendPolicyRoute, async (c) => {
    const { workspaceId } = c.get("principal");
    const { id } = c.req.valid("param");
    const thread = await getConversationWithContact(c.get("db"), workspaceId, id, undefined, c.get("principal").userId);
    if (!thread) throw notFound("Conversation");
    const now = Date.now();
    const quiet = parseQuietHours(thread.quietHours);
    const { zone, source } = recipientZone(thread.contact, thread.workspaceZone, now);
    const decision = quietHoursDecision({
      quiet,
      at: now,
      zone,
      lastInboundAt: thread.conversation.lastInboundAt,
      now,
    });
    return c.json(
      {
        quietHours: {
          active: quiet !== null && inQuietHours(now, zone, quiet),
          action: decision.action,
          exempt: decision.action === "send" && decision.exempt === true,
          until: decision.action === "send" ? null : new Date(decision.until).toISOString(),
          zone,
          zoneSource: source,
        },
      },
      200,
    );
  })
  .openapi(readsRoute, async (c) => {
    const { workspaceId } = c.get("principal");
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const conversation = await getConversation(db, workspaceId, id, c.get("principal").userId);
    if (!conversation) throw notFound("Conversation");
    return c.json({ items: await readMarkers(db, workspaceId, id) }, 200);
  });
