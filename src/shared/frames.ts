/**
 * The wire, written once: the JSON of messages, contacts and conversations, and the WebSocket frames
 * (JSON text) between the rooms and the browsers, as zod schemas. The Worker's API schemas are built
 * from them and the browser parses every frame with them. Server → client frames carry the room's
 * `seq` where they are part of the ordered event log.
 */
import { z } from "zod";

export const MediaJsonSchema = z.object({ url: z.string(), contentType: z.string().nullable() });

/** A message as the API and the frames carry it (DESIGN.md's message JSON). */
export const MessageJsonSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  seq: z.number().int(),
  direction: z.enum(["inbound", "outbound"]),
  channel: z.enum(["sms", "mms", "whatsapp"]),
  from: z.string(),
  to: z.string(),
  body: z.string(),
  media: z.array(MediaJsonSchema),
  status: z.string(),
  errorCode: z.number().int().nullable(),
  errorMessage: z.string().nullable(),
  segments: z.number().int(),
  encoding: z.enum(["GSM-7", "UCS-2"]),
  providerSid: z.string().nullable(),
  sendAt: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  failedAt: z.string().nullable(),
});
export type MessageJson = z.infer<typeof MessageJsonSchema>;

export const ContactJsonSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  phone: z.string(),
  email: z.string().nullable(),
  optedOut: z.boolean(),
  createdAt: z.string(),
});
export type ContactJson = z.infer<typeof ContactJsonSchema>;

/** A conversation's list entry (the API's and the inbox stream's). */
export const ConversationJsonSchema = z.object({
  id: z.string(),
  contact: ContactJsonSchema,
  from: z.string(),
  status: z.enum(["open", "closed"]),
  lastMessage: MessageJsonSchema.nullable(),
  unreadCount: z.number().int(),
  lastMessageAt: z.string().nullable(),
});
export type ConversationJson = z.infer<typeof ConversationJsonSchema>;

const MessageFrameSchema = z.object({ type: z.literal("message"), seq: z.number().int(), message: MessageJsonSchema });
const StatusFrameSchema = z.object({
  type: z.literal("status"),
  seq: z.number().int(),
  messageId: z.string(),
  status: z.string(),
  errorCode: z.number().int().nullable(),
  at: z.string(),
});
export type MessageFrame = z.infer<typeof MessageFrameSchema>;
export type StatusFrame = z.infer<typeof StatusFrameSchema>;
/** Frames kept in the room's event log and replayed on resume. */
export type LoggedFrame = MessageFrame | StatusFrame;

const ErrorFrameSchema = z.object({ type: z.literal("error"), code: z.string(), message: z.string() });

/** Room → browser (GET /api/conversations/:id/ws). */
export const ServerFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("hello"), conversationId: z.string(), lastSeq: z.number().int() }),
  MessageFrameSchema,
  StatusFrameSchema,
  z.object({ type: z.literal("typing"), userId: z.string(), name: z.string(), active: z.boolean() }),
  z.object({ type: z.literal("read"), userId: z.string(), seq: z.number().int() }),
  z.object({ type: z.literal("reset") }),
  ErrorFrameSchema,
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;

/** Inbox stream → browser (GET /api/ws). */
export const InboxFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("conversation"), conversation: ConversationJsonSchema }),
  ErrorFrameSchema,
]);
export type InboxFrame = z.infer<typeof InboxFrameSchema>;

/** Browser → room. */
export const ClientFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("resume"), afterSeq: z.number().int().min(0) }),
  z.object({ type: z.literal("typing"), active: z.boolean() }),
  z.object({ type: z.literal("read"), seq: z.number().int().min(0) }),
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
