/**
 * POST /webhooks/twilio/status: a delivery report. Matched by our message id (`mid` in the
 * StatusCallback URL, so a callback that beats the send call's response still matches) or by sid;
 * every report is recorded as an event, and the status only moves forward (invariant 3).
 */

import type { Context } from "hono";
import { z } from "zod";
import { addCount } from "../db/counted";
import { optOutRecipient } from "../db/queries/contacts";
import { findEarlierAttemptBySid, findStatusTarget, recordUnappliedEvent } from "../db/queries/messages";
import { fromTwilioStatus } from "../domain/status";
import { ApiError } from "../http/errors";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { describeTwilioError } from "../twilio/error-codes";
import { EMPTY_TWIML, twimlResponse } from "./twiml";
import { firstValues, type WebhookEnv } from "./verify";

const StatusSchema = z.object({
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, "not a Twilio message sid"),
  MessageStatus: z.string().min(1).max(32),
  ErrorCode: z.coerce.number().int().optional().catch(undefined),
  ErrorMessage: z.string().max(500).optional(),
});

export async function handleStatus(c: Context<WebhookEnv>): Promise<Response> {
  const parsed = StatusSchema.safeParse(firstValues(c.get("twilioParams")));
  if (!parsed.success) {
    log("warn", "status webhook with invalid parameters", { issues: parsed.error.issues.map((i) => i.path.join(".")) });
    throw new ApiError(400, "invalid_webhook", "The status webhook's parameters are not valid.");
  }
  const input = parsed.data;
  const db = c.get("db");
  const mid = c.req.query("mid");
  // One query: the message (by our id, else by sid), and whether the sid was an earlier attempt's.
  const target = await findStatusTarget(db, mid ?? null, input.MessageSid);
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
      return twimlResponse(EMPTY_TWIML);
    }
  }
  if (msg?.direction !== "outbound") {
    log("warn", "status callback for an unknown message", { sid: input.MessageSid, mid });
    return twimlResponse(EMPTY_TWIML);
  }
  if (msg.providerSid && msg.providerSid !== input.MessageSid) {
    log("warn", "status callback sid does not match the message", { messageId: msg.id, sid: input.MessageSid });
    return twimlResponse(EMPTY_TWIML);
  }
  const status = fromTwilioStatus(input.MessageStatus);
  if (!status) {
    log("info", "status callback with an untracked status", { messageId: msg.id, status: input.MessageStatus });
    return twimlResponse(EMPTY_TWIML);
  }
  const errorCode = input.ErrorCode ?? null;
  const result = await roomFor(c.env, msg.conversationId).applyStatus(msg.conversationId, {
    messageId: msg.id,
    status,
    rawStatus: input.MessageStatus,
    errorCode,
    errorMessage: errorCode === null ? null : (input.ErrorMessage ?? describeTwilioError(errorCode)),
    providerSid: input.MessageSid,
    source: "webhook",
    at: Date.now(),
  });
  addCount(c.get("d1Count"), result.d1);
  if (errorCode === 21610) await optOutRecipient(db, msg);
  return twimlResponse(EMPTY_TWIML);
}
