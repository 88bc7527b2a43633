/**
 * Inboxes: each is one channel (SMS, WhatsApp, email) with its address, and optionally its own
 * provider account, whose credentials are sealed at rest and never returned. `/api/numbers` is the
 * SMS inboxes under their first name. Owners and admins manage them; everyone lists them.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { sealCredentials } from "../../channels/credentials";
import { channelFor } from "../../channels/registry";
import { TwilioClient, twilioConfigFromEnv } from "../../channels/twilio/client";
import { isTwilioError } from "../../channels/twilio/errors";
import { audit } from "../../db/queries/audit";
import { listWaitingFrom } from "../../db/queries/messages";
import { numbers } from "../../db/schema";
import { ApiError, conflict, notFound, unprocessable } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { iso } from "../../domain/time";
import type { NumberRow } from "../../messaging/present";
import { cancelWaitingFrom } from "../../messaging/send";
import { CHANNEL_KINDS } from "../../shared/channels";
import type { AppEnv } from "../context";
import { requireAdmin } from "../middleware/auth";
import { ErrorSchema, errorResponses, IdParam, jsonBody, jsonContent, listOf, security } from "../schemas";
import { validationHook } from "../validation";

const TwilioCredentialsInput = z
  .object({
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, "an Account SID (AC and 32 hex digits)"),
    authToken: z.string().min(16).max(128).openapi({ description: "Signs the account's webhooks" }),
    apiKeySid: z
      .string()
      .regex(/^SK[0-9a-fA-F]{32}$/, "an API key SID (SK and 32 hex digits)")
      .optional(),
    apiKeySecret: z.string().min(16).max(128).optional(),
  })
  .strict()
  .refine((v) => (v.apiKeySid === undefined) === (v.apiKeySecret === undefined), {
    message: "give apiKeySid and apiKeySecret together",
    path: ["apiKeySid"],
  });
const EmailCredentialsInput = z
  .object({
    apiKey: z.string().min(8).max(200).openapi({ description: "The Resend API key (re_…)" }),
    webhookSecret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]+$/, "the webhook signing secret (whsec_…)")
      .optional(),
  })
  .strict();

const RatePerSecond = z.number().int().min(1).max(1000);

const InboxSchema = z
  .object({
    id: z.string(),
    channel: z.enum(CHANNEL_KINDS),
    name: z.string(),
    address: z.string(),
    /** The inbox's own provider account (Twilio Account SID), or null for the deployment's. */
    accountSid: z.string().nullable(),
    hasCredentials: z.boolean(),
    ratePerSecond: z.number().int().nullable(),
    capabilities: z.object({
      media: z.boolean(),
      templates: z.boolean(),
      sessionWindowHours: z.number().nullable(),
      readReceipts: z.boolean(),
      subject: z.boolean(),
    }),
    /** Where the provider must send this inbox's messages and reports. */
    webhooks: z.record(z.string(), z.string()),
    createdAt: z.string(),
  })
  .openapi("Inbox");

export function inboxWebhookUrls(env: Env, channel: NumberRow["channel"]): Record<string, string> {
  const base = env.PUBLIC_BASE_URL.replace(/\/$/, "");
  if (channel === "email") {
    return { deliveryEvents: `${base}/webhooks/email/events`, inbound: "Email Routing → this Worker (email handler)" };
  }
  return { inbound: `${base}/webhooks/twilio/inbound`, status: `${base}/webhooks/twilio/status` };
}

export function presentInbox(env: Env, row: NumberRow) {
  const channel = channelFor(row.channel);
  const caps = channel.capabilities;
  return {
    id: row.id,
    channel: row.channel,
    name: row.label ?? row.phoneNumber,
    address: row.phoneNumber,
    accountSid: row.accountSid ?? null,
    hasCredentials: row.credentials !== null,
    ratePerSecond: row.ratePerSecond,
    capabilities: {
      media: caps.media !== null,
      templates: caps.templates,
      sessionWindowHours: caps.sessionWindowMs === null ? null : caps.sessionWindowMs / 3_600_000,
      readReceipts: caps.readReceipts,
      subject: caps.subject,
    },
    webhooks: inboxWebhookUrls(env, row.channel),
    createdAt: iso(row.createdAt) ?? "",
  };
}

const CreateInbox = z
  .object({
    channel: z.enum(CHANNEL_KINDS),
    name: z.string().trim().min(1).max(100),
    address: z.string().trim().min(3).max(254).openapi({
      description: "SMS: the number (E.164); WhatsApp: whatsapp:+E164 (or the number); email: the address",
      example: "+14155550123",
    }),
    credentials: z.union([TwilioCredentialsInput, EmailCredentialsInput]).optional(),
    ratePerSecond: RatePerSecond.optional(),
  })
  .strict();

const createRouteDef = createRoute({
  method: "post",
  path: "/",
  tags: ["inboxes"],
  summary: "Add an inbox (owner/admin): a channel, its address, and optionally its own provider account",
  security,
  request: { body: jsonBody(CreateInbox) },
  responses: {
    201: jsonContent(InboxSchema, "Added"),
    409: jsonContent(ErrorSchema, "The address is another inbox's already"),
    502: jsonContent(ErrorSchema, "The provider could not be reached"),
    ...errorResponses,
  },
});

const listRouteDef = createRoute({
  method: "get",
  path: "/",
  tags: ["inboxes"],
  summary: "The workspace's inboxes (credentials never shown)",
  security,
  responses: { 200: jsonContent(listOf(InboxSchema, "InboxList"), "Inboxes"), ...errorResponses },
});

const patchRouteDef = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["inboxes"],
  summary: "Rename an inbox, change its send rate, or replace (null: remove) its own credentials (owner/admin)",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          name: z.string().trim().min(1).max(100).optional(),
          ratePerSecond: RatePerSecond.nullable().optional(),
          credentials: z.union([TwilioCredentialsInput, EmailCredentialsInput]).nullable().optional(),
        })
        .strict(),
    ),
  },
  responses: { 200: jsonContent(InboxSchema, "Updated"), ...errorResponses },
});

const deleteRouteDef = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["inboxes"],
  summary: "Remove an inbox (409 while messages wait to go out from it, unless ?cancel=true)",
  security,
  request: {
    params: IdParam,
    query: z.object({
      cancel: z
        .enum(["true", "false"])
        .optional()
        .transform((v) => v === "true"),
    }),
  },
  responses: {
    204: { description: "Removed" },
    409: jsonContent(ErrorSchema, "Messages are still waiting (details.waiting)"),
    ...errorResponses,
  },
});

type Credentials = z.infer<typeof TwilioCredentialsInput> | z.infer<typeof EmailCredentialsInput>;

function credentialsFit(channel: NumberRow["channel"], credentials: Credentials | null | undefined) {
  if (!credentials) return;
  const twilio = "accountSid" in credentials;
  if ((channel === "email") === twilio) {
    throw unprocessable(
      "validation_failed",
      channel === "email"
        ? "An email inbox takes {apiKey, webhookSecret?}."
        : "An SMS or WhatsApp inbox takes Twilio credentials {accountSid, authToken, apiKeySid?, apiKeySecret?}.",
      { fields: [{ path: "credentials", message: "do not fit this channel" }] },
    );
  }
}

/**
 * An SMS number must be one of the Twilio account's (its own, or the deployment's): asking also proves
 * the credentials work. Its webhooks are pointed at us. WhatsApp senders are set up in Twilio's
 * console (the response lists the URLs to enter there).
 */
export async function claimAtTwilio(
  env: Env,
  address: string,
  credentials: Credentials | undefined,
  field: "address" | "phoneNumber" = "address",
) {
  const own = credentials && "accountSid" in credentials ? credentials : undefined;
  const config = own
    ? {
        accountSid: own.accountSid,
        authToken: own.apiKeySecret ?? own.authToken,
        apiKeySid: own.apiKeySid,
        apiBase: env.TWILIO_API_BASE,
      }
    : twilioConfigFromEnv(env);
  const twilio = new TwilioClient(config);
  try {
    const incoming = await twilio.findIncomingNumber(address);
    if (!incoming) {
      throw unprocessable(
        "number_not_in_account",
        `${address} is not a phone number of this Twilio account; buy or port it in Twilio first.`,
        { field },
      );
    }
    await twilio.updateIncomingNumber(incoming.sid, {
      smsUrl: inboxWebhookUrls(env, "sms").inbound ?? "",
      smsFallbackUrl: inboxWebhookUrls(env, "sms").inbound ?? "",
      statusCallback: inboxWebhookUrls(env, "sms").status ?? "",
    });
    return incoming.sid;
  } catch (err) {
    // Refused credentials are the caller's to fix when they brought them; the deployment's are the operator's (502).
    if (isTwilioError(err) && err.code === 20003 && own) {
      throw unprocessable("invalid_credentials", "Twilio refused these credentials (20003).", {
        field: "credentials",
      });
    }
    if (isTwilioError(err)) throw new ApiError(502, "twilio_unavailable", `Twilio could not be asked: ${err.message}`);
    throw err;
  }
}

/** Removes an inbox (or a number): refuses while messages wait to go out from it, unless told to cancel them. */
export async function removeInbox(
  c: Parameters<Parameters<typeof inboxRoutes.openapi>[1]>[0],
  id: string,
  cancel: boolean,
  what: "number" | "inbox",
) {
  const principal = requireAdmin(c);
  const db = c.get("db");
  const inbox = await db.query.numbers.findFirst({
    where: and(eq(numbers.id, id), eq(numbers.workspaceId, principal.workspaceId)),
  });
  if (!inbox) throw notFound(what === "number" ? "Number" : "Inbox");
  const waiting = await listWaitingFrom(db, principal.workspaceId, inbox.phoneNumber);
  if (waiting.length > 0 && !cancel) {
    throw new ApiError(
      409,
      what === "number" ? "number_in_use" : "inbox_in_use",
      `${waiting.length} message(s) are still waiting to be sent from ${inbox.phoneNumber}; cancel them with ?cancel=true, or wait.`,
      { waiting: waiting.length },
    );
  }
  const canceled = await cancelWaitingFrom(
    { env: c.env, db, principal, count: c.get("d1Count") },
    inbox.phoneNumber,
    waiting,
  );
  const [gone] = await db
    .delete(numbers)
    .where(and(eq(numbers.id, id), eq(numbers.workspaceId, principal.workspaceId)))
    .returning({ id: numbers.id });
  if (!gone) throw notFound(what === "number" ? "Number" : "Inbox");
  await audit(db, principal, `${what}.removed`, what, id, {
    [what === "number" ? "phoneNumber" : "address"]: inbox.phoneNumber,
    canceled,
  });
}

export const inboxRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRouteDef, async (c) => {
    const principal = c.get("principal");
    const rows = await c
      .get("db")
      .select()
      .from(numbers)
      .where(eq(numbers.workspaceId, principal.workspaceId))
      .orderBy(asc(numbers.createdAt));
    return c.json({ items: rows.map((r) => presentInbox(c.env, r)), nextCursor: null }, 200);
  })
  .openapi(createRouteDef, async (c) => {
    const principal = requireAdmin(c);
    const input = c.req.valid("json");
    const channel = channelFor(input.channel);
    const address = channel.inboxAddress(input.address);
    if (!address) {
      throw unprocessable("validation_failed", `Not a valid ${channel.label} address: ${input.address}`, {
        fields: [{ path: "address", message: `not a valid ${channel.label} address` }],
      });
    }
    credentialsFit(input.channel, input.credentials);
    const db = c.get("db");
    const taken = await db.query.numbers.findFirst({ where: eq(numbers.phoneNumber, address) });
    if (taken) throw conflict(`${address} is already an inbox.`, { field: "address" });
    const twilioSid = input.channel === "sms" ? await claimAtTwilio(c.env, address, input.credentials) : null;
    const id = newId("num");
    const sealed = input.credentials ? await sealCredentials(c.env, id, input.credentials) : null;
    const [row] = await db
      .insert(numbers)
      .values({
        id,
        workspaceId: principal.workspaceId,
        phoneNumber: address,
        label: input.name,
        channel: input.channel,
        accountSid: input.credentials && "accountSid" in input.credentials ? input.credentials.accountSid : null,
        credentials: sealed,
        ratePerSecond: input.ratePerSecond ?? null,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw conflict(`${address} is already an inbox.`, { field: "address" });
    await audit(db, principal, "inbox.created", "inbox", row.id, {
      channel: input.channel,
      address,
      ownAccount: row.accountSid ?? (input.credentials ? "own" : null),
      twilioSid,
    });
    return c.json(presentInbox(c.env, row), 201);
  })
  .openapi(patchRouteDef, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = c.get("db");
    const where = and(eq(numbers.id, id), eq(numbers.workspaceId, principal.workspaceId));
    const before = await db.query.numbers.findFirst({ where });
    if (!before) throw notFound("Inbox");
    credentialsFit(before.channel, input.credentials);
    const set: Partial<typeof numbers.$inferInsert> = {};
    if (input.name !== undefined) set.label = input.name;
    if (input.ratePerSecond !== undefined) set.ratePerSecond = input.ratePerSecond;
    if (input.credentials !== undefined) {
      set.credentials = input.credentials ? await sealCredentials(c.env, id, input.credentials) : null;
      set.accountSid = input.credentials && "accountSid" in input.credentials ? input.credentials.accountSid : null;
    }
    const [row] = Object.keys(set).length === 0 ? [before] : await db.update(numbers).set(set).where(where).returning();
    if (!row) throw notFound("Inbox");
    if (Object.keys(set).length > 0) {
      await audit(db, principal, "inbox.updated", "inbox", id, {
        name: input.name,
        ratePerSecond: input.ratePerSecond,
        // Which account, never the secrets.
        credentials: input.credentials === undefined ? undefined : input.credentials ? "replaced" : "removed",
      });
    }
    return c.json(presentInbox(c.env, row), 200);
  })
  .openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid("param");
    await removeInbox(c, id, c.req.valid("query").cancel, "inbox");
    return c.body(null, 204);
  });
