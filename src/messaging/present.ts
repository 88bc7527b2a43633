/** Database rows → the API's and the frames' JSON (used by routes and rooms alike). */

import type { ConversationStateRow } from "../db/queries/conversations";
import type { contacts, conversations, messages, numbers } from "../db/schema";
import { iso } from "../domain/time";
import type { ConversationStateJson, LabelJson, NoteJson } from "../shared/frames";

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
    fields: row.fields ?? {},
    timezone: row.timezone ?? null,
    identities: identitiesOf(row),
  };
}

/** The contact's addresses per channel (the phone serves SMS and WhatsApp). */
export function identitiesOf(row: { phone: string; email: string | null }) {
  const out: { channel: "sms" | "whatsapp" | "email"; address: string }[] = [];
  if (row.phone)
    out.push({ channel: "sms", address: row.phone }, { channel: "whatsapp", address: `whatsapp:${row.phone}` });
  if (row.email) out.push({ channel: "email", address: row.email });
  return out;
}

export function presentNumber(row: NumberRow) {
  return {
    id: row.id,
    phoneNumber: row.phoneNumber,
    label: row.label,
    channel: row.channel,
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
    subject: row.subject ?? null,
    html: row.html ?? null,
    media: row.media,
    status: row.status,
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    segments: row.segments,
    encoding: row.encoding,
    providerSid: row.providerSid,
    sendAt: iso(row.sendAt),
    deferredReason: row.deferredReason ?? null,
    createdAt: iso(row.createdAt),
    sentAt: iso(row.sentAt),
    deliveredAt: iso(row.deliveredAt),
    failedAt: iso(row.failedAt),
    campaignId: row.campaignId ?? null,
    sentBy:
      row.direction === "outbound"
        ? {
            type: (row.sentByType ?? "system") as "user" | "api_key" | "campaign" | "system",
            id: row.createdBy,
            name: row.sentByName,
          }
        : null,
  };
}

/** The room's `conversation` frame and the state part of a conversation's JSON. */
export function presentConversationState(row: ConversationStateRow): ConversationStateJson {
  return {
    id: row.id,
    status: row.status,
    snoozedUntil: iso(row.snoozedUntil),
    assignee: row.assigneeId ? { id: row.assigneeId, name: row.assigneeName ?? "" } : null,
    labels: parseLabels(row.labels),
  };
}

function parseLabels(json: string | null): LabelJson[] {
  try {
    const parsed = JSON.parse(json ?? "[]") as LabelJson[];
    return Array.isArray(parsed) ? parsed.sort((a, b) => a.name.localeCompare(b.name)) : [];
  } catch {
    return [];
  }
}

/** A conversation row with what a read joined to it: its contact, assignee's name and labels (JSON). */
interface ConversationWithContact {
  conversation: typeof conversations.$inferSelect;
  contact: ContactRow;
  assigneeName: string | null;
  labels: string | null;
}

/** The parts every conversation JSON shares: workflow state, contact, sender. */
function presentConversationBase(row: ConversationWithContact) {
  return {
    ...presentConversationState({
      id: row.conversation.id,
      status: row.conversation.status,
      snoozedUntil: row.conversation.snoozedUntil,
      assigneeId: row.conversation.assignedUserId,
      assigneeName: row.assigneeName,
      labels: row.labels ?? "[]",
    }),
    contact: presentContact(row.contact),
    from: row.conversation.fromNumber,
    channel: row.conversation.channel ?? "sms",
    to:
      row.conversation.customerAddress ??
      (row.conversation.channel === "email" ? (row.contact.email ?? "") : row.contact.phone),
    lastInboundAt: iso(row.conversation.lastInboundAt),
    campaignId: row.conversation.campaignId ?? null,
  };
}

export function presentConversation(row: ConversationWithContact & { lastMessage: MessageRow | null; unread: number }) {
  return {
    ...presentConversationBase(row),
    lastMessage: row.lastMessage ? presentMessage(row.lastMessage) : null,
    unreadCount: row.unread,
    lastMessageAt: row.lastMessage ? iso(row.lastMessage.createdAt) : null,
  };
}

export function presentNote(row: {
  id: string;
  conversationId: string;
  userId: string | null;
  body: string;
  mentions: string[] | string;
  seq: number;
  createdAt: number;
  authorName: string | null;
}): NoteJson {
  const mentions = typeof row.mentions === "string" ? (JSON.parse(row.mentions) as string[]) : row.mentions;
  return {
    id: row.id,
    conversationId: row.conversationId,
    body: row.body,
    author: row.userId ? { id: row.userId, name: row.authorName ?? "" } : null,
    mentions,
    createdAt: iso(row.createdAt),
    seq: row.seq,
  };
}

/** A conversation as a search hit shows it: its state and contact, without the list's counts. */
export function presentConversationSummary(row: ConversationWithContact) {
  return { ...presentConversationBase(row), lastMessageAt: iso(row.conversation.lastMessageAt) };
}
