import type { ContactJson, ConversationJson, MessageJson } from "../../src/shared/frames";

export type Message = MessageJson;

export type Contact = ContactJson;

export type Conversation = ConversationJson;

export interface Me {
  user: { id: string; email: string; name: string } | null;
  workspace: { id: string; name: string; helpText: string; retentionDays: number | null };
  role: "owner" | "admin" | "agent" | "viewer";
  workspaces?: { id: string; name: string; role: string }[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A message typed here and not yet confirmed by the server. */
export interface PendingSend {
  key: string;
  conversationId: string;
  body: string;
  sendAt: string | null;
  /** Files, an email's subject, or a WhatsApp template, sent with the body. */
  extra?: SendExtra;
  createdAt: string;
  /** Set once the server (or a frame) names the stored message. */
  id: string | null;
  error: string | null;
}

export interface SendExtra {
  attachmentIds?: string[];
  subject?: string;
  templateId?: string;
  variables?: Record<string, string>;
}
