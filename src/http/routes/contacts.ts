/** Contacts: the people a workspace texts. Phone numbers are E.164 and unique per workspace. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { audit, auditStatement } from "../../db/queries/audit";
import {
  contactHistory,
  conversationIdsOfContact,
  getContact,
  listContacts,
  mergeStatements,
  suppressedSql,
  syncMergedStatement,
} from "../../db/queries/contacts";
import { contacts } from "../../db/schema";
import { isUniqueViolation } from "../../db/unique";
import { conflict, notFound, unprocessable } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { iso } from "../../domain/time";
import { isTimeZone } from "../../domain/zones";
import { deleteFiles, filesOfConversations } from "../../messaging/archive";
import { presentContact } from "../../messaging/present";
import type { AppEnv } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import {
  ContactSchema,
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

const Name = z.string().trim().min(1).max(200);
const EmailField = z.string().trim().toLowerCase().email().max(254);
const Fields = z
  .record(
    z
      .string()
      .trim()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, "keys are letters, digits and _ (up to 40), starting with a letter"),
    z.string().max(500),
  )
  .refine((f) => Object.keys(f).length <= 50, "at most 50 fields")
  .openapi({ description: "Custom fields for templates ({{contact.fields.<key>}}); replaces the whole set" });
const Timezone = z
  .string()
  .max(64)
  .refine(isTimeZone, "an IANA time zone like America/Chicago")
  .openapi({ example: "America/Chicago", description: "The contact's zone (quiet hours use it first)" });

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["contacts"],
  summary: "List or search contacts (name, phone or email), newest first",
  security,
  request: {
    query: z.object({
      q: z.string().trim().max(100).optional(),
      label: z
        .string()
        .trim()
        .max(64)
        .optional()
        .openapi({ description: "A label (id or name) on any of their conversations" }),
      field: z
        .string()
        .max(200)
        .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}:.*$/, "key:value")
        .optional()
        .openapi({ description: "A custom field, as key:value (exact)" }),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z.string().max(200).optional(),
    }),
  },
  responses: { 200: jsonContent(listOf(ContactSchema, "ContactList"), "Contacts"), ...errorResponses },
});

const createContactRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["contacts"],
  summary: "Create a contact",
  security,
  request: {
    body: jsonBody(
      z
        .object({
          name: Name.optional(),
          phone: PhoneInput,
          email: EmailField.optional(),
          fields: Fields.optional(),
          timezone: Timezone.nullable().optional(),
        })
        .strict(),
    ),
  },
  responses: {
    201: jsonContent(ContactSchema, "Created"),
    409: jsonContent(ErrorSchema, "A contact with this phone exists"),
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["contacts"],
  summary: "Get a contact",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(ContactSchema, "The contact"), ...errorResponses },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["contacts"],
  summary: "Change a contact's name, phone, email, custom fields or time zone",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          name: Name.nullable().optional(),
          phone: PhoneInput.optional(),
          email: EmailField.nullable().optional(),
          fields: Fields.optional(),
          timezone: Timezone.nullable().optional(),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(ContactSchema, "Updated"),
    409: jsonContent(ErrorSchema, "Another contact has this phone"),
    ...errorResponses,
  },
});

const historyRoute = createRoute({
  method: "get",
  path: "/{id}/history",
  tags: ["contacts"],
  summary: "A contact's history: conversations, message counts, first and last message, consent changes",
  security,
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z
        .object({
          contactId: z.string(),
          conversations: z.array(
            z.object({
              id: z.string(),
              from: z.string(),
              channel: z.string(),
              status: z.string(),
              lastMessageAt: z.string().nullable(),
              /** When the customer last wrote in it: a reply goes where they last wrote. */
              lastInboundAt: z.string().nullable(),
            }),
          ),
          firstMessageAt: z.string().nullable(),
          lastMessageAt: z.string().nullable(),
          inbound: z.number().int(),
          outbound: z.number().int(),
          consent: z.array(
            z.object({
              optedOut: z.boolean(),
              at: z.string(),
              source: z.string().nullable(),
              keyword: z.string().nullable(),
              /** The number the change was about (a merged contact has several). */
              phone: z.string(),
            }),
          ),
          /** The contact's number first, then those of contacts merged into it, each with its consent. */
          numbers: z.array(z.object({ phone: z.string(), optedOut: z.boolean() })),
        })
        .openapi("ContactHistory"),
      "History",
    ),
    ...errorResponses,
  },
});

const mergeRoute = createRoute({
  method: "post",
  path: "/{id}/merge",
  tags: ["contacts"],
  summary: "Merge another contact into this one (its threads, labels, fields and number's consent come along)",
  description:
    "The other contact's conversations show under this one, its custom fields and labels are added (this contact's values win), and its blanks are filled. Its number stays its own: texts to and from it stay in its threads, and its consent (opted out or not) is unchanged. Audited as contact.merged.",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({ contactId: z.string().min(1).max(64).openapi({ description: "The contact to merge in" }) }).strict(),
    ),
  },
  responses: { 200: jsonContent(ContactSchema, "The contact, merged"), ...errorResponses },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["contacts"],
  summary: "Delete a contact and its conversations",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export const contactRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const { workspaceId } = c.get("principal");
    const { q, label, field, limit, cursor } = c.req.valid("query");
    const [key, ...rest] = field?.split(":") ?? [];
    const rows = await listContacts(c.get("db"), workspaceId, {
      q,
      label,
      field: key ? { key, value: rest.join(":") } : undefined,
      limit,
      before: decodeCursor(cursor),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null;
    return c.json({ items: page.map(presentContact), nextCursor }, 200);
  })
  .openapi(createContactRoute, async (c) => {
    const principal = c.get("principal");
    const { workspaceId } = principal;
    const input = c.req.valid("json");
    const db = c.get("db");
    const [row] = await db
      .insert(contacts)
      .values({
        id: newId("ct"),
        workspaceId,
        name: input.name ?? null,
        phone: input.phone,
        email: input.email ?? null,
        fields: input.fields ?? {},
        timezone: input.timezone ?? null,
        // Consent belongs to the number: a new contact for a number that opted out starts opted out.
        optedOut: suppressedSql(workspaceId, input.phone),
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw conflict(`A contact with phone ${input.phone} already exists.`, { field: "phone" });
    await audit(db, principal, "contact.created", "contact", row.id);
    return c.json(presentContact(row), 201);
  })
  .openapi(getRoute, async (c) => {
    const row = await getContact(c.get("db"), c.get("principal").workspaceId, c.req.valid("param").id);
    if (!row) throw notFound("Contact");
    return c.json(presentContact(row), 200);
  })
  .openapi(patchRoute, async (c) => {
    const principal = c.get("principal");
    const { workspaceId } = principal;
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = c.get("db");
    const set = {
      ...input,
      ...(input.phone ? { optedOut: suppressedSql(workspaceId, input.phone) } : {}),
      updatedAt: Date.now(),
    };
    // A merged contact's id edits the contact it was merged into.
    const target = await getContact(db, workspaceId, id);
    if (!target) throw notFound("Contact");
    try {
      const [row] = await db
        .update(contacts)
        .set(set)
        .where(and(eq(contacts.id, target.id), eq(contacts.workspaceId, workspaceId)))
        .returning();
      if (!row) throw notFound("Contact");
      if (input.name !== undefined || input.email !== undefined)
        await syncMergedStatement(c.get("d1"), workspaceId, row.id).run();
      await audit(db, principal, "contact.updated", "contact", row.id, { fields: Object.keys(input) });
      return c.json(presentContact(row), 200);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict("Another contact already has this phone.", { field: "phone" });
      throw err;
    }
  })
  .openapi(historyRoute, async (c) => {
    const { workspaceId } = c.get("principal");
    const { id } = c.req.valid("param");
    const contact = await getContact(c.get("db"), workspaceId, id);
    if (!contact) throw notFound("Contact");
    const h = await contactHistory(c.get("d1"), workspaceId, contact.id);
    return c.json(
      {
        contactId: contact.id,
        conversations: h.threads.map((t) => ({
          ...t,
          lastMessageAt: iso(t.lastMessageAt),
          lastInboundAt: iso(t.lastInboundAt),
        })),
        firstMessageAt: iso(h.totals.firstAt),
        lastMessageAt: iso(h.totals.lastAt),
        inbound: Number(h.totals.inbound ?? 0),
        outbound: Number(h.totals.outbound ?? 0),
        consent: h.consent.map((e) => {
          const data = e.data ? (JSON.parse(e.data) as { source?: string; keyword?: string }) : {};
          return {
            optedOut: e.action === "contact.opted_out",
            at: iso(e.at),
            source: data.source ?? null,
            keyword: data.keyword ?? null,
            phone: e.phone,
          };
        }),
        numbers: h.numbers.map((n) => ({ phone: n.phone, optedOut: Boolean(n.optedOut) })),
      },
      200,
    );
  })
  .openapi(mergeRoute, async (c) => {
    const principal = c.get("principal");
    const { workspaceId } = principal;
    const db = c.get("db");
    const [kept, merged] = await Promise.all([
      getContact(db, workspaceId, c.req.valid("param").id),
      getContact(db, workspaceId, c.req.valid("json").contactId),
    ]);
    if (!kept || !merged) throw notFound("Contact");
    if (kept.id === merged.id) {
      throw unprocessable("same_contact", "These are already the same contact.", { contactId: merged.id });
    }
    const d1 = c.get("d1");
    const now = Date.now();
    await d1.batch([
      ...mergeStatements(d1, workspaceId, kept.id, merged.id, now),
      auditStatement(d1, principal, "contact.merged", "contact", kept.id, {
        mergedId: merged.id,
        mergedPhone: merged.phone,
        keptPhone: kept.phone,
        mergedName: merged.name,
      }),
    ]);
    const row = await getContact(db, workspaceId, kept.id);
    if (!row) throw notFound("Contact");
    return c.json(presentContact(row), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const principal = c.get("principal");
    const db = c.get("db");
    const target = await getContact(db, principal.workspaceId, c.req.valid("param").id);
    if (!target) throw notFound("Contact");
    // Their files (archives, attachments) are found before the rows go and deleted after.
    const conversationIds = await conversationIdsOfContact(db, principal.workspaceId, target.id);
    const files = await filesOfConversations(c.env, principal.workspaceId, conversationIds);
    // The contact and any merged into it (their threads go with them).
    const [gone] = await db
      .delete(contacts)
      .where(
        and(
          eq(contacts.workspaceId, principal.workspaceId),
          sql`(${contacts.id} = ${target.id} or ${contacts.mergedInto} = ${target.id})`,
        ),
      )
      .returning({ id: contacts.id });
    if (!gone) throw notFound("Contact");
    await deleteFiles(c.env, files);
    // The suppression list keeps the number's consent: deleting the contact does not lift an opt-out.
    await audit(db, principal, "contact.deleted", "contact", target.id);
    return c.body(null, 204);
  });
