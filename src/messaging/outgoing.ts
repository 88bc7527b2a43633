/**
 * One stored outbound message in its channel's terms (src/channels/types.ts Outgoing): the files as
 * links the provider can fetch (signed, expiring), and for email the threading headers of the
 * conversation so the customer's mail client keeps the thread.
 */
import { messageIdOfSid } from "../channels/email";
import type { Channel, Outgoing } from "../channels/types";
import type { Db } from "../db/client";
import { inboundEmailIds } from "../db/queries/messages";
import type { messages } from "../db/schema";
import { signLink } from "../security/sealed";
import { statusCallbackUrl } from "./handover-urls";

type MessageRow = typeof messages.$inferSelect;

/** How long a provider may take to fetch a file it was given (Twilio fetches within minutes; queues retry for hours). */
export const MEDIA_LINK_TTL_MS = 24 * 60 * 60 * 1000;

/** A link to an attachment's bytes that needs no session: `/media/:id?expires&sig`. */
export async function mediaLink(env: Env, attachmentId: string, now = Date.now()): Promise<string> {
  const base = env.PUBLIC_BASE_URL.replace(/\/$/, "");
  return `${base}${await signLink(env, `/media/${attachmentId}`, now + MEDIA_LINK_TTL_MS)}`;
}

export async function outgoingFor(env: Env, db: Db, msg: MessageRow, channel: Channel): Promise<Outgoing> {
  const media = await Promise.all(
    msg.media.map(async (m) => ({
      url: m.attachmentId ? await mediaLink(env, m.attachmentId) : m.url,
      contentType: m.contentType,
      name: m.name,
    })),
  );
  const out: Outgoing = {
    messageId: msg.id,
    from: msg.fromNumber,
    to: msg.toNumber,
    body: msg.body,
    subject: msg.subject ?? null,
    media,
    contentSid: msg.contentSid ?? null,
    contentVariables: msg.contentVariables ?? undefined,
    statusCallback: statusCallbackUrl(env, msg.id, msg.conversationId),
  };
  if (channel.capabilities.subject) {
    const ids = (await inboundEmailIds(db, msg.conversationId)).map(messageIdOfSid);
    if (ids.length > 0) {
      out.inReplyTo = ids[0] ?? null;
      out.references = ids.reverse();
    }
  }
  return out;
}
