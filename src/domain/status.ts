/**
 * Message status ranks (DESIGN.md invariant 3): the stored status only moves to a higher rank.
 * scheduled < pending < queued < sending < sent < delivery_unknown < {delivered, undelivered, failed} < read;
 * canceled is terminal. Twilio's own vocabulary is mapped onto ours first.
 */
import type { MessageStatus } from "../shared/status";
import { STATUS_ORDER } from "../shared/status";

export const STATUS_RANK: Record<MessageStatus, number> = STATUS_ORDER;

export const TERMINAL_STATUSES: ReadonlySet<MessageStatus> = new Set([
  "delivered",
  "undelivered",
  "failed",
  "read",
  "canceled",
  "delivery_unknown",
  "received",
]);

/** Maps a Twilio message status onto ours; null for statuses we do not track (receiving, partially_delivered). */
export function fromTwilioStatus(status: string): MessageStatus | null {
  switch (status) {
    case "accepted":
    case "queued":
      return "queued";
    case "scheduled":
      return "scheduled";
    case "sending":
    case "sent":
    case "delivered":
    case "undelivered":
    case "failed":
    case "read":
    case "canceled":
    case "received":
      return status;
    default:
      return null;
  }
}

/** SQL CASE expression giving the rank of `column`, so the monotonic check runs inside one statement. */
export function statusRankSql(column: string): string {
  const arms = Object.entries(STATUS_RANK)
    .map(([status, rank]) => `WHEN '${status}' THEN ${rank}`)
    .join(" ");
  return `(CASE ${column} ${arms} ELSE -1 END)`;
}
