/**
 * Receive an email (the Worker's email() handler, after Email Routing): routed to the inbox at the
 * envelope's `to`, deduplicated by Message-ID per inbox, threaded by In-Reply-To / References (ours
 * are `<msg_…@inbox-domain>`) or else into the contact's conversation with that inbox, its files kept
 * in R2, then appended through the conversation's room like any message. Automatic replies are
 * dropped; a bounce fails the message it reports on.
 */
import { inboundEmailSid, normalizeEmail, parleyMessageId } from "../channels/email";
import type { ParsedEmail } from "../channels/email/inbound";
import { EMAIL_ERROR } from "../channels/email/resend";
import { createDb } from "../db/client";
import { ensureEmailThread, getConversation } from "../db/queries/conversations";
import { findInboxByAddress } from "../db/queries/inboxes";
import { findEmailThread, getMessageById, getMessageByProviderSid } from "../db/queries/messages";
import type { MediaItem } from "../db/schema";
import { newId } from "../domain/ids";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { MAX_EMAIL_BODY_CHARS, MAX_SUBJECT_CHARS } from "../shared/limits";
import { cleanName, keepFile } from "./attachments";
import { emitEvent } from "./events";
import { notify } from "./notify";

export type EmailOutcome =
  | { outcome: "stored"; messageId: string; conversationId: string }
  | { outcome: "duplicate" | "auto_reply" | "bounce_recorded" | "bounce_unmatched" }
  | { outcome: "no_inbox" };

export async function receiveEmail(env: Env, envelopeTo: string, email: ParsedEmail): Promise<EmailOutcome> {
  const db = createDb(env.DB);
  const to = normalizeEmail(envelopeTo) ?? envelopeTo.toLowerCase();
  const inbox = await findInboxByAddress(db, to);
  if (inbox?.channel !== "email") {
    log("warn", "email for an address no inbox has", { to });
    return { outcome: "no_inbox" };
  }

  if (email.kind === "bounce") {
    const ours = email.bouncedMessageId ? await getMessageById(db, email.bouncedMessageId) : undefined;
    if (!ours || ours.workspaceId !== inbox.workspaceId || ours.direction !== "outbound") {
      log("warn", "a bounce that names none of our messages", { to });
      return { outcome: "bounce_unmatched" };
    }
    await roomFor(env, ours.conversationId).applyStatus({
      messageId: ours.id,
      status: "undelivered",
      rawStatus: "bounced",
      errorCode: EMAIL_ERROR.bounced,
      errorMessage: "The email bounced: the recipient's server did not accept it",
      source: "webhook",
      at: Date.now(),
    });
    return { outcome: "bounce_recorded" };
  }
  if (email.kind === "auto_reply") {
    // Out-of-office and other automatic answers would reopen threads and page people for nothing.
    log("info", "automatic reply ignored", { to });
    return { outcome: "auto_reply" };
  }

  const sid = inboundEmailSid(inbox.id, email.messageId);
  if (await getMessageByProviderSid(db, sid)) return { outcome: "duplicate" };

  // Thread: a Message-ID it answers (ours or the customer's earlier one), else the contact's thread here.
  const ours = email.refs.map(parleyMessageId).filter((id): id is string => id !== null);
  const theirs = email.refs.map((ref) => inboundEmailSid(inbox.id, ref));
  let conversationId = await findEmailThread(db, inbox.workspaceId, inbox.address, ours, theirs);
  let created = false;
  if (!conversationId) {
    const { conversation } = await ensureEmailThread(
      db,
      inbox.workspaceId,
      email.from,
      inbox.address,
      email.fromName,
      () => ({
        contact: newId("ct"),
        conversation: newId("cv"),
      }),
    );
    conversationId = conversation.id;
    created = conversation.lastSeq === 0;
  }

  const id = newId("msg");
  const media: MediaItem[] = [];
  for (const file of email.attachments) {
    const contentType = file.contentType.toLowerCase() || "application/octet-stream";
    media.push(
      await keepFile(env, db, {
        workspaceId: inbox.workspaceId,
        name: cleanName(file.name, contentType),
        contentType,
        bytes: file.bytes,
        createdBy: null,
        messageId: id,
      }),
    );
  }
  const result = await roomFor(env, conversationId).appendMessage(
    {
      id,
      workspaceId: inbox.workspaceId,
      conversationId,
      direction: "inbound",
      channel: "email",
      fromNumber: email.from,
      toNumber: inbox.address,
      body: email.text.slice(0, MAX_EMAIL_BODY_CHARS),
      subject: email.subject.slice(0, MAX_SUBJECT_CHARS) || null,
      html: email.html,
      media,
      status: "received",
      segments: 1,
      encoding: "UCS-2",
      providerSid: sid,
      createdAt: Date.now(),
    },
    { reopen: true },
  );
  if (result.outcome === "duplicate") return { outcome: "duplicate" };
  if (created) await emitEvent(env, inbox.workspaceId, "conversation.created", { conversationId });
  await emitEvent(env, inbox.workspaceId, "message.received", { message: result.message });
  // The assignee hears of a reply on their conversation, as for a text.
  const conversation = await getConversation(db, inbox.workspaceId, conversationId);
  if (conversation?.assignedUserId) {
    await notify(env, db, {
      workspaceId: inbox.workspaceId,
      userId: conversation.assignedUserId,
      type: "inbound_on_mine",
      conversationId,
      actor: { type: "customer", id: conversation.contactId, name: email.fromName ?? email.from },
    }).catch((err: unknown) => log("warn", "inbound email notification failed", { error: String(err) }));
  }
  return { outcome: "stored", messageId: result.message.id, conversationId };
}
