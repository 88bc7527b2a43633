/** The workspace's sender numbers. Inbound texts are routed to the workspace that owns `To`. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { numbers } from "../../db/schema";
import { newId } from "../../domain/ids";
import type { AppEnv } from "../context";
import { conflict, notFound } from "../errors";
import { requireRole } from "../middleware/auth";
import { presentNumber } from "../present";
import {
  ErrorSchema,
  errorResponses,
  IdParam,
  jsonBody,
  jsonContent,
  listOf,
  NumberSchema,
  PhoneInput,
  security,
} from "../schemas";
import { validationHook } from "../validation";

const createNumber = createRoute({
  method: "post",
  path: "/",
  tags: ["numbers"],
  summary: "Register a sender number (E.164) for this workspace",
  security,
  request: {
    body: jsonBody(
      z.object({
        phoneNumber: PhoneInput,
        label: z.string().trim().max(100).optional(),
      }),
    ),
  },
  responses: {
    201: jsonContent(NumberSchema, "Registered"),
    409: jsonContent(ErrorSchema, "Number already registered"),
    ...errorResponses,
  },
});

const listNumbers = createRoute({
  method: "get",
  path: "/",
  tags: ["numbers"],
  summary: "List the workspace's sender numbers",
  security,
  responses: { 200: jsonContent(listOf(NumberSchema, "NumberList"), "Numbers"), ...errorResponses },
});

const deleteNumber = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["numbers"],
  summary: "Remove a sender number",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});

export const numberRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createNumber, async (c) => {
    const principal = requireRole(c, "owner", "admin");
    const { phoneNumber, label } = c.req.valid("json");
    const db = c.get("db");
    const [row] = await db
      .insert(numbers)
      .values({ id: newId("num"), workspaceId: principal.workspaceId, phoneNumber, label: label ?? null })
      .onConflictDoNothing()
      .returning();
    if (!row) throw conflict(`${phoneNumber} is already registered.`, { field: "phoneNumber" });
    return c.json(presentNumber(row), 201);
  })
  .openapi(listNumbers, async (c) => {
    const principal = c.get("principal");
    const rows = await c
      .get("db")
      .select()
      .from(numbers)
      .where(eq(numbers.workspaceId, principal.workspaceId))
      .orderBy(asc(numbers.createdAt));
    return c.json({ items: rows.map(presentNumber), nextCursor: null }, 200);
  })
  .openapi(deleteNumber, async (c) => {
    const principal = requireRole(c, "owner", "admin");
    const { id } = c.req.valid("param");
    const [gone] = await c
      .get("db")
      .delete(numbers)
      .where(and(eq(numbers.id, id), eq(numbers.workspaceId, principal.workspaceId)))
      .returning({ id: numbers.id });
    if (!gone) throw notFound("Number");
    return c.body(null, 204);
  });
