/** Limits of the wire, written once: the API validates with them and the browser explains them. */

/** Twilio refuses a body longer than this (TWILIO.md §1.1, error 21617). */
export const MAX_BODY_CHARS = 1600;
/** Media URLs per MMS. */
export const MAX_MEDIA = 10;
/** A scheduled message goes out at least this far ahead… */
export const MIN_SCHEDULE_MS = 60_000;
/** …and at most this far. */
export const MAX_SCHEDULE_MS = 35 * 24 * 60 * 60 * 1000;
/** Twilio fetches at most this much media per MMS (all files together). */
export const MAX_MEDIA_TOTAL_BYTES = 5 * 1024 * 1024;
/** One file kept for an email (Resend and most mail servers refuse far less than this in all). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
/** Content types Twilio sends as MMS without conversion or refusal (TWILIO.md; images render inline). */
export const MMS_CONTENT_TYPES = [
  "image/jpeg",
  "image/jpg",
  "image/png",
  "image/gif",
  "image/webp",
  "audio/mpeg",
  "audio/ogg",
  "audio/amr",
  "video/mp4",
  "video/3gpp",
  "text/vcard",
  "text/x-vcard",
  "text/calendar",
  "text/plain",
  "application/pdf",
] as const;
/** WhatsApp's customer-service window: free-form messages within this long of the customer's last one. */
export const WHATSAPP_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Email subjects are cut to this length. */
export const MAX_SUBJECT_CHARS = 250;
/** An email body may be longer than a text. */
export const MAX_EMAIL_BODY_CHARS = 100_000;
