/**
 * The API's wire shapes as zod schemas: they validate requests, type responses and generate the
 * OpenAPI document, so the three cannot drift apart.
 */

import { z } from "@hono/zod-openapi";
import { normalizeEmail } from "../channels/email";
import { toE164 } from "../domain/phone";
import { ContactJsonSchema, ConversationJsonSchema, MediaJsonSchema, MessageJsonSchema } from "../shared/frames";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_failed" }),
      message: z.string().openapi({ example: "Invalid phone: not a valid phone number" }),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

export const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});

/** A phone number in any common notation; normalised to E.164 or rejected with 422 naming the field. */
export const PhoneInput = z
  .string()
  .max(32)
  .transform((value, ctx) => {
    const e164 = toE164(value);
    if (!e164) {
      ctx.addIssue({ code: "custom", message: "not a valid phone number (use E.164, e.g. +14155552671)" });
      return z.NEVER;
    }
    return e164;
  })
  .openapi({ type: "string", example: "+14155552671" });

export const Iso = z.string().openapi({ format: "date-time", example: "2026-11-21T12:00:00.000Z" });

// The JSON of contacts, messages and conversations is the shared wire (src/shared/frames.ts). Its
// schemas may be built before @hono/zod-openapi extends zod, so each is rebuilt here from its shape
// (same fields, same rules) to carry its OpenAPI name.
export const ContactSchema = z.object(ContactJsonSchema.shape).openapi("Contact");
export const MediaSchema = z.object(MediaJsonSchema.shape).openapi("Media");
export const MessageSchema = z.object({ ...MessageJsonSchema.shape, media: z.array(MediaSchema) }).openapi("Message");
export const ConversationSchema = z
  .object({ ...ConversationJsonSchema.shape, contact: ContactSchema, lastMessage: MessageSchema.nullable() })
  .openapi("Conversation");

/** Where a message goes: a phone number (E.164), `whatsapp:+E164`, or an email address. */
export const AddressInput = z
  .string()
  .max(254)
  .transform((value, ctx) => {
    const trimmed = value.trim();
    if (trimmed.includes("@")) {
      const email = normalizeEmail(trimmed);
      if (!email) {
        ctx.addIssue({ code: "custom", message: "not a valid email address" });
        return z.NEVER;
      }
      return email;
    }
    const whatsapp = trimmed.startsWith("whatsapp:");
    const e164 = toE164(whatsapp ? trimmed.slice("whatsapp:".length) : trimmed);
    if (!e164) {
      ctx.addIssue({ code: "custom", message: "not a valid phone number (use E.164, e.g. +14155552671)" });
      return z.NEVER;
    }
    return whatsapp ? `whatsapp:${e164}` : e164;
  })
  .openapi({ type: "string", example: "+14155552671", description: "+E164, whatsapp:+E164, or an email address" });

export const NumberSchema = z
  .object({
    id: z.string(),
    phoneNumber: z.string(),
    label: z.string().nullable(),
    channel: z.enum(["sms", "whatsapp", "email"]),
    /** Segments per second Parley sends from this number at most (null: no limit of ours). */
    ratePerSecond: z.number().int().nullable(),
    createdAt: Iso,
  })
  .openapi("Number");

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    createdAt: Iso,
    lastUsedAt: Iso.nullable(),
    scopes: z.array(z.string()),
  })
  .openapi("ApiKey");

export function listOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
}

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

/** The error responses every authenticated route can give. */
export const errorResponses = {
  400: jsonContent(ErrorSchema, "Malformed request"),
  401: jsonContent(ErrorSchema, "No or invalid credentials"),
  404: jsonContent(ErrorSchema, "Not found in your workspace"),
  422: jsonContent(ErrorSchema, "Validation failed"),
} as const;

export const security: Record<string, string[]>[] = [{ cookieAuth: [] }, { bearerAuth: [] }];
