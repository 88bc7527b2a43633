/** Labels: named colors for conversations (owner/admin/agent manage them; everyone sees them). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { getLabel, listLabels } from "../../db/queries/labels";
import { labels } from "../../db/schema";
import { isUniqueViolation } from "../../db/unique";
import { conflict, notFound } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { LabelJsonSchema } from "../../shared/frames";
import type { AppEnv } from "../context";
import { ErrorSchema, errorResponses, IdParam, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const LabelSchema = z.object(LabelJsonSchema.shape).openapi("Label");
const Name = z.string().trim().min(1).max(40);
const Color = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, "a color like #2f80ed")
  .transform((c) => c.toLowerCase())
  .openapi({ example: "#2f80ed" });

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["labels"],
  summary: "The workspace's labels, by name",
  security,
  responses: { 200: jsonContent(z.object({ items: z.array(LabelSchema) }), "Labels"), ...errorResponses },
});

const createLabelRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["labels"],
  summary: "Create a label",
  security,
  request: { body: jsonBody(z.object({ name: Name, color: Color.default("#6b7280") }).strict()) },
  responses: {
    201: jsonContent(LabelSchema, "Created"),
    409: jsonContent(ErrorSchema, "A label with that name exists"),
    ...errorResponses,
  },
});

const patchLabelRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["labels"],
  summary: "Rename or recolor a label",
  security,
  request: { params: IdParam, body: jsonBody(z.object({ name: Name.optional(), color: Color.optional() }).strict()) },
  responses: {
    200: jsonContent(LabelSchema, "Updated"),
    409: jsonContent(ErrorSchema, "A label with that name exists"),
    ...errorResponses,
  },
});

const deleteLabelRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["labels"],
  summary: "Delete a label (it comes off every conversation)",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

const present = (row: typeof labels.$inferSelect) => ({ id: row.id, name: row.name, color: row.color });

function nameTaken(err: unknown, name: string | undefined) {
  return isUniqueViolation(err) ? conflict(`A label named "${name}" already exists.`, { field: "name" }) : err;
}

export const labelRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const rows = await listLabels(c.get("db"), c.get("principal").workspaceId);
    return c.json({ items: rows.map(present) }, 200);
  })
  .openapi(createLabelRoute, async (c) => {
    const principal = c.get("principal");
    const input = c.req.valid("json");
    const db = c.get("db");
    const row = { id: newId("lbl"), workspaceId: principal.workspaceId, name: input.name, color: input.color };
    try {
      await db.insert(labels).values(row);
    } catch (err) {
      throw nameTaken(err, input.name);
    }
    await audit(db, principal, "label.created", "label", row.id, { name: row.name, color: row.color });
    return c.json(present({ ...row, createdAt: Date.now() }), 201);
  })
  .openapi(patchLabelRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = c.get("db");
    const before = await getLabel(db, principal.workspaceId, id);
    if (!before) throw notFound("Label");
    let row: typeof labels.$inferSelect | undefined;
    try {
      [row] = await db
        .update(labels)
        .set({ ...(input.name ? { name: input.name } : {}), ...(input.color ? { color: input.color } : {}) })
        .where(and(eq(labels.id, id), eq(labels.workspaceId, principal.workspaceId)))
        .returning();
    } catch (err) {
      throw nameTaken(err, input.name);
    }
    if (!row) throw notFound("Label");
    await audit(db, principal, "label.updated", "label", id, {
      before: { name: before.name, color: before.color },
      after: { name: row.name, color: row.color },
    });
    return c.json(present(row), 200);
  })
  .openapi(deleteLabelRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const [row] = await db
      .delete(labels)
      .where(and(eq(labels.id, id), eq(labels.workspaceId, principal.workspaceId)))
      .returning();
    if (!row) throw notFound("Label");
    await audit(db, principal, "label.deleted", "label", id, { name: row.name });
    return c.body(null, 204);
  });
