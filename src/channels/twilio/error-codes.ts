/** Twilio error codes in words, for the message's errorMessage when Twilio gives none (TWILIO.md §2). */
const DESCRIPTIONS: Record<number, string> = {
  20003: "Twilio rejected our credentials",
  20429: "Twilio is rate limiting requests",
  21211: "The 'To' number is not a valid phone number",
  21212: "The 'From' number is not valid",
  21408: "Sending to this region is not enabled",
  21602: "A message body or media is required",
  21606: "The 'From' number cannot send this message",
  21608: "A trial account can only send to verified numbers",
  21610: "The recipient opted out (replied STOP)",
  21611: "The sender's queue is full; try again later",
  21612: "This To/From combination cannot be routed",
  21614: "The 'To' number is not a mobile number",
  21617: "The message body is over 1,600 characters",
  21620: "A media URL is invalid",
  30001: "Twilio's queue for this sender overflowed",
  30002: "The Twilio account is suspended",
  30003: "The handset is unreachable",
  30004: "The message was blocked",
  30005: "The destination number is unknown",
  30006: "The destination is a landline or unreachable carrier",
  30007: "The carrier filtered the message",
  30008: "Unknown delivery error",
  30034: "The sender is not registered for US A2P 10DLC",
  30036: "The message expired in Twilio's queue",
  30500: "Twilio had an internal error",
  63016:
    "WhatsApp's 24-hour window is closed: the customer has not written in the last 24 hours, so only an approved template can be sent",
  63024: "The WhatsApp recipient is not a valid WhatsApp user",
  63032: "WhatsApp refused this template or its variables",
  63051: "The WhatsApp account of this sender is not set up for this message",
};

export function describeTwilioError(code: number | null | undefined): string | null {
  if (code === null || code === undefined) return null;
  return DESCRIPTIONS[code] ?? `Twilio error ${code}`;
}

export { isRetryableFailure } from "../../shared/retry";
