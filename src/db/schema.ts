/**
 * Parley's D1 schema: the single source of truth for every table. `drizzle-kit generate` turns it
 * into the flat SQL files in migrations/, which wrangler and the tests apply.
 *
 * Every tenant row carries `workspace_id`, and every query filters on it. Times are integer
 * milliseconds since the epoch (UTC); the API renders them as ISO-8601 strings.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ALERT_KINDS } from "../shared/alerts";
import type { BusinessHours, QuietHours } from "../shared/policies";
import { CONVERSATION_STATUSES, MESSAGE_STATUSES, type MessageStatus, ROLES, type Role } from "../shared/status";

const timestamp = (name: string) => integer(name).notNull().default(sql`(cast(unixepoch('subsec') * 1000 as integer))`);

export const workspaces = sqliteTable("workspaces", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** Reply to HELP/INFO keywords (TwiML). */
  helpText: text("help_text").notNull(),
  /** Days to keep message bodies and events; null keeps them forever. */
  retentionDays: integer("retention_days"),
  /** Message contents older than this many days move to R2 (src/messaging/archive.ts); null: never. */
  archiveAfterDays: integer("archive_after_days"),
  /** Round-robin new inbound conversations among the agents online in the inbox. */
  autoAssign: integer("auto_assign", { mode: "boolean" }).notNull().default(false),
  /** IANA zone: the fallback for recipients' local time, and the zone of business hours. */
  timezone: text("timezone").notNull().default("America/New_York"),
  /** `{start: "21:00", end: "08:00", mode: "defer"|"refuse", exemptRepliesWithinHours}`; null: off. */
  quietHours: text("quiet_hours", { mode: "json" }).$type<QuietHours | null>(),
  /** Weekly opening hours (`{mon: [["09:00","17:00"]], …}`) and the away reply; null: always open. */
  businessHours: text("business_hours", { mode: "json" }).$type<BusinessHours | null>(),
  awayMessage: text("away_message"),
  /** Send limits (null: the defaults in src/shared/limits.ts). */
  userSendsPerMinute: integer("user_sends_per_minute"),
  workspaceSendsPerSecond: integer("workspace_sends_per_second"),
  workspaceSendBurst: integer("workspace_send_burst"),
  /** A running campaign pauses when more than this share of its recipients opt out (percent; null: 2). */
  campaignOptOutPausePct: integer("campaign_opt_out_pause_pct"),
  /**
   * Whether the workspace's inbox stream may have a socket open (src/rooms/inbox-stream.ts). The stream
   * sets it before it accepts a socket and clears it when it has none; writers read it in the batch that
   * commits their change and skip the stream's publish when it is clear. True by default (the safe side:
   * a publish to nobody costs a call, a skipped one to somebody would lose an update).
   */
  inboxListeners: integer("inbox_listeners", { mode: "boolean" }).notNull().default(true),
  createdAt: timestamp("created_at"),
});

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  /** Stored lower-cased; unique across the deployment. */
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  /** `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` */
  passwordHash: text("password_hash").notNull(),
  createdAt: timestamp("created_at"),
});

export { MESSAGE_STATUSES, type MessageStatus, ROLES, type Role };

export const memberships = sqliteTable(
  "memberships",
  {
    /** The member's id in the API (`mem_…`); set on every insert (null only before migration 0004 ran). */
    id: text("id").unique(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ROLES }).notNull(),
    /** The inboxes (ids) this member works in; null: all of the workspace's inboxes. */
    inboxIds: text("inbox_ids", { mode: "json" }).$type<string[] | null>(),
    createdAt: timestamp("created_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.userId] }), index("memberships_user_idx").on(t.userId)],
);

export const sessions = sqliteTable(
  "sessions",
  {
    /** SHA-256 (hex) of the cookie token; the token itself is never stored. */
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    expiresAt: integer("expires_at").notNull(),
    createdAt: timestamp("created_at"),
  },
  (t) => [index("sessions_user_idx").on(t.userId), index("sessions_expires_idx").on(t.expiresAt)],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** First characters of the key, shown in lists so people can tell keys apart. */
    prefix: text("prefix").notNull(),
    /** SHA-256 (hex) of the whole key. */
    keyHash: text("key_hash").notNull().unique(),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at"),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
    /** Space-separated scopes (see API_KEY_SCOPES); keys made before scopes existed keep the defaults. */
    scopes: text("scopes").notNull().default("messages:send messages:read contacts:write"),
  },
  (t) => [index("api_keys_workspace_idx").on(t.workspaceId, t.createdAt)],
);

export const INBOX_CHANNELS = ["sms", "whatsapp", "email"] as const;

/**
 * Inboxes: one channel and its address each (the table kept its first name, `numbers`, because SMS
 * inboxes are what `/api/numbers` has always listed). The address is unique across the deployment
 * because inbound messages are routed by it: `+E164` (sms), `whatsapp:+E164`, or an email address.
 */
export const numbers = sqliteTable(
  "numbers",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** The inbox's address (E.164 for SMS, `whatsapp:+E164`, or an email address). */
    phoneNumber: text("phone_number").notNull().unique(),
    label: text("label"),
    channel: text("channel", { enum: INBOX_CHANNELS }).notNull().default("sms"),
    /** The inbox's own Twilio account (null: the deployment's). */
    accountSid: text("account_sid"),
    /** The inbox's provider credentials, sealed with AES-GCM under CREDENTIALS_KEY (never returned). */
    credentials: text("credentials"),
    /** Segments per second this sender may use (null: no limit of ours). */
    ratePerSecond: integer("rate_per_second"),
    createdAt: timestamp("created_at"),
  },
  (t) => [index("numbers_workspace_idx").on(t.workspaceId)],
);

export const contacts = sqliteTable(
  "contacts",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name"),
    /** E.164 */
    phone: text("phone").notNull(),
    email: text("email"),
    /** Free-form custom fields (`{key: value}`), for templates and the contact panel. */
    fields: text("fields", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
    /** IANA zone of the contact, when known (quiet hours use it first). */
    timezone: text("timezone"),
    optedOut: integer("opted_out", { mode: "boolean" }).notNull().default(false),
    optedOutAt: integer("opted_out_at"),
    /**
     * Set when this contact was merged into another: the row stays (its number still routes texts to its
     * threads) but it is the other contact everywhere people look (lists, audiences, the contact panel).
     */
    mergedInto: text("merged_into"),
    createdAt: timestamp("created_at"),
    updatedAt: timestamp("updated_at"),
  },
  (t) => [
    // A contact known only by email has phone '' (the column predates email contacts).
    uniqueIndex("contacts_workspace_phone_uq").on(t.workspaceId, t.phone).where(sql`phone <> ''`),
    index("contacts_merged_into_idx").on(t.mergedInto),
    index("contacts_workspace_name_idx").on(t.workspaceId, t.name),
    index("contacts_workspace_email_idx").on(t.workspaceId, t.email),
  ],
);

export { CONVERSATION_STATUSES };

export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    contactId: text("contact_id")
      .notNull()
      .references(() => contacts.id, { onDelete: "cascade" }),
    /** Our inbox's address for this thread (E.164, `whatsapp:+E164` or an email address). */
    fromNumber: text("from_number").notNull(),
    channel: text("channel", { enum: INBOX_CHANNELS }).notNull().default("sms"),
    /** The customer's address on this channel (null: the contact's phone, for SMS). */
    customerAddress: text("customer_address"),
    status: text("status", { enum: CONVERSATION_STATUSES }).notNull().default("open"),
    assignedUserId: text("assigned_user_id").references(() => users.id, { onDelete: "set null" }),
    /** A snoozed conversation wakes (back to open) at this time, or when the customer writes. */
    snoozedUntil: integer("snoozed_until"),
    /** The customer's latest text (quiet hours exempt replies within a window after it). */
    lastInboundAt: integer("last_inbound_at"),
    /** When the current episode began (creation, or the last reopening): resolution times run from it. */
    openedAt: integer("opened_at"),
    /** When the away reply last went out (at most once per 12 h per conversation). */
    awaySentAt: integer("away_sent_at"),
    /** The latest campaign that texted this thread (its replies are tagged with it). */
    campaignId: text("campaign_id"),
    /** Highest seq the room has assigned and D1 has recorded. */
    lastSeq: integer("last_seq").notNull().default(0),
    lastMessageId: text("last_message_id"),
    lastMessageAt: integer("last_message_at"),
    /**
     * Whether the conversation's room may have a socket open, or had one within ROOM_GRACE_MS
     * (src/rooms/conversation-room.ts). Set by the room before it accepts a socket, cleared by its
     * alarm after the grace; writers read it in the batch that commits their change and, when it is
     * clear, leave the room out (it has nobody to tell and nothing to keep). New threads start clear;
     * the migration set it on the threads that existed (their rooms may have had sockets open).
     */
    roomListeners: integer("room_listeners", { mode: "boolean" }).notNull().default(false),
    createdAt: timestamp("created_at"),
  },
  (t) => [
    uniqueIndex("conversations_contact_from_uq").on(t.workspaceId, t.contactId, t.fromNumber),
    index("conversations_workspace_recent_idx").on(t.workspaceId, t.lastMessageAt, t.id),
    index("conversations_workspace_assignee_idx").on(t.workspaceId, t.assignedUserId, t.lastMessageAt),
    index("conversations_snoozed_idx").on(t.status, t.snoozedUntil),
  ],
);

export const MESSAGE_DIRECTIONS = ["inbound", "outbound"] as const;
export const MESSAGE_CHANNELS = ["sms", "mms", "whatsapp", "email"] as const;

/** One file of a message: kept in R2 (`key`), or still only at the provider (`url`, until copied). */
export interface MediaItem {
  url: string;
  contentType: string | null;
  attachmentId?: string;
  name?: string;
  size?: number;
}

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    /** Position in the conversation, assigned by its ConversationRoom. */
    seq: integer("seq").notNull(),
    direction: text("direction", { enum: MESSAGE_DIRECTIONS }).notNull(),
    channel: text("channel", { enum: MESSAGE_CHANNELS }).notNull().default("sms"),
    fromNumber: text("from_number").notNull(),
    toNumber: text("to_number").notNull(),
    body: text("body").notNull(),
    /** JSON array of `{url, contentType}`. */
    media: text("media", { mode: "json" }).$type<MediaItem[]>().notNull().default([]),
    /** Email: the subject line, and the HTML part as received (shown sanitised; `body` is its text). */
    subject: text("subject"),
    html: text("html"),
    /** WhatsApp: the approved template sent instead of a free-form body, and its variables. */
    contentSid: text("content_sid"),
    contentVariables: text("content_variables", { mode: "json" }).$type<Record<string, string> | null>(),
    status: text("status", { enum: MESSAGE_STATUSES }).notNull(),
    errorCode: integer("error_code"),
    errorMessage: text("error_message"),
    segments: integer("segments").notNull(),
    encoding: text("encoding", { enum: ["GSM-7", "UCS-2"] }).notNull(),
    /** Twilio's SM…/MM… sid once known. */
    providerSid: text("provider_sid").unique(),
    idempotencyKey: text("idempotency_key"),
    /** SHA-256 of the request that used the key, to answer 409 to a different body. */
    idempotencyHash: text("idempotency_hash"),
    sendAt: integer("send_at"),
    /** Times a consumer took this message (each claim counts, also one that adopted or was paced). */
    attempts: integer("attempts").notNull().default(0),
    /** Why a message is scheduled though nobody scheduled it (e.g. `quiet_hours`). */
    deferredReason: text("deferred_reason"),
    /** Start of the latest attempt whose outcome we do not know (timeout, crash); null when none. */
    attemptStartedAt: integer("attempt_started_at"),
    /** A consumer holds this message until then (two deliveries of one queue message never both send). */
    leaseUntil: integer("lease_until"),
    /** Last time reconciliation asked Twilio about this message (spreads checks over stalled rows). */
    checkedAt: integer("checked_at"),
    /** Who sent it: the user's or API key's id (null for inbound). */
    createdBy: text("created_by"),
    /** user | api_key | campaign | system (null for inbound). */
    sentByType: text("sent_by_type"),
    /** The sender's name when it was sent (kept, as the audit trail of "who sent which SMS"). */
    sentByName: text("sent_by_name"),
    /** The campaign that sent it (outbound), or whose message this is a reply to (inbound). */
    campaignId: text("campaign_id"),
    createdAt: timestamp("created_at"),
    updatedAt: timestamp("updated_at"),
    sentAt: integer("sent_at"),
    deliveredAt: integer("delivered_at"),
    failedAt: integer("failed_at"),
  },
  (t) => [
    uniqueIndex("messages_conversation_seq_uq").on(t.conversationId, t.seq),
    uniqueIndex("messages_workspace_idempotency_uq").on(t.workspaceId, t.idempotencyKey),
    index("messages_status_updated_idx").on(t.status, t.updatedAt),
    index("messages_send_at_idx").on(t.status, t.sendAt),
    index("messages_campaign_idx").on(t.campaignId, t.status),
    // Analytics rollups read a workspace's messages hour by hour.
    index("messages_workspace_created_idx").on(t.workspaceId, t.createdAt),
  ],
);

export const messageEvents = sqliteTable(
  "message_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    messageId: text("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    /** The status this event reported (Twilio's raw status for webhooks). */
    status: text("status").notNull(),
    errorCode: integer("error_code"),
    errorMessage: text("error_message"),
    /** api | queue | webhook | cron | reconcile | dlq */
    source: text("source").notNull(),
    /** Whether the message's stored status moved because of this event. */
    applied: integer("applied", { mode: "boolean" }).notNull().default(true),
    at: timestamp("at"),
  },
  (t) => [index("message_events_message_idx").on(t.messageId, t.id), index("message_events_at_idx").on(t.at)],
);

/**
 * Earlier attempts of an outbound message, closed when a manual retry starts a new one. The message
 * row holds the current attempt (its sid is the one callbacks and reconciliation follow); a late
 * callback for an earlier attempt's sid is recorded as an event without moving the status.
 */
export const messageAttempts = sqliteTable(
  "message_attempts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    messageId: text("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    /** 1 for the first attempt. */
    attempt: integer("attempt").notNull(),
    /** Twilio's sid of this attempt, when it reached Twilio. */
    providerSid: text("provider_sid").unique(),
    /** The status the attempt ended in, and why. */
    status: text("status").notNull(),
    errorCode: integer("error_code"),
    errorMessage: text("error_message"),
    startedAt: integer("started_at"),
    endedAt: integer("ended_at").notNull(),
  },
  (t) => [uniqueIndex("message_attempts_message_uq").on(t.messageId, t.attempt)],
);

export const SUPPRESSION_SOURCES = ["keyword", "twilio", "manual", "import"] as const;

/**
 * Archived messages (src/messaging/archive.ts): the stub a conversation-month leaves in D1 when its
 * messages (with their status events) move to R2 as gzip JSONL. Thread pages read the object back when
 * they reach its seq range; restore inserts the rows again and deletes the stub and the object.
 */
export const messageArchives = sqliteTable(
  "message_archives",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    /** UTC month of its messages, `YYYY-MM`. */
    month: text("month").notNull(),
    firstSeq: integer("first_seq").notNull(),
    lastSeq: integer("last_seq").notNull(),
    firstAt: integer("first_at").notNull(),
    lastAt: integer("last_at").notNull(),
    messages: integer("messages").notNull(),
    inbound: integer("inbound").notNull(),
    outbound: integer("outbound").notNull(),
    /** The R2 object: `archive/<workspace>/<conversation>/<YYYY-MM>.<first>-<last>.jsonl.gz`. */
    key: text("key").notNull(),
    bytes: integer("bytes").notNull(),
    /** Retention has erased the contents of its messages created before this (the object was rewritten). */
    erasedBefore: integer("erased_before"),
    createdAt: timestamp("created_at"),
  },
  (t) => [
    uniqueIndex("message_archives_key_uq").on(t.key),
    index("message_archives_conversation_idx").on(t.conversationId, t.lastSeq),
    index("message_archives_workspace_idx").on(t.workspaceId, t.lastAt),
  ],
);

/**
 * Consent is about a phone number, not a contact row: a workspace's suppression list keyed by E.164.
 * A number on it is never texted (deleting or editing the contact does not lift it); START removes it.
 */
export const suppressions = sqliteTable(
  "suppressions",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    phone: text("phone").notNull(),
    source: text("source", { enum: SUPPRESSION_SOURCES }).notNull(),
    /** The keyword the customer sent (STOP, UNSUBSCRIBE, …) or Twilio's error code as text. */
    keyword: text("keyword"),
    /** The message (sid or our id) that carried the opt-out. */
    reference: text("reference"),
    createdAt: timestamp("created_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.phone] })],
);

export const conversationReads = sqliteTable(
  "conversation_reads",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    lastReadSeq: integer("last_read_seq").notNull(),
    updatedAt: timestamp("updated_at"),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] })],
);

export const notes = sqliteTable(
  "notes",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id").references(() => users.id, { onDelete: "set null" }),
    body: text("body").notNull(),
    /** User ids the note @mentions. */
    mentions: text("mentions", { mode: "json" }).$type<string[]>().notNull().default([]),
    /** Position in the conversation's event order (shared with its messages). */
    seq: integer("seq").notNull().default(0),
    createdAt: timestamp("created_at"),
  },
  (t) => [index("notes_conversation_idx").on(t.conversationId, t.seq)],
);

export const templates = sqliteTable(
  "templates",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    body: text("body").notNull(),
    /** Typed after `/` in the composer to pick it (unique per workspace when set). */
    shortcut: text("shortcut"),
    /** A WhatsApp template approved at Twilio (Content SID, HX…): its `{{1}}`… come from `variables`. */
    contentSid: text("content_sid"),
    createdAt: timestamp("created_at"),
    updatedAt: integer("updated_at"),
  },
  (t) => [
    uniqueIndex("templates_workspace_name_uq").on(t.workspaceId, t.name),
    uniqueIndex("templates_workspace_shortcut_uq").on(t.workspaceId, t.shortcut),
  ],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** user | api_key | system */
    actorType: text("actor_type").notNull(),
    actorId: text("actor_id"),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>(),
    /** The client's address (CF-Connecting-IP) when a request did it. */
    clientIp: text("client_ip"),
    at: timestamp("at"),
  },
  (t) => [index("audit_log_workspace_idx").on(t.workspaceId, t.at)],
);

/** Fixed-window counters for login and signup throttling (key = purpose + subject). */
export const rateLimits = sqliteTable("rate_limits", {
  key: text("key").primaryKey(),
  windowStart: integer("window_start").notNull(),
  count: integer("count").notNull(),
});

/** One row per cron job: when it last ran and succeeded, and its watermark. */
export const jobRuns = sqliteTable("job_runs", {
  name: text("name").primaryKey(),
  lastStartedAt: integer("last_started_at"),
  lastSuccessAt: integer("last_success_at"),
  lastError: text("last_error"),
  /** Job-specific progress marker (e.g. the retention job's purge horizon). */
  watermark: integer("watermark"),
  /** What the last run did, for the operations view. */
  lastResult: text("last_result", { mode: "json" }).$type<Record<string, unknown>>(),
});

/** An invitation to join a workspace: one use, until it expires or is revoked. */
export const invitations = sqliteTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** Stored lower-cased. */
    email: text("email").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    /** SHA-256 (hex) of the token; the token is shown once, to the inviter. */
    tokenHash: text("token_hash").notNull().unique(),
    invitedBy: text("invited_by").references(() => users.id, { onDelete: "set null" }),
    expiresAt: integer("expires_at").notNull(),
    acceptedAt: integer("accepted_at"),
    acceptedBy: text("accepted_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at"),
  },
  (t) => [index("invitations_workspace_idx").on(t.workspaceId, t.createdAt)],
);

/** One-time password reset tokens (hashed). */
export const passwordResets = sqliteTable(
  "password_resets",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
    createdAt: timestamp("created_at"),
  },
  (t) => [index("password_resets_user_idx").on(t.userId)],
);

export const labels = sqliteTable(
  "labels",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** #rrggbb */
    color: text("color").notNull(),
    createdAt: timestamp("created_at"),
  },
  (t) => [uniqueIndex("labels_workspace_name_uq").on(t.workspaceId, t.name)],
);

export const conversationLabels = sqliteTable(
  "conversation_labels",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    labelId: text("label_id")
      .notNull()
      .references(() => labels.id, { onDelete: "cascade" }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.labelId] }), index("conversation_labels_label_idx").on(t.labelId)],
);

export const NOTIFICATION_TYPES = [
  "mention",
  "assigned",
  "inbound_on_mine",
  "campaign_paused",
  "webhook_disabled",
] as const;

/** A user's notification feed, per workspace. */
export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type", { enum: NOTIFICATION_TYPES }).notNull(),
    conversationId: text("conversation_id").references(() => conversations.id, { onDelete: "cascade" }),
    /** user | api_key | system | customer */
    actorType: text("actor_type").notNull(),
    actorId: text("actor_id"),
    actorName: text("actor_name"),
    createdAt: timestamp("created_at"),
    readAt: integer("read_at"),
  },
  (t) => [index("notifications_user_idx").on(t.userId, t.workspaceId, t.createdAt)],
);

export const IMPORT_STATUSES = ["queued", "running", "done", "failed"] as const;

/** A CSV contact import: the file in R2, parsed chunk by chunk by the jobs queue. */
export const imports = sqliteTable(
  "imports",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    status: text("status", { enum: IMPORT_STATUSES }).notNull(),
    /** The object key in FILES. */
    fileKey: text("file_key").notNull(),
    fileBytes: integer("file_bytes").notNull(),
    /** `{target: "Column header"}`: name, phone, email, consent, timezone, fields.<key>. */
    mapping: text("mapping", { mode: "json" }).$type<Record<string, string>>().notNull(),
    defaultCountry: text("default_country").notNull().default("US"),
    /** Label names put on every imported contact (created when missing), besides a `labels` column's. */
    labels: text("labels", { mode: "json" }).$type<string[]>().notNull().default([]),
    /** The header row's columns (read with the first chunk). */
    columns: text("columns", { mode: "json" }).$type<string[]>(),
    /** Bytes of the file done (the next chunk starts here) and rows done. */
    byteOffset: integer("byte_offset").notNull().default(0),
    total: integer("total").notNull().default(0),
    imported: integer("imported").notNull().default(0),
    updated: integer("updated").notNull().default(0),
    skipped: integer("skipped").notNull().default(0),
    errors: text("errors", { mode: "json" }).$type<{ row: number; reason: string }[]>().notNull().default([]),
    failure: text("failure"),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at"),
    updatedAt: integer("updated_at"),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("imports_workspace_idx").on(t.workspaceId, t.createdAt)],
);

/** An export (contacts, or conversation transcripts over a date range), written to R2 by the jobs queue. */
export const exportsTable = sqliteTable(
  "exports",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["contacts", "transcripts"] }).notNull(),
    format: text("format", { enum: ["csv", "json"] }).notNull(),
    rangeFrom: integer("range_from"),
    rangeTo: integer("range_to"),
    status: text("status", { enum: IMPORT_STATUSES }).notNull(),
    fileKey: text("file_key").notNull(),
    rows: integer("rows").notNull().default(0),
    /** SHA-256 of the download token (the link works without a session until expiresAt). */
    tokenHash: text("token_hash").notNull(),
    expiresAt: integer("expires_at").notNull(),
    failure: text("failure"),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at"),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("exports_workspace_idx").on(t.workspaceId, t.createdAt)],
);

/** Labels on a contact itself (imports apply them; audiences and the contacts page filter by them). */
export const contactLabels = sqliteTable(
  "contact_labels",
  {
    contactId: text("contact_id")
      .notNull()
      .references(() => contacts.id, { onDelete: "cascade" }),
    labelId: text("label_id")
      .notNull()
      .references(() => labels.id, { onDelete: "cascade" }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.contactId, t.labelId] }), index("contact_labels_label_idx").on(t.labelId)],
);

export const CAMPAIGN_STATUSES = ["draft", "scheduled", "running", "paused", "completed", "canceled"] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

/** Who a campaign texts: contacts with any of the labels, or listed, narrowed by the filter. */
export interface CampaignAudience {
  labels?: string[];
  contactIds?: string[];
  filter?: { q?: string; fields?: Record<string, string> };
}

/** A bulk send to an audience, fanned out chunk by chunk by the jobs queue (src/messaging/campaigns.ts). */
export const campaigns = sqliteTable(
  "campaigns",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    status: text("status", { enum: CAMPAIGN_STATUSES }).notNull(),
    audience: text("audience", { mode: "json" }).$type<CampaignAudience>().notNull(),
    templateId: text("template_id"),
    body: text("body"),
    /** The sender numbers' ids (recipients are spread over them). */
    numberIds: text("number_ids", { mode: "json" }).$type<string[]>().notNull(),
    sendAt: integer("send_at"),
    /** Why it paused (`opt_out_rate`, or null when a person paused it). */
    pausedReason: text("paused_reason"),
    /** Contacts in the audience when it started (and, for a draft, when it was last saved). */
    audienceCount: integer("audience_count").notNull().default(0),
    /** Fan-out position: the last contact id done, and how many recipients so far. */
    cursor: text("cursor"),
    fannedOut: integer("fanned_out").notNull().default(0),
    fanoutDone: integer("fanout_done", { mode: "boolean" }).notNull().default(false),
    /** Bumped by start, pause, resume and cancel: a fan-out tick of an older generation stops. */
    generation: integer("generation").notNull().default(0),
    tickedAt: integer("ticked_at"),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at"),
    updatedAt: integer("updated_at"),
    startedAt: integer("started_at"),
    completedAt: integer("completed_at"),
    /** Its counts, frozen when its first messages were archived (they then leave D1): src/messaging/archive.ts. */
    archivedCounts: text("archived_counts", { mode: "json" }).$type<Record<string, number>>(),
  },
  (t) => [index("campaigns_workspace_idx").on(t.workspaceId, t.createdAt), index("campaigns_status_idx").on(t.status)],
);

export const RECIPIENT_OUTCOMES = ["message", "skipped_opt_out"] as const;

/** One row per campaign and contact: the primary key is what makes a recipient's message happen at most once. */
export const campaignRecipients = sqliteTable(
  "campaign_recipients",
  {
    campaignId: text("campaign_id")
      .notNull()
      .references(() => campaigns.id, { onDelete: "cascade" }),
    contactId: text("contact_id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    phone: text("phone").notNull(),
    fromNumber: text("from_number"),
    /** The recipient's message (its id is chosen with the row, before the message is created). */
    messageId: text("message_id"),
    outcome: text("outcome", { enum: RECIPIENT_OUTCOMES }).notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.contactId] })],
);

/** Files people attached and media copied in from providers: the object is in R2 under `key`. */
export const attachments = sqliteTable(
  "attachments",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** Set once a message uses it (inbound copies are born with it). */
    messageId: text("message_id"),
    key: text("key").notNull(),
    name: text("name").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at"),
  },
  (t) => [
    index("attachments_workspace_idx").on(t.workspaceId, t.createdAt),
    index("attachments_message_idx").on(t.messageId),
  ],
);

/** Integration webhooks: where a workspace's events go (signed per Standard Webhooks). */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    /** Event types it wants (`["*"]`: all). */
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    /** The `whsec_…` signing secret, sealed with CREDENTIALS_KEY (shown once, at creation). */
    secret: text("secret").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason"),
    /** When its deliveries started failing with no success since (null: healthy). */
    failingSince: integer("failing_since"),
    lastSuccessAt: integer("last_success_at"),
    createdAt: timestamp("created_at"),
  },
  (t) => [index("webhook_endpoints_workspace_idx").on(t.workspaceId)],
);

/** Every attempt to deliver one event to one endpoint, and its outcome (the delivery log). */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    /** The event's id (`webhook-id`): the same for every attempt and every redelivery, so receivers dedupe. */
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    payload: text("payload").notNull(),
    /** pending | retrying | succeeded | failed */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    nextAttemptAt: integer("next_attempt_at"),
    createdAt: timestamp("created_at"),
    deliveredAt: integer("delivered_at"),
  },
  (t) => [
    index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.createdAt),
    uniqueIndex("webhook_deliveries_event_endpoint_uq").on(t.eventId, t.endpointId),
  ],
);

/**
 * Alerts: a condition on a workspace's delivery (see src/messaging/alerts.ts), opened once while it
 * holds (one open alert per kind and subject) and resolved when it clears.
 */
export const alerts = sqliteTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ALERT_KINDS }).notNull(),
    /** What it is about within the kind ("" for the workspace; a sender number for carrier filtering). */
    subject: text("subject").notNull().default(""),
    status: text("status", { enum: ["open", "resolved"] })
      .notNull()
      .default("open"),
    /** The figures that opened it, updated while it stays open. */
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    openedAt: integer("opened_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    resolvedAt: integer("resolved_at"),
  },
  (t) => [
    uniqueIndex("alerts_open_uq").on(t.workspaceId, t.kind, t.subject).where(sql`status = 'open'`),
    index("alerts_workspace_idx").on(t.workspaceId, t.openedAt),
  ],
);

/** Every resolution of a conversation (append-only): the source rows of resolution times. */
export const conversationResolutions = sqliteTable(
  "conversation_resolutions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    inbox: text("inbox").notNull(),
    agentId: text("agent_id"),
    openedAt: integer("opened_at").notNull(),
    resolvedAt: integer("resolved_at").notNull(),
  },
  (t) => [index("conversation_resolutions_workspace_idx").on(t.workspaceId, t.resolvedAt)],
);

/** The figures an analytics rollup row carries (hourly and daily alike). */
function rollupFigures() {
  return {
    inbound: integer("inbound").notNull().default(0),
    outbound: integer("outbound").notNull().default(0),
    delivered: integer("delivered").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    segments: integer("segments").notNull().default(0),
    firstResponses: integer("first_responses").notNull().default(0),
    resolutions: integer("resolutions").notNull().default(0),
    // The first-response and resolution histograms, one integer column per bucket (src/messaging/analytics.ts
    // BUCKETS_MS, then "longer"): a report sums plain integers instead of parsing JSON per row.
    fr0: integer("fr_0").notNull().default(0),
    fr1: integer("fr_1").notNull().default(0),
    fr2: integer("fr_2").notNull().default(0),
    fr3: integer("fr_3").notNull().default(0),
    fr4: integer("fr_4").notNull().default(0),
    fr5: integer("fr_5").notNull().default(0),
    fr6: integer("fr_6").notNull().default(0),
    fr7: integer("fr_7").notNull().default(0),
    fr8: integer("fr_8").notNull().default(0),
    fr9: integer("fr_9").notNull().default(0),
    rs0: integer("rs_0").notNull().default(0),
    rs1: integer("rs_1").notNull().default(0),
    rs2: integer("rs_2").notNull().default(0),
    rs3: integer("rs_3").notNull().default(0),
    rs4: integer("rs_4").notNull().default(0),
    rs5: integer("rs_5").notNull().default(0),
    rs6: integer("rs_6").notNull().default(0),
    rs7: integer("rs_7").notNull().default(0),
    rs8: integer("rs_8").notNull().default(0),
    rs9: integer("rs_9").notNull().default(0),
  };
}

/**
 * Hourly rollups for the analytics dashboard, per workspace, hour, inbox, agent and channel: recomputed
 * from the source rows (messages, resolutions), so a rollup can always be rebuilt and a recompute is
 * idempotent. Response and resolution times are kept as histograms (see src/messaging/analytics.ts).
 */
export const analyticsHourly = sqliteTable(
  "analytics_hourly",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    hour: integer("hour").notNull(),
    inbox: text("inbox").notNull(),
    agentId: text("agent_id").notNull(),
    channel: text("channel").notNull(),
    ...rollupFigures(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.hour, t.inbox, t.agentId, t.channel] })],
);

/** The same figures per UTC day, summed from the hourly rows whenever one of the day's hours is rebuilt. */
export const analyticsDaily = sqliteTable(
  "analytics_daily",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    day: integer("day").notNull(),
    inbox: text("inbox").notNull(),
    agentId: text("agent_id").notNull(),
    channel: text("channel").notNull(),
    ...rollupFigures(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.day, t.inbox, t.agentId, t.channel] })],
);

/** Failed and undelivered messages per hour, inbox and error code. */
export const analyticsErrors = sqliteTable(
  "analytics_errors",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    hour: integer("hour").notNull(),
    inbox: text("inbox").notNull(),
    errorCode: integer("error_code").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.hour, t.inbox, t.errorCode] })],
);

/**
 * The shard directory (src/db/shards.ts): which D1 binding holds each workspace's rows. Lives in the
 * primary database; no foreign key, so a workspace's directory row outlives a move of its data.
 */
export const workspaceShards = sqliteTable("workspace_shards", {
  workspaceId: text("workspace_id").primaryKey(),
  shard: text("shard").notNull(),
  placedAt: integer("placed_at").notNull(),
});
