/** The message status vocabulary and its order, shared by the Worker and the browser (DESIGN.md invariant 3). */

export const MESSAGE_STATUSES = [
  "scheduled",
  "pending",
  "queued",
  "sending",
  "sent",
  "delivery_unknown",
  "delivered",
  "undelivered",
  "failed",
  "read",
  "canceled",
  "received",
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const ROLES = ["owner", "admin", "agent", "viewer"] as const;
export type Role = (typeof ROLES)[number];

/** A conversation's state in the team's workflow (not a message's delivery status). */
export const CONVERSATION_STATUSES = ["open", "pending", "snoozed", "resolved"] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

export const STATUS_ORDER: Record<MessageStatus, number> = {
  scheduled: 0,
  pending: 1,
  queued: 2,
  sending: 3,
  sent: 4,
  delivery_unknown: 5,
  delivered: 6,
  undelivered: 6,
  failed: 6,
  read: 7,
  canceled: 8,
  received: 9,
};

/** Whether a reported status should replace the one shown (only forward). */
export function isForward(from: string, to: string): boolean {
  const rank = STATUS_ORDER as Record<string, number>;
  return (rank[to] ?? -1) > (rank[from] ?? -1);
}
