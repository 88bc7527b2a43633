/**
 * Email: inbound through Cloudflare Email Routing (the Worker's email() handler, see ./inbound.ts),
 * outbound through Resend (./resend.ts). Plain text is what Parley writes; threading headers make the
 * customer's mail client keep the conversation together.
 */
import { MAX_ATTACHMENT_BYTES, MAX_EMAIL_BODY_CHARS } from "../../shared/limits";
import { resendConfigFor } from "../credentials";
import type { DirectChannel } from "../types";
import { sendEmail } from "./resend";

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

export function normalizeEmail(raw: string): string | null {
  const match = /<([^>]+)>/.exec(raw);
  const address = (match?.[1] ?? raw).trim().toLowerCase();
  return EMAIL.test(address) && address.length <= 254 ? address : null;
}

/** The Message-ID Parley gives an outbound email: its message id at the inbox's domain. */
export function emailMessageId(messageId: string, inboxAddress: string): string {
  return `<${messageId}@${inboxAddress.split("@")[1] ?? "parley.invalid"}>`;
}

/** Our message id inside a Message-ID Parley made (see emailMessageId), else null. */
export function parleyMessageId(messageIdHeader: string): string | null {
  return /^<?(msg_[A-Za-z0-9]+)@/.exec(messageIdHeader.trim())?.[1] ?? null;
}

export const email: DirectChannel = {
  kind: "email",
  label: "Email",
  provider: "direct",
  capabilities: {
    media: { max: 10, maxTotalBytes: MAX_ATTACHMENT_BYTES, types: "any" },
    templates: false,
    sessionWindowMs: null,
    readReceipts: false,
    subject: true,
    maxBodyChars: MAX_EMAIL_BODY_CHARS,
    segmented: false,
  },
  inboxAddress: normalizeEmail,
  customerAddress: (contact) => (contact.email ? normalizeEmail(contact.email) : null),
  contactKey: (address) => {
    const e = normalizeEmail(address);
    return e ? { email: e } : null;
  },
  async send(env, inbox, out) {
    const config = await resendConfigFor(env, inbox);
    const headers: Record<string, string> = { "Message-ID": emailMessageId(out.messageId, inbox.address) };
    if (out.inReplyTo) headers["In-Reply-To"] = out.inReplyTo;
    if (out.references && out.references.length > 0) headers.References = out.references.join(" ");
    const sent = await sendEmail(
      config,
      {
        from: inbox.address,
        to: [out.to],
        subject: out.subject ?? "(no subject)",
        text: out.body,
        headers,
        attachments: out.media.map((m) => ({
          filename: m.name ?? "attachment",
          path: m.url,
          ...(m.contentType ? { content_type: m.contentType } : {}),
        })),
      },
      out.messageId,
    );
    return { providerSid: sent.id, status: "sent" };
  },
};

/** The provider id Parley stores for an inbound email: the inbox, then its Message-ID (unique per inbox). */
export function inboundEmailSid(inboxId: string, messageIdHeader: string): string {
  return `${inboxId}/${messageIdHeader.trim()}`;
}

/** The Message-ID inside an inbound email's provider id. */
export function messageIdOfSid(sid: string): string {
  const at = sid.indexOf("/");
  return at < 0 ? sid : sid.slice(at + 1);
}
