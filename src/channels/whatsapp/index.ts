/**
 * WhatsApp through Twilio: addresses are `whatsapp:+E164` on both sides; free-form messages only
 * within 24 hours of the customer's last message, approved templates (Content SIDs) any time; Twilio
 * reports `read`.
 */
import { toE164 } from "../../domain/phone";
import { MAX_MEDIA_TOTAL_BYTES, WHATSAPP_WINDOW_MS } from "../../shared/limits";
import type { TwilioChannel } from "../types";

const PREFIX = "whatsapp:";

function strip(address: string): string {
  return address.startsWith(PREFIX) ? address.slice(PREFIX.length) : address;
}

export const whatsapp: TwilioChannel = {
  kind: "whatsapp",
  label: "WhatsApp",
  provider: "twilio",
  capabilities: {
    // WhatsApp takes one file per message (Twilio sends each in its own message otherwise).
    media: {
      max: 1,
      maxTotalBytes: MAX_MEDIA_TOTAL_BYTES,
      types: ["image/jpeg", "image/png", "audio/ogg", "audio/mpeg", "video/mp4", "application/pdf"],
    },
    templates: true,
    sessionWindowMs: WHATSAPP_WINDOW_MS,
    readReceipts: true,
    subject: false,
    maxBodyChars: 1600,
    segmented: false,
  },
  inboxAddress: (raw) => {
    const phone = toE164(strip(raw.trim()));
    return phone ? `${PREFIX}${phone}` : null;
  },
  customerAddress: (contact) => (contact.phone ? `${PREFIX}${contact.phone}` : null),
  contactKey: (address) => {
    const phone = toE164(strip(address));
    return phone ? { phone } : null;
  },
  toTwilio: (out) => ({
    to: out.to,
    from: out.from,
    body: out.body,
    mediaUrls: out.media.map((m) => m.url),
    statusCallback: out.statusCallback,
    contentSid: out.contentSid ?? undefined,
    contentVariables: out.contentSid ? out.contentVariables : undefined,
  }),
};
