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

/** Carriers count segments per second: 1 for a US long code, 3 toll-free, 100 short codes. */
const RatePerSecond = z.number().int().min(1, "must be at least 1 segment per second").max(1000);

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
        ratePerSecond: RatePerSecond.optional(),
      }),
    ),
  },
  responses: {
    201: jsonContent(NumberSchema, "Registered"),
    409: jsonContent(ErrorSchema, "Number already registered"),
    ...errorResponses,
  },
});

const patchNumber = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["numbers"],
  summary: "Change a number's label or send rate (segments per second; null removes the limit)",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          label: z.string().trim().max(100).nullable().optional(),
          ratePerSecond: RatePerSecond.nullable().optional(),
        })
        .strict(),
    ),
  },
  responses: { 200: jsonContent(NumberSchema, "Updated"), ...errorResponses },
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
    const { phoneNumber, label, ratePerSecond } = c.req.valid("json");
    const db = c.get("db");
    const [row] = await db
      .insert(numbers)
      .values({
        id: newId("num"),
        workspaceId: principal.workspaceId,
        phoneNumber,
        label: label ?? null,
        ratePerSecond: ratePerSecond ?? null,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw conflict(`${phoneNumber} is already registered.`, { field: "phoneNumber" });
    return c.json(presentNumber(row), 201);
  })
  .openapi(patchNumber, async (c) => {
    const principal = requireRole(c, "owner", "admin");
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const where = and(eq(numbers.id, id), eq(numbers.workspaceId, principal.workspaceId));
    const db = c.get("db");
    const [row] =
      Object.keys(input).length === 0
        ? await db.select().from(numbers).where(where)
        : await db.update(numbers).set(input).where(where).returning();
    if (!row) throw notFound("Number");
    return c.json(presentNumber(row), 200);
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
