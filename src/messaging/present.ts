/** Database rows → the API's and the frames' JSON (used by routes and rooms alike). */
import type { contacts, conversations, messages, numbers } from "../db/schema";
import { iso } from "../domain/time";

export type ContactRow = typeof contacts.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type NumberRow = typeof numbers.$inferSelect;

export function presentContact(row: ContactRow) {
  return {
    id: row.id,
    name: row.name,
    phone: row.phone,
    email: row.email,
    optedOut: row.optedOut,
    createdAt: iso(row.createdAt),
  };
}

export function presentNumber(row: NumberRow) {
  return {
    id: row.id,
    phoneNumber: row.phoneNumber,
    label: row.label,
    ratePerSecond: row.ratePerSecond,
    createdAt: iso(row.createdAt),
  };
}

export function presentMessage(row: MessageRow) {
  return {
    id: row.id,
    conversationId: row.conversationId,
    seq: row.seq,
    direction: row.direction,
    channel: row.channel,
    from: row.fromNumber,
    to: row.toNumber,
    body: row.body,
    media: row.media,
    status: row.status,
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    segments: row.segments,
    encoding: row.encoding,
    providerSid: row.providerSid,
    sendAt: iso(row.sendAt),
    createdAt: iso(row.createdAt),
    sentAt: iso(row.sentAt),
    deliveredAt: iso(row.deliveredAt),
    failedAt: iso(row.failedAt),
  };
}

export function presentConversation(row: {
  conversation: typeof conversations.$inferSelect;
  contact: ContactRow;
  lastMessage: MessageRow | null;
  unread: number;
}) {
  return {
    id: row.conversation.id,
    contact: presentContact(row.contact),
    from: row.conversation.fromNumber,
    status: row.conversation.status,
    lastMessage: row.lastMessage ? presentMessage(row.lastMessage) : null,
    unreadCount: row.unread,
    lastMessageAt: row.lastMessage ? iso(row.lastMessage.createdAt) : null,
  };
}
