/** SMS and MMS through Twilio's Messages API. */
import { toE164 } from "../../domain/phone";
import { MAX_BODY_CHARS, MAX_MEDIA, MAX_MEDIA_TOTAL_BYTES, MMS_CONTENT_TYPES } from "../../shared/limits";
import type { TwilioChannel } from "../types";

export const sms: TwilioChannel = {
  kind: "sms",
  label: "SMS",
  provider: "twilio",
  capabilities: {
    media: { max: MAX_MEDIA, maxTotalBytes: MAX_MEDIA_TOTAL_BYTES, types: MMS_CONTENT_TYPES },
    templates: false,
    sessionWindowMs: null,
    readReceipts: false,
    subject: false,
    maxBodyChars: MAX_BODY_CHARS,
    segmented: true,
  },
  inboxAddress: (raw) => toE164(raw),
  customerAddress: (contact) => (contact.phone ? contact.phone : null),
  contactKey: (address) => {
    const phone = toE164(address);
    return phone ? { phone } : null;
  },
  toTwilio: (out) => ({
    to: out.to,
    from: out.from,
    body: out.body,
    mediaUrls: out.media.map((m) => m.url),
    statusCallback: out.statusCallback,
  }),
};
