/** Limits of the wire, written once: the API validates with them and the browser explains them. */

/** Twilio refuses a body longer than this (TWILIO.md §1.1, error 21617). */
export const MAX_BODY_CHARS = 1600;
/** Media URLs per MMS. */
export const MAX_MEDIA = 10;
/** A scheduled message goes out at least this far ahead… */
export const MIN_SCHEDULE_MS = 60_000;
/** …and at most this far. */
export const MAX_SCHEDULE_MS = 35 * 24 * 60 * 60 * 1000;
