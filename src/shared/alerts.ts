/** Alert kinds and what each means, in words (the API's `summary`, the banner and the Ops page). */
export const ALERT_KINDS = [
  "failure_rate",
  "stuck_pending",
  "dead_letters",
  "opt_out_spike",
  "carrier_filtered",
  "webhook_disabled",
] as const;

export type AlertKind = (typeof ALERT_KINDS)[number];

export const ALERT_WORDS: Record<AlertKind, string> = {
  failure_rate: "More than 5 % of messages failed in the last 15 minutes",
  stuck_pending: "Messages have been waiting to send for more than 10 minutes",
  dead_letters: "Messages ran out of retries in the last hour",
  opt_out_spike: "Opt-outs spiked in the last hour",
  carrier_filtered: "The carrier is filtering a sender's messages (30007)",
  webhook_disabled: "An integration webhook was disabled after 24 hours of failed deliveries",
};

/** The start of the reason an endpoint gets when deliveries failed for 24 hours (the alert's condition). */
export const AUTO_DISABLED_REASON = "Disabled after 24 hours of failed deliveries";
