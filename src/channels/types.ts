/**
 * The channel interface: everything the messaging core needs to know about a channel, and nothing of
 * a provider's wire format. One folder per channel implements it; src/channels/registry.ts lists them.
 */
import type { ChannelKind } from "../shared/channels";
import type { CreateMessageParams } from "./twilio/client";

export type { ChannelKind };

export interface ChannelCapabilities {
  /** Files with a message, how many, how large in all, and of which types ("any": no list). */
  media: { max: number; maxTotalBytes: number; types: readonly string[] | "any" } | null;
  /** Approved templates (WhatsApp's Content SIDs). */
  templates: boolean;
  /** Free-form messages only within this long of the customer's last message (WhatsApp: 24 h). */
  sessionWindowMs: number | null;
  /** The provider reports `read`. */
  readReceipts: boolean;
  /** Messages have a subject line (email). */
  subject: boolean;
  /** The longest body. */
  maxBodyChars: number;
  /** Bodies are split into billed segments (SMS); otherwise one message is one unit. */
  segmented: boolean;
}

/** An inbox as the core hands it to its channel (credentials still sealed). */
export interface InboxRecord {
  id: string;
  workspaceId: string;
  channel: ChannelKind;
  address: string;
  accountSid: string | null;
  credentials: string | null;
}

/** One outbound message in the channel's terms. */
export interface Outgoing {
  messageId: string;
  from: string;
  to: string;
  body: string;
  subject: string | null;
  /** Files, with URLs the provider can fetch (signed, expiring) or the bytes' R2 keys. */
  media: { url: string; contentType: string | null; name?: string; key?: string }[];
  /** A template approved at the provider, with its variables. */
  contentSid?: string | null;
  contentVariables?: Record<string, string>;
  statusCallback: string;
  /** Email threading: the Message-ID this answers, and the thread's earlier ones. */
  inReplyTo?: string | null;
  references?: string[];
}

/** What the provider answered to a send: its id for the message and the status it reports. */
export interface Sent {
  providerSid: string;
  /** The provider's word for the status (mapped onto Parley's by fromTwilioStatus' vocabulary). */
  status: string;
  errorCode?: number | null;
  errorMessage?: string | null;
}

interface ChannelBase {
  kind: ChannelKind;
  label: string;
  capabilities: ChannelCapabilities;
  /** Our inbox's address on this channel from what an admin typed; null when it is not one. */
  inboxAddress(raw: string): string | null;
  /** The customer's address for a contact on this channel; null when the contact has none. */
  customerAddress(contact: { phone: string; email: string | null }): string | null;
  /** The contact a customer's address belongs to (their phone, or their email); null when it is not one. */
  contactKey(address: string): { phone: string } | { email: string } | null;
}

/** Channels carried by Twilio's Messages API (SMS/MMS, WhatsApp): the core's paced, adoptable path. */
export interface TwilioChannel extends ChannelBase {
  provider: "twilio";
  toTwilio(out: Outgoing): CreateMessageParams;
}

/** Channels whose provider takes an idempotency key, so a redelivered send never sends twice. */
export interface DirectChannel extends ChannelBase {
  provider: "direct";
  send(env: Env, inbox: InboxRecord, out: Outgoing): Promise<Sent>;
}

export type Channel = TwilioChannel | DirectChannel;
