/**
 * Resend's delivery webhooks (sent by Svix): verified by the svix-id, svix-timestamp and
 * svix-signature headers (HMAC-SHA256 of `id.timestamp.body` under the `whsec_` secret, any of the
 * space-separated `v1,` signatures; timestamps older or newer than five minutes refused), then mapped
 * onto Parley's statuses.
 */
import { z } from "zod";
import { timingSafeEqualStrings, toBase64 } from "../../security/crypto";
import { EMAIL_ERROR } from "./resend";

const TOLERANCE_S = 5 * 60;

function secretBytes(secret: string): Uint8Array {
  const text = atob(secret.replace(/^whsec_/, ""));
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

export async function verifySvix(
  secret: string,
  headers: { id: string | undefined; timestamp: string | undefined; signature: string | undefined },
  body: string,
  now = Date.now(),
): Promise<boolean> {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return false;
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(now / 1000 - ts) > TOLERANCE_S) return false;
  const key = await crypto.subtle.importKey("raw", secretBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`)),
  );
  const expected = `v1,${toBase64(mac)}`;
  return signature.split(" ").some((candidate) => timingSafeEqualStrings(candidate, expected));
}

export const EmailEventSchema = z.object({
  type: z.string().min(1).max(64),
  created_at: z.string().optional(),
  data: z.object({ email_id: z.string().min(1).max(128) }).passthrough(),
});

/** An event's meaning for the message: a status to move to (with an error), or just a note. */
export function mapEmailEvent(
  type: string,
): { status: "sent" | "delivered" | "undelivered"; errorCode: number | null } | null {
  switch (type) {
    case "email.sent":
      return { status: "sent", errorCode: null };
    case "email.delivered":
      return { status: "delivered", errorCode: null };
    case "email.bounced":
      return { status: "undelivered", errorCode: EMAIL_ERROR.bounced };
    default:
      return null;
  }
}
