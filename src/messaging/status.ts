/**
 * Status: every report about an outbound message (the send call's answer, a status callback, a
 * reconciliation fetch, our own failure verdicts) is recorded as an event and moves the status only
 * forward (invariant 3), through the conversation's room — or, for a queue batch's results, all in one
 * D1 round trip (StatusBatch) whose frames the rooms then log and broadcast. 21610 also suppresses the number.
 */

import { describeProviderError } from "../channels/describe";
import { mapEmailEvent } from "../channels/email/events";
import { EMAIL_ERROR } from "../channels/email/resend";
import { describeTwilioError } from "../channels/twilio/error-codes";
import type { Sent } from "../channels/types";
import type { Db } from "../db/client";
import { addCount, type D1Count } from "../db/counted";
import { optOutRecipient } from "../db/queries/contacts";
import {
  findEarlierAttemptBySid,
  findStatusTarget,
  getMessageByProviderSid,
  recordReport,
  recordStatusChanges,
  recordUnappliedEvent,
  type StatusChange,
  statusChangeStatements,
} from "../db/queries/messages";
import type { MessageStatus, messages } from "../db/schema";
import { fromTwilioStatus } from "../domain/status";
import { log } from "../log";
import { type ConversationRoom, roomFor } from "../rooms/conversation-room";
import { publishConversation } from "../rooms/inbox-stream";
import { emitEvent, statusEventData } from "./events";

type MessageRow = typeof messages.$inferSelect;

/** Where a verdict on a message goes: straight through its room, or into a queue batch's one write. */
export type StatusSink = (msg: MessageRow, change: StatusChange) => Promise<void>;

/** Each verdict through its conversation's room (its own D1 round trip): single handovers, the DLQ, reconciliation. */
export function throughRoom(env: Env): StatusSink {
  return async (msg, change) => {
    await roomFor(env, msg.conversationId).applyStatus(change);
  };
}

/**
 * A queue batch's verdicts, written together: `sink` collects them, `flush` records them all in one D1
 * round trip (the statements a room would run, each status moving only forward, each moved one taking
 * its conversation's next seq in D1) and then hands each room its frames, which it logs and broadcasts
 * in seq order (ConversationRoom.deliverCommitted). Nothing is acked before `flush` has returned.
 */
export class StatusBatch {
  private readonly items: { msg: MessageRow; change: StatusChange }[] = [];
  readonly sink: StatusSink = async (msg, change) => {
    this.items.push({ msg, change });
  };

  /** Whether a verdict on this message waits in the batch. */
  has(messageId: string): boolean {
    return this.items.some((i) => i.msg.id === messageId);
  }

  /** Writes the verdicts (throws when D1 refused them: nothing of them is stored), then tells the rooms. */
  async flush(env: Env, d1: D1Database): Promise<void> {
    if (this.items.length === 0) return;
    const { results, integrations, listening } = await recordStatusChanges(
      d1,
      this.items.map(({ msg, change }) => ({
        conversationId: msg.conversationId,
        messageId: msg.id,
        statements: statusChangeStatements(d1, change),
      })),
    );
    const committed: CommittedStatus[] = [];
    results.forEach((recorded, i) => {
      const item = this.items[i];
      if (!recorded || !item) return;
      const workspaceId = recorded.moved.workspaceId;
      committed.push({
        conversationId: item.msg.conversationId,
        recorded,
        at: item.change.at,
        integrations: integrations.has(workspaceId),
        inbox: listening.has(workspaceId),
      });
    });
    await announceCommitted(env, committed);
  }
}

type CommittedStatus = Parameters<ConversationRoom["deliverCommitted"]>[0][number] & { conversationId: string };

/**
 * Status changes D1 committed outside the rooms, announced: each conversation's through its room (one
 * call with all of them), which logs and broadcasts them in seq order and emits their integration
 * events. A room that nobody has open (its flag read in the same batch: see conversations.room_listeners)
 * is left out; its integration events are emitted here, and the inbox stream is told if anyone has
 * the inbox open.
 */
async function announceCommitted(env: Env, committed: CommittedStatus[]): Promise<void> {
  const byRoom = new Map<string, CommittedStatus[]>();
  for (const change of committed) {
    byRoom.set(change.conversationId, [...(byRoom.get(change.conversationId) ?? []), change]);
  }
  await Promise.all(
    [...byRoom].map(async ([conversationId, changes]) => {
      if (changes.some((c) => c.recorded.room)) {
        await roomFor(env, conversationId)
          .deliverCommitted(changes.map(({ conversationId: _, ...change }) => change))
          .catch((err: unknown) =>
            // Stored in D1 all the same; the room skips the seqs it never got (see GAP_WAIT_MS).
            log("warn", "could not hand a room its frames", { conversationId, error: String(err) }),
          );
        return;
      }
      for (const { recorded, at, integrations } of changes) {
        if (integrations) {
          await emitEvent(
            env,
            recorded.moved.workspaceId,
            "message.status",
            statusEventData(recorded.moved, at, conversationId),
          );
        }
      }
      const told = changes.find((c) => c.inbox);
      if (told) await publishConversation(env, told.recorded.moved.workspaceId, conversationId);
    }),
  );
}

/** Records what a provider answered about the message (its id for it, the status, an error). */
export async function recordSent(
  env: Env,
  msg: MessageRow,
  sent: Sent,
  source: "queue" | "reconcile" | "dlq",
  sink: StatusSink = throughRoom(env),
) {
  await sink(msg, {
    messageId: msg.id,
    status: fromTwilioStatus(sent.status) ?? "queued",
    rawStatus: sent.status,
    providerSid: sent.providerSid,
    errorCode: sent.errorCode ?? null,
    errorMessage: sent.errorMessage ?? describeProviderError(sent.errorCode),
    source,
    at: Date.now(),
  });
}

export async function markFailed(
  env: Env,
  db: Db,
  msg: MessageRow,
  code: number | null,
  message: string,
  source: "queue" | "dlq",
  sink: StatusSink = throughRoom(env),
): Promise<void> {
  await sink(msg, {
    messageId: msg.id,
    status: "failed",
    errorCode: code,
    errorMessage: message,
    source,
    at: Date.now(),
  });
  if (code === 21610) await optOutRecipient(db, msg);
}

/** A status report as Twilio's callback carries it, with our message id from the callback URL. */
export interface StatusReport {
  mid: string | null;
  MessageSid: string;
  MessageStatus: string;
  ErrorCode?: number;
  ErrorMessage?: string;
  /** The Twilio account that signed the report (the deployment's when absent). */
  account?: string;
  /** Our conversation id from the callback URL (sent since callbacks carry it; absent on older ones). */
  cid?: string | null;
}

/** The status change a Twilio report asks for (Twilio's raw status kept for the event log). */
function reportChange(
  messageId: string,
  status: MessageStatus,
  input: StatusReport,
): StatusChange & { errorCode: number | null; at: number } {
  const errorCode = input.ErrorCode ?? null;
  return {
    messageId,
    status,
    rawStatus: input.MessageStatus,
    errorCode,
    errorMessage: errorCode === null ? null : (input.ErrorMessage ?? describeTwilioError(errorCode)),
    providerSid: input.MessageSid,
    source: "webhook",
    at: Date.now(),
  };
}

/**
 * The common case in one D1 round trip: a report on a message whose id and conversation the callback
 * URL names. The guards the full path checks by reading first (an outbound message of that
 * conversation, this sid or none yet, the inbox's account) are part of the statements, and the room
 * only logs and broadcasts what D1 recorded (as for a queue batch). False when the guards did not
 * hold (nothing was written): the full path then looks the message up and decides.
 */
async function applyReportDirectly(
  ctx: { env: Env; db: Db },
  input: StatusReport & { mid: string; cid: string },
): Promise<boolean> {
  const status = fromTwilioStatus(input.MessageStatus);
  if (!status) return false;
  const change = reportChange(input.mid, status, input);
  const { errorCode, at } = change;
  const result = await recordReport(ctx.db.$client, {
    ...change,
    report: {
      conversationId: input.cid,
      sid: input.MessageSid,
      account: input.account ?? null,
      deploymentAccount: ctx.env.TWILIO_ACCOUNT_SID,
    },
  });
  if (!result.matched) return false;
  if (result.recorded) {
    await announceCommitted(ctx.env, [
      {
        conversationId: input.cid,
        recorded: result.recorded,
        at,
        integrations: result.integrations,
        inbox: result.listening,
      },
    ]);
  }
  if (errorCode === 21610) {
    await optOutRecipient(ctx.db, result.message);
    await emitEvent(ctx.env, result.message.workspaceId, "contact.opted_out", {
      phone: result.message.toNumber,
      source: "twilio_21610",
    });
  }
  return true;
}

/**
 * A status callback: matched by our message id (`mid`, so a callback that beats the send call's
 * answer still matches) or by sid; recorded as an event, and the status moves only forward. A late
 * report of an attempt that a retry replaced is kept as an event that moves nothing.
 */
export async function applyStatusReport(
  ctx: { env: Env; db: Db; count?: D1Count },
  input: StatusReport,
): Promise<void> {
  const db = ctx.db;
  if (input.mid && input.cid && (await applyReportDirectly(ctx, { ...input, mid: input.mid, cid: input.cid }))) return;
  // One query: the message (by our id, else by sid), and whether the sid was an earlier attempt's.
  const target = await findStatusTarget(db, input.mid, input.MessageSid);
  const msg = target?.message;
  if (!msg || msg.providerSid !== input.MessageSid) {
    // After a manual retry the message follows its new attempt; the old attempt's late reports are
    // kept as events and move nothing.
    const earlier = target?.earlierAttempt ? await findEarlierAttemptBySid(db, input.MessageSid) : undefined;
    if (earlier && (!msg || earlier.messageId === msg.id)) {
      await recordUnappliedEvent(db, {
        workspaceId: earlier.workspaceId,
        messageId: earlier.messageId,
        status: input.MessageStatus,
        errorCode: input.ErrorCode ?? null,
        errorMessage: `report for attempt ${earlier.attempt} (${input.MessageSid}), which a retry replaced`,
        source: "webhook",
        at: Date.now(),
      });
      return;
    }
  }
  if (msg?.direction !== "outbound") {
    log("warn", "status callback for an unknown message", { sid: input.MessageSid, mid: input.mid });
    return;
  }
  if (input.account !== undefined && (target?.inboxAccountSid ?? ctx.env.TWILIO_ACCOUNT_SID) !== input.account) {
    // Signed by a Twilio account, but not the one this message's inbox sends with: it moves nothing.
    log("warn", "status callback from another account ignored", { messageId: msg.id, sid: input.MessageSid });
    return;
  }
  if (msg.providerSid && msg.providerSid !== input.MessageSid) {
    log("warn", "status callback sid does not match the message", { messageId: msg.id, sid: input.MessageSid });
    return;
  }
  const status = fromTwilioStatus(input.MessageStatus);
  if (!status) {
    log("info", "status callback with an untracked status", { messageId: msg.id, status: input.MessageStatus });
    return;
  }
  const change = reportChange(msg.id, status, input);
  const { errorCode } = change;
  const result = await roomFor(ctx.env, msg.conversationId).applyStatus(change);
  addCount(ctx.count, result.d1);
  if (errorCode === 21610) {
    await optOutRecipient(db, msg);
    await emitEvent(ctx.env, msg.workspaceId, "contact.opted_out", { phone: msg.toNumber, source: "twilio_21610" });
  }
  return;
}

/**
 * A delivery event of an email (Resend's webhooks, already verified): the message by its provider id,
 * the status moved forward through its room like any report; events that move nothing (delayed,
 * opened, complained) are kept as events.
 */
export async function applyEmailEvent(
  env: Env,
  db: Db,
  event: { type: string; emailId: string; detail: string | null },
): Promise<"applied" | "noted" | "unknown"> {
  const msg = await getMessageByProviderSid(db, event.emailId);
  if (msg?.direction !== "outbound") {
    log("warn", "email event for an unknown message", { emailId: event.emailId, type: event.type });
    return "unknown";
  }
  const mapped = mapEmailEvent(event.type);
  if (!mapped) {
    await recordUnappliedEvent(db, {
      workspaceId: msg.workspaceId,
      messageId: msg.id,
      status: event.type.replace(/^email\./, ""),
      errorCode: event.type === "email.complained" ? EMAIL_ERROR.complained : null,
      errorMessage: event.detail,
      source: "webhook",
      at: Date.now(),
    });
    return "noted";
  }
  await roomFor(env, msg.conversationId).applyStatus({
    messageId: msg.id,
    status: mapped.status,
    rawStatus: event.type,
    errorCode: mapped.errorCode,
    errorMessage: mapped.errorCode === null ? null : (event.detail ?? describeProviderError(mapped.errorCode)),
    source: "webhook",
    at: Date.now(),
  });
  return "applied";
}
