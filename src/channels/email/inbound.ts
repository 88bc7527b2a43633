/**
 * Inbound email: what Email Routing hands the Worker's email() handler, parsed with postal-mime (a
 * maintained MIME parser that runs in Workers) into what the messaging core needs — who wrote, the
 * thread it belongs to (Message-ID, In-Reply-To, References), the text (plain preferred; HTML kept
 * for display, sanitised by the browser), the files — and what it is: a person's email, an
 * automatic reply (ignored), or a bounce of one of ours (which fails that message).
 */
import PostalMime, { type Address, type Email } from "postal-mime";
import { normalizeEmail, parleyMessageId } from "./index";

export interface ParsedEmail {
  messageId: string;
  from: string;
  fromName: string | null;
  subject: string;
  text: string;
  html: string | null;
  /** In-Reply-To first, then References newest first: the Message-IDs this answers. */
  refs: string[];
  attachments: { name: string | null; contentType: string; bytes: ArrayBuffer }[];
  kind: "message" | "auto_reply" | "bounce";
  /** For a bounce: our message it reports on, if it names one. */
  bouncedMessageId: string | null;
}

function firstMailbox(address: Address | undefined): { address: string; name: string | null } | null {
  if (!address) return null;
  const box = address.address !== undefined ? address : address.group[0];
  return box?.address ? { address: box.address, name: box.name || null } : null;
}

function splitIds(value: string | undefined): string[] {
  return (value ?? "").match(/<[^<>\s]+>/g) ?? [];
}

function header(email: Email, key: string): string | null {
  return email.headers.find((h) => h.key === key)?.value ?? null;
}

/** RFC 3834 Auto-Submitted, and the usual vacation / list markers. */
function isAutoReply(email: Email): boolean {
  const auto = header(email, "auto-submitted");
  if (auto && auto.toLowerCase() !== "no") return true;
  if (header(email, "x-autoreply") || header(email, "x-autorespond")) return true;
  const precedence = header(email, "precedence")?.toLowerCase();
  if (precedence === "auto_reply" || precedence === "bulk" || precedence === "junk") return true;
  return /^(auto(matic)? ?reply|out of (the )?office|autosvar|abwesenheit)/i.test(email.subject ?? "");
}

function isBounce(email: Email, from: string): boolean {
  const type = header(email, "content-type")?.toLowerCase() ?? "";
  if (type.includes("multipart/report") && type.includes("delivery-status")) return true;
  return /^(mailer-daemon|postmaster)@/i.test(from);
}

/** Plain text from HTML when an email has no text part (tags dropped, entities and breaks kept sensible). */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, "")
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/(p|div|li|tr|h[1-6])>/gi, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

export async function parseEmail(raw: ArrayBuffer | ReadableStream<Uint8Array>, envelopeFrom: string) {
  const email = await PostalMime.parse(raw, { attachmentEncoding: "arraybuffer" });
  const sender = firstMailbox(email.from);
  const from = normalizeEmail(sender?.address ?? envelopeFrom) ?? envelopeFrom.toLowerCase();
  const refs = [...splitIds(email.inReplyTo), ...splitIds(email.references).reverse()];
  const bounce = isBounce(email, from);
  let bouncedMessageId: string | null = null;
  if (bounce) {
    // The report quotes the original's headers: find our Message-ID in it (or in the threading headers).
    const quoted = email.attachments
      .map((a) => (typeof a.content === "string" ? a.content : new TextDecoder().decode(a.content)))
      .join("\n");
    const ids = [...refs, ...(`${email.text ?? ""}\n${quoted}`.match(/<msg_[A-Za-z0-9]+@[^<>\s]+>/g) ?? [])];
    bouncedMessageId = ids.map(parleyMessageId).find((id) => id !== null) ?? null;
  }
  const text = email.text?.trim() || (email.html ? htmlToText(email.html) : "");
  const parsed: ParsedEmail = {
    messageId: email.messageId?.trim() || `<no-id-${crypto.randomUUID()}@parley.invalid>`,
    from,
    fromName: sender?.name ?? null,
    subject: (email.subject ?? "").trim(),
    text,
    html: email.html ?? null,
    refs,
    attachments: bounce
      ? []
      : email.attachments
          .filter((a) => a.content instanceof ArrayBuffer || a.content instanceof Uint8Array)
          .map((a) => ({
            name: a.filename,
            contentType: a.mimeType,
            bytes: a.content instanceof ArrayBuffer ? a.content : (a.content as Uint8Array).slice().buffer,
          })),
    kind: bounce ? "bounce" : isAutoReply(email) ? "auto_reply" : "message",
    bouncedMessageId,
  };
  return parsed;
}
