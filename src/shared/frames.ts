/**
 * The wire, written once: the JSON of messages, contacts and conversations, and the WebSocket frames
 * (JSON text) between the rooms and the browsers, as zod schemas. The Worker's API schemas are built
 * from them and the browser parses every frame with them. Server → client frames carry the room's
 * `seq` where they are part of the ordered event log.
 */
import { z } from "zod";
import { CONVERSATION_STATUSES } from "./status";

/**
 * One file of a message. `attachmentId` is set once Parley keeps the file (in R2): `url` is then
 * Parley's own (`/api/attachments/:id/content`, signed in). Inbound media shows the provider's URL
 * until the copy job has kept it.
 */
export const MediaJsonSchema = z.object({
  url: z.string(),
  contentType: z.string().nullable(),
  attachmentId: z.string().optional(),
  name: z.string().optional(),
  size: z.number().int().optional(),
});

/** A message as the API and the frames carry it (DESIGN.md's message JSON). */
export const MessageJsonSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  seq: z.number().int(),
  direction: z.enum(["inbound", "outbound"]),
  channel: z.enum(["sms", "mms", "whatsapp", "email"]),
  from: z.string(),
  to: z.string(),
  body: z.string(),
  /** Email only: the subject line, and the HTML part as received (untrusted: sanitise before showing). */
  subject: z.string().nullable().optional(),
  html: z.string().nullable().optional(),
  media: z.array(MediaJsonSchema),
  status: z.string(),
  errorCode: z.number().int().nullable(),
  errorMessage: z.string().nullable(),
  segments: z.number().int(),
  encoding: z.enum(["GSM-7", "UCS-2"]),
  providerSid: z.string().nullable(),
  sendAt: z.string().nullable(),
  /** Why a message waits though nobody scheduled it (`quiet_hours`), else null. */
  deferredReason: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  failedAt: z.string().nullable(),
  /** The campaign that sent it, or (inbound) the campaign it replies to; else null. */
  campaignId: z.string().nullable(),
  /** Who sent an outbound message (null for inbound). */
  sentBy: z
    .object({
      type: z.enum(["user", "api_key", "campaign", "system"]),
      id: z.string().nullable(),
      name: z.string().nullable(),
    })
    .nullable(),
});
export type MessageJson = z.infer<typeof MessageJsonSchema>;

export const ContactJsonSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  phone: z.string(),
  email: z.string().nullable(),
  optedOut: z.boolean(),
  createdAt: z.string(),
  /** Custom fields (`{key: value}`). */
  fields: z.record(z.string(), z.string()),
  /** IANA zone, when known. */
  timezone: z.string().nullable(),
  /** Where the contact can be reached: by text and WhatsApp at their phone, by email at their address. */
  identities: z.array(z.object({ channel: z.enum(["sms", "whatsapp", "email"]), address: z.string() })).optional(),
});
export type ContactJson = z.infer<typeof ContactJsonSchema>;

export const LabelJsonSchema = z.object({ id: z.string(), name: z.string(), color: z.string() });
export type LabelJson = z.infer<typeof LabelJsonSchema>;

export const AssigneeJsonSchema = z.object({ id: z.string(), name: z.string() });

/** A conversation's place in the team's workflow: who has it, its state, its labels. */
export const ConversationStateJsonSchema = z.object({
  id: z.string(),
  status: z.enum(CONVERSATION_STATUSES),
  snoozedUntil: z.string().nullable(),
  assignee: AssigneeJsonSchema.nullable(),
  labels: z.array(LabelJsonSchema),
});
export type ConversationStateJson = z.infer<typeof ConversationStateJsonSchema>;

/** A conversation's list entry (the API's and the inbox stream's). */
export const ConversationJsonSchema = z.object({
  ...ConversationStateJsonSchema.shape,
  contact: ContactJsonSchema,
  from: z.string(),
  /** The inbox's channel, and the customer's address on it. */
  channel: z.enum(["sms", "whatsapp", "email"]).optional(),
  to: z.string().optional(),
  /** When the customer last wrote (WhatsApp's 24-hour window runs from it). */
  lastInboundAt: z.string().nullable().optional(),
  /** The campaign whose message is the thread's latest outbound (its replies count for it), or null. */
  campaignId: z.string().nullable(),
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
/** An internal note: the team's, never sent to the customer. */
export const NoteJsonSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  body: z.string(),
  author: z.object({ id: z.string(), name: z.string() }).nullable(),
  mentions: z.array(z.string()),
  createdAt: z.string(),
  seq: z.number().int(),
});
export type NoteJson = z.infer<typeof NoteJsonSchema>;

const NoteFrameSchema = z.object({ type: z.literal("note"), seq: z.number().int(), note: NoteJsonSchema });

/** The conversation's workflow state changed (assignee, status, snooze, labels). */
const ConversationFrameSchema = z.object({
  type: z.literal("conversation"),
  seq: z.number().int(),
  conversation: ConversationStateJsonSchema,
});
export type MessageFrame = z.infer<typeof MessageFrameSchema>;
export type StatusFrame = z.infer<typeof StatusFrameSchema>;
export type ConversationFrame = z.infer<typeof ConversationFrameSchema>;
export type NoteFrame = z.infer<typeof NoteFrameSchema>;
/** Frames kept in the room's event log and replayed on resume. */
export type LoggedFrame = MessageFrame | StatusFrame | ConversationFrame | NoteFrame;

const ErrorFrameSchema = z.object({ type: z.literal("error"), code: z.string(), message: z.string() });

/** Room → browser (GET /api/conversations/:id/ws). */
export const ServerFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("hello"), conversationId: z.string(), lastSeq: z.number().int() }),
  MessageFrameSchema,
  StatusFrameSchema,
  ConversationFrameSchema,
  NoteFrameSchema,
  z.object({ type: z.literal("typing"), userId: z.string(), name: z.string(), active: z.boolean() }),
  z.object({ type: z.literal("read"), userId: z.string(), seq: z.number().int() }),
  /** Who has the conversation open now (sent when someone opens or leaves it). */
  z.object({
    type: z.literal("presence"),
    viewers: z.array(z.object({ userId: z.string(), name: z.string() })),
  }),
  z.object({ type: z.literal("reset") }),
  ErrorFrameSchema,
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;

/** A member's notification (their feed, and `notification` frames on /api/ws). */
export const NotificationJsonSchema = z.object({
  id: z.string(),
  type: z.enum(["mention", "assigned", "inbound_on_mine", "campaign_paused", "webhook_disabled"]),
  conversationId: z.string().nullable(),
  actor: z.object({
    type: z.enum(["user", "api_key", "system", "customer"]),
    id: z.string().nullable(),
    name: z.string().nullable(),
  }),
  createdAt: z.string(),
  readAt: z.string().nullable(),
});
export type NotificationJson = z.infer<typeof NotificationJsonSchema>;

/** A contact import's progress (GET /api/imports/:id, and `import` frames on /api/ws). */
export const ImportJsonSchema = z.object({
  id: z.string(),
  status: z.enum(["queued", "running", "done", "failed"]),
  total: z.number().int(),
  imported: z.number().int(),
  updated: z.number().int(),
  skipped: z.number().int(),
  errors: z.array(z.object({ row: z.number().int(), reason: z.string() })),
  errorCount: z.number().int(),
  failure: z.string().nullable(),
  /** 0…1, by bytes of the file done. */
  progress: z.number(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type ImportJson = z.infer<typeof ImportJsonSchema>;

export const CAMPAIGN_STATUS_VALUES = ["draft", "scheduled", "running", "paused", "completed", "canceled"] as const;

/** A campaign's counts (GET /api/campaigns/:id, and `campaign` frames on /api/ws). */
export const CampaignCountsSchema = z.object({
  /** Contacts in the audience (at start; for a draft, when it was saved). */
  audience: z.number().int(),
  /** Messages made and waiting to go to Twilio (including those held until quiet hours end). */
  queued: z.number().int(),
  /** Handed to Twilio (whatever happened next). */
  sent: z.number().int(),
  delivered: z.number().int(),
  /** Failed or undelivered. */
  failed: z.number().int(),
  /** Recipients on the suppression list: no message made. */
  skippedOptOut: z.number().int(),
  /** Recipients whose message waits for their quiet hours to end (it goes then). */
  skippedQuietHours: z.number().int(),
  replied: z.number().int(),
  /** Recipients who opted out after the campaign started. */
  optedOut: z.number().int(),
  canceled: z.number().int(),
});
export type CampaignCounts = z.infer<typeof CampaignCountsSchema>;

export const CampaignJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(CAMPAIGN_STATUS_VALUES),
  audience: z.object({
    labels: z.array(z.string()).optional(),
    contactIds: z.array(z.string()).optional(),
    filter: z.object({ q: z.string().optional(), fields: z.record(z.string(), z.string()).optional() }).optional(),
  }),
  templateId: z.string().nullable(),
  body: z.string().nullable(),
  numberIds: z.array(z.string()),
  sendAt: z.string().nullable(),
  /** `opt_out_rate` when Parley paused it; null when a person did (or it is not paused). */
  pausedReason: z.string().nullable(),
  counts: CampaignCountsSchema,
  /** 0…1: recipients done (messaged or skipped) of the audience. */
  progress: z.number(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});
export type CampaignJson = z.infer<typeof CampaignJsonSchema>;

/** Inbox stream → browser (GET /api/ws). */
export const InboxFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("conversation"), conversation: ConversationJsonSchema }),
  z.object({ type: z.literal("notification"), notification: NotificationJsonSchema }),
  z.object({ type: z.literal("import"), import: ImportJsonSchema }),
  z.object({ type: z.literal("campaign"), campaign: CampaignJsonSchema }),
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
