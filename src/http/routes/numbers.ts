/**
 * The workspace's sender numbers. Inbound texts are routed to the workspace that owns `To`. A number
 * is registered only when the Twilio account has it, and registering points its webhooks at us;
 * removing it stops it (waiting messages must be canceled first).
 */

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { numbers } from "../../db/schema";
import { conflict, notFound } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { presentNumber } from "../../messaging/present";
import type { AppEnv } from "../context";
import { requireAdmin, requireScope } from "../middleware/auth";
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
import { claimAtTwilio, removeInbox } from "./inboxes";

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
    409: jsonContent(ErrorSchema, "Number already registered (here or in another workspace)"),
    502: jsonContent(ErrorSchema, "Twilio could not be reached"),
    ...errorResponses,
    422: jsonContent(ErrorSchema, "number_not_in_account (the Twilio account lacks it), or invalid input"),
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
  request: {
    params: IdParam,
    query: z.object({
      cancel: z
        .enum(["true", "false"])
        .optional()
        .transform((v) => v === "true")
        .openapi({ description: "Cancel the messages still waiting to go out from this number" }),
    }),
  },
  responses: {
    204: { description: "Removed" },
    409: jsonContent(ErrorSchema, "Messages are still waiting to go out from it (details.waiting)"),
    ...errorResponses,
  },
});

export const numberRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createNumber, async (c) => {
    const principal = requireAdmin(c);
    const { phoneNumber, label, ratePerSecond } = c.req.valid("json");
    const db = c.get("db");
    // Registered anywhere already: say so without saying which workspace holds it, and leave its
    // Twilio configuration alone.
    const taken = await db.query.numbers.findFirst({ where: eq(numbers.phoneNumber, phoneNumber) });
    if (taken) throw conflict(`${phoneNumber} is already registered.`, { field: "phoneNumber" });
    // A number belongs to whoever owns it at Twilio (the deployment's account), which then calls us.
    const twilioSid = await claimAtTwilio(c.env, phoneNumber, undefined, "phoneNumber");
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
    await audit(db, principal, "number.registered", "number", row.id, { phoneNumber, twilioSid });
    return c.json(presentNumber(row), 201);
  })
  .openapi(patchNumber, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const where = and(eq(numbers.id, id), eq(numbers.workspaceId, principal.workspaceId));
    const db = c.get("db");
    const [row] =
      Object.keys(input).length === 0
        ? await db.select().from(numbers).where(where)
        : await db.update(numbers).set(input).where(where).returning();
    if (!row) throw notFound("Number");
    if (Object.keys(input).length > 0) await audit(db, principal, "number.updated", "number", row.id, input);
    return c.json(presentNumber(row), 200);
  })
  .openapi(listNumbers, async (c) => {
    const principal = c.get("principal");
    requireScope(c, "messages:read");
    const rows = await c
      .get("db")
      .select()
      .from(numbers)
      // The SMS inboxes: this route predates the other channels.
      .where(and(eq(numbers.workspaceId, principal.workspaceId), eq(numbers.channel, "sms")))
      .orderBy(asc(numbers.createdAt));
    return c.json({ items: rows.map(presentNumber), nextCursor: null }, 200);
  })
  .openapi(deleteNumber, async (c) => {
    const { id } = c.req.valid("param");
    await removeInbox(c, id, c.req.valid("query").cancel, "number");
    return c.body(null, 204);
  });
