/** Search: words in message bodies and contacts' names, phones and emails, with marked snippets. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { credentialSql } from "../../db/queries/auth";
import { ftsQuery, MARK_END, MARK_START, searchContacts, searchMessages } from "../../db/queries/search";
import { badRequest } from "../../domain/errors";
import { presentConversationSummary } from "../../messaging/present";
import { ContactJsonSchema, ConversationStateJsonSchema } from "../../shared/frames";
import { CONVERSATION_STATUSES } from "../../shared/status";
import type { AppEnv } from "../context";
import { principalNow } from "../middleware/auth";
import { errorResponses, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const SnippetSchema = z
  .object({
    text: z.string(),
    highlights: z
      .array(z.tuple([z.number().int(), z.number().int()]))
      .openapi({ description: "[start, end) character ranges of `text` that matched; render them marked" }),
  })
  .openapi("Snippet");

const SearchHitSchema = z
  .object({
    conversation: z
      .object({
        ...ConversationStateJsonSchema.shape,
        contact: ContactJsonSchema,
        from: z.string(),
        lastMessageAt: z.string().nullable(),
      })
      .openapi("SearchConversation"),
    message: z
      .object({ id: z.string(), seq: z.number().int(), snippet: SnippetSchema })
      .nullable()
      .openapi({ description: "The matching message; null when the contact matched (first page only)" }),
  })
  .openapi("SearchHit");

const searchRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["search"],
  summary: "Search message bodies (full text, word prefixes) and contacts; newest first",
  security,
  request: {
    query: z.object({
      q: z.string().trim().min(1).max(200),
      status: z.enum(CONVERSATION_STATUSES).optional(),
      assignee: z.string().max(64).optional().openapi({ description: "`me`, `none` or a user id" }),
      label: z.string().max(64).optional(),
      direction: z.enum(["inbound", "outbound"]).optional(),
      from: z.string().datetime({ offset: true }).optional(),
      to: z.string().datetime({ offset: true }).optional(),
      limit: z.coerce.number().int().min(1).max(50).default(20),
      cursor: z.string().max(200).optional(),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ items: z.array(SearchHitSchema), nextCursor: z.string().nullable() }).openapi("SearchResults"),
      "Hits",
    ),
    ...errorResponses,
  },
});

/** A snippet with marks → its plain text and the ranges that were marked. */
export function unmark(marked: string): { text: string; highlights: [number, number][] } {
  let text = "";
  const highlights: [number, number][] = [];
  let start = -1;
  for (const ch of marked) {
    if (ch === MARK_START) start = text.length;
    else if (ch === MARK_END) {
      if (start >= 0) highlights.push([start, text.length]);
      start = -1;
    } else text += ch;
  }
  return { text, highlights };
}

export const searchRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(searchRoute, async (c) => {
  const q = c.req.valid("query");
  const db = c.get("db");
  const match = ftsQuery(q.q);
  const digits = q.q.replace(/\D/g, "");
  const filters = {
    status: q.status,
    assignee: q.assignee,
    label: q.label,
    direction: q.direction,
    from: q.from ? Date.parse(q.from) : undefined,
    to: q.to ? Date.parse(q.to) : undefined,
  };
  const before = q.cursor === undefined ? null : Number(q.cursor);
  if (before !== null && !Number.isSafeInteger(before)) throw badRequest("The cursor is not valid.");
  // Both searches at once, the credential check folded in (as the list does); only an empty
  // result asks who is calling, to answer 401/403 instead of "nothing found".
  const credential = c.get("credential");
  const who = credentialSql(credential, Date.now(), "messages:read");
  const userSql = credential.kind === "session" ? who.userId : null;
  const messagesQuery = searchMessages(db, who.workspaceId, userSql, match || '""', filters, {
    limit: q.limit,
    before,
  });
  // Contacts on the first page only (they are few; messages page on).
  const contactsQuery = searchContacts(
    db,
    who.workspaceId,
    userSql,
    match,
    digits,
    filters,
    before || q.direction ? 0 : 5,
  );
  // Side by side, not one batch: a batch's rows come back as objects, where the joined tables'
  // same-named columns (id, created_at) would collide.
  const [found, people] = await Promise.all([messagesQuery, contactsQuery]);
  const hits = match ? found : [];
  if (hits.length === 0 && people.length === 0) await principalNow(c);
  const page = hits.slice(0, q.limit);
  const items: z.infer<typeof SearchHitSchema>[] = [
    ...people.map((p) => ({ conversation: presentConversationSummary(p), message: null })),
    ...page.map((h) => ({
      conversation: presentConversationSummary(h),
      message: { id: h.id, seq: h.seq, snippet: unmark(h.snippet) },
    })),
  ];
  const last = page.at(-1);
  return c.json({ items, nextCursor: hits.length > q.limit && last ? String(last.rowid) : null }, 200);
});
