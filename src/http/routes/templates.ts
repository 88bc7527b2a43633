/** Templates (saved replies): owners and admins write them, everyone uses them. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { getContact } from "../../db/queries/contacts";
import { getTemplate, listTemplates, type TemplateRow } from "../../db/queries/templates";
import { templates } from "../../db/schema";
import { isUniqueViolation } from "../../db/unique";
import { conflict, notFound } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { analyzeSegments } from "../../domain/segments";
import { placeholders } from "../../domain/templates";
import { iso } from "../../domain/time";
import { renderForContact } from "../../messaging/templates";
import { MAX_BODY_CHARS } from "../../shared/limits";
import type { AppEnv } from "../context";
import { requireAdmin } from "../middleware/auth";
import { ErrorSchema, errorResponses, IdParam, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const TemplateSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    body: z.string(),
    shortcut: z.string().nullable(),
    contentSid: z
      .string()
      .nullable()
      .openapi({ description: "A WhatsApp template approved at Twilio (HX…); sendable outside the 24-hour window" }),
    variables: z.array(z.string()).openapi({ description: "The placeholders the body uses" }),
    createdAt: z.string(),
    updatedAt: z.string().nullable(),
  })
  .openapi("Template");

const Name = z.string().trim().min(1).max(80);
const TemplateBody = z.string().min(1).max(MAX_BODY_CHARS);
const Shortcut = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9_-]{0,29}$/, "lower-case letters, digits, - and _ (up to 30)")
  .openapi({ example: "thanks", description: "Typed after / in the composer" });
const ContentSid = z
  .string()
  .regex(/^HX[0-9a-fA-F]{32}$/, "a Twilio Content SID (HX and 32 hex digits)")
  .openapi({ description: "The approved WhatsApp template at Twilio; the body is its text, {{1}}… its variables" });

function present(row: TemplateRow) {
  return {
    id: row.id,
    name: row.name,
    body: row.body,
    shortcut: row.shortcut,
    contentSid: row.contentSid ?? null,
    variables: placeholders(row.body),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

function taken(err: unknown) {
  if (!isUniqueViolation(err)) return err;
  return String(err).includes("shortcut")
    ? conflict("Another template has this shortcut.", { field: "shortcut" })
    : conflict("Another template has this name.", { field: "name" });
}

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["templates"],
  summary: "The workspace's templates, by name",
  security,
  responses: { 200: jsonContent(z.object({ items: z.array(TemplateSchema) }), "Templates"), ...errorResponses },
});

const createTemplateRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["templates"],
  summary:
    "Create a template (owner/admin). Placeholders: {{contact.firstName}}, {{contact.name}}, {{contact.fields.<key>}}, {{agent.name}}, {{workspace.name}}, any name given in a send's variables; each may have a fallback: {{contact.firstName|there}}",
  security,
  request: {
    body: jsonBody(
      z
        .object({
          name: Name,
          body: TemplateBody,
          shortcut: Shortcut.nullable().optional(),
          contentSid: ContentSid.nullable().optional(),
        })
        .strict(),
    ),
  },
  responses: {
    201: jsonContent(TemplateSchema, "Created"),
    409: jsonContent(ErrorSchema, "Name or shortcut taken"),
    ...errorResponses,
  },
});

const patchTemplateRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["templates"],
  summary: "Change a template (owner/admin)",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          name: Name.optional(),
          body: TemplateBody.optional(),
          shortcut: Shortcut.nullable().optional(),
          contentSid: ContentSid.nullable().optional(),
        })
        .strict(),
    ),
  },
  responses: { 200: jsonContent(TemplateSchema, "Updated"), ...errorResponses },
});

const deleteTemplateRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["templates"],
  summary: "Delete a template (owner/admin)",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

const previewRoute = createRoute({
  method: "post",
  path: "/{id}/preview",
  tags: ["templates"],
  summary: "Render a template for a contact, as a send would (422 template_variable_missing names what is missing)",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          contactId: z.string().min(1).max(64),
          variables: z.record(z.string().max(64), z.string().max(MAX_BODY_CHARS)).optional(),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(
      z.object({ body: z.string(), segments: z.number().int(), encoding: z.enum(["GSM-7", "UCS-2"]) }),
      "Rendered",
    ),
    ...errorResponses,
  },
});

export const templateRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const rows = await listTemplates(c.get("db"), c.get("principal").workspaceId);
    return c.json({ items: rows.map(present) }, 200);
  })
  .openapi(createTemplateRoute, async (c) => {
    const principal = requireAdmin(c);
    const input = c.req.valid("json");
    const db = c.get("db");
    const now = Date.now();
    const row: TemplateRow = {
      id: newId("tpl"),
      workspaceId: principal.workspaceId,
      name: input.name,
      body: input.body,
      shortcut: input.shortcut ?? null,
      contentSid: input.contentSid ?? null,
      createdAt: now,
      updatedAt: null,
    };
    try {
      await db.insert(templates).values(row);
    } catch (err) {
      throw taken(err);
    }
    await audit(db, principal, "template.created", "template", row.id, { name: row.name });
    return c.json(present(row), 201);
  })
  .openapi(patchTemplateRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = c.get("db");
    const before = await getTemplate(db, principal.workspaceId, id);
    if (!before) throw notFound("Template");
    let row: TemplateRow | undefined;
    try {
      [row] = await db
        .update(templates)
        .set({ ...input, updatedAt: Date.now() })
        .where(and(eq(templates.id, id), eq(templates.workspaceId, principal.workspaceId)))
        .returning();
    } catch (err) {
      throw taken(err);
    }
    if (!row) throw notFound("Template");
    await audit(db, principal, "template.updated", "template", id, {
      before: { name: before.name, body: before.body, shortcut: before.shortcut },
      after: { name: row.name, body: row.body, shortcut: row.shortcut },
    });
    return c.json(present(row), 200);
  })
  .openapi(deleteTemplateRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const [row] = await db
      .delete(templates)
      .where(and(eq(templates.id, id), eq(templates.workspaceId, principal.workspaceId)))
      .returning();
    if (!row) throw notFound("Template");
    await audit(db, principal, "template.deleted", "template", id, { name: row.name });
    return c.body(null, 204);
  })
  .openapi(previewRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const { contactId, variables } = c.req.valid("json");
    const db = c.get("db");
    const contact = await getContact(db, principal.workspaceId, contactId);
    if (!contact) throw notFound("Contact");
    const body = await renderForContact(db, principal, id, contact, variables);
    const { segments, encoding } = analyzeSegments(body);
    return c.json({ body, segments, encoding }, 200);
  });
