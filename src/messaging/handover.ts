/**
 * Handover: one outbound message from our outbox to Twilio (the queue consumer, the DLQ and
 * reconciliation call it). For each message:
 *   load → skip unless still pending → refuse suppressed numbers and removed senders → take the
 *   lease (so two deliveries of one queue message never both send) → ask the breaker → if an earlier
 *   attempt's outcome is unknown, look it up at Twilio and adopt it → POST Messages.json (through the
 *   sender's pacer when it has a rate) → record sid and status (through the room, or into the queue
 *   batch's one D1 write: see StatusBatch).
 * Permanent Twilio errors mark the message failed; retryable ones retry with backoff; the DLQ
 * consumer handles what runs out of retries.
 */

import { twilioConfigFor } from "../channels/credentials";
import { describeProviderError } from "../channels/describe";
import { isProviderError, type ProviderError } from "../channels/errors";
import { channelFor } from "../channels/registry";
import { findAdoptable, sentFromTwilio, TwilioClient, twilioConfigFromEnv } from "../channels/twilio/client";
import type { TwilioMessage } from "../channels/twilio/schemas";
import type { DirectChannel, InboxRecord } from "../channels/types";
import { createDb, type Db } from "../db/client";
import {
  type ClaimedForHandover,
  claimForHandover,
  holdStatements,
  releaseMessage,
  storedSids,
} from "../db/queries/messages";
import type { messages } from "../db/schema";
import { log, maskPhone } from "../log";
import { pacedError, pacerFor } from "../rooms/sender-pacer";
import { type Admission, breakerFor, isOutage } from "../rooms/twilio-breaker";
import { backoffSeconds, enqueueOutbound } from "./outbox";
import { outgoingFor } from "./outgoing";
import { markFailed, recordSent, type StatusSink, throughRoom } from "./status";

/** Longer than a pacing wait plus one Twilio call (ky timeout) and the D1 writes around them. */
export const LEASE_MS = 45_000;
/** Twilio 429s a message may sit out without spending retries (then they count, and the DLQ ends it). */
export const MAX_THROTTLE_DEFERRALS = 20;
/** The longest a consumer waits for its sender's next slot before handing the message back to the queue. */
export const PACE_MAX_WAIT_MS = 15_000;
/** A campaign's batch (up to 100 messages over its numbers) may wait longer: it is bulk, and nobody waits on it. */
export const BULK_PACE_MAX_WAIT_MS = 30_000;

export type Decision = { action: "ack"; outcome: string } | { action: "retry"; delaySeconds: number; outcome: string };

type MessageRow = typeof messages.$inferSelect;

export { statusCallbackUrl } from "./handover-urls";

/**
 * An earlier attempt may have created the message at Twilio (timeout, crash, 5xx): list the account's
 * messages To/From created since the attempt began (minus a minute of clock slack), and return the
 * one to adopt (same body, no other message's sid, closest to the attempt's start; see findAdoptable).
 */
export async function lookUpEarlierAttempt(
  client: TwilioClient,
  d1: D1Database,
  msg: MessageRow,
  attemptStartedAt: number,
) {
  const candidates = await client.listMessagesSince({
    to: msg.toNumber,
    from: msg.fromNumber,
    createdAfter: attemptStartedAt - 60_000,
  });
  const sameBody = candidates.filter((m) => (m.body ?? "") === msg.body);
  if (sameBody.length === 0) return undefined;
  const takenSids = await storedSids(
    d1,
    sameBody.map((m) => m.sid),
    msg.id,
  );
  return findAdoptable(sameBody, {
    to: msg.toNumber,
    from: msg.fromNumber,
    body: msg.body,
    attemptStartedAt,
    takenSids,
  });
}

/** One message's handover (tests, and anything that has a single message): load and claim, then hand over. */
export async function processOutbound(
  env: Env,
  messageId: string,
  attempt: number,
  client?: TwilioClient,
): Promise<Decision> {
  const db = createDb(env.DB);
  const claimed = await claimForHandover(db, [messageId], Date.now(), LEASE_MS);
  return handOver(env, db, messageId, claimed.get(messageId), attempt, client);
}

/**
 * The handover of one message the batch loaded and (maybe) claimed: refuse what must not go (failing
 * it with the reason), skip what is not ours to send, hold during an outage, adopt an earlier attempt,
 * or call Twilio (through the sender's pacer when it has a rate) and record the answer.
 */
export async function handOver(
  env: Env,
  db: Db,
  messageId: string,
  claimed: ClaimedForHandover | undefined,
  attempt: number,
  client?: TwilioClient,
  /** Times this message went back to the queue untaken (fair share, Twilio 429s). */
  deferrals = 0,
  /** Where the verdict goes (the consumer collects a batch's verdicts for one D1 write). */
  sink: StatusSink = throughRoom(env),
  /** The breaker was clean when the batch began (breakerClean): no admission asked per message. */
  cleared = false,
): Promise<Decision> {
  const row = claimed?.row;
  const msg = row?.msg;
  if (msg?.direction !== "outbound") {
    log("warn", "outbound job for an unknown message", { messageId });
    return { action: "ack", outcome: "unknown" };
  }
  if (msg.status !== "pending") return { action: "ack", outcome: `skipped:${msg.status}` };
  if (row?.suppressed) {
    await markFailed(env, db, msg, 21610, "The recipient opted out (replied STOP); not sent.", "queue", sink);
    return { action: "ack", outcome: "opted_out" };
  }
  if (!row?.senderId) {
    await markFailed(
      env,
      db,
      msg,
      null,
      `The sender ${msg.fromNumber} was removed from the workspace; not sent.`,
      "queue",
      sink,
    );
    return { action: "ack", outcome: "sender_removed" };
  }
  if (msg.campaignId && row?.campaignStatus !== "running") {
    // A paused campaign's message waits (pending) for resume, which enqueues it again; a canceled one's ends.
    if (row?.campaignStatus === "canceled" || row?.campaignStatus === null) {
      await sink(msg, {
        messageId: msg.id,
        status: "canceled",
        errorMessage: "Canceled with its campaign.",
        source: "queue",
        at: Date.now(),
        requireStatus: ["pending"],
      });
      return { action: "ack", outcome: "campaign_canceled" };
    }
    return { action: "ack", outcome: "campaign_paused" };
  }
  const lease = claimed?.lease;
  if (!lease) return { action: "ack", outcome: "leased_elsewhere" };
  const bulk = msg.campaignId !== null;
  const inbox: InboxRecord = {
    id: row.senderId,
    workspaceId: msg.workspaceId,
    channel: row.inboxChannel ?? "sms",
    address: msg.fromNumber,
    accountSid: row.inboxAccountSid,
    credentials: row.inboxCredentials,
  };
  const channel = channelFor(inbox.channel);
  if (channel.provider === "direct") return handOverDirect(env, db, msg, channel, inbox, attempt, deferrals, sink);

  // An outage holds the message instead of spending its retries (see TwilioBreaker).
  const breaker = breakerFor(env);
  const admission: Admission = cleared ? { allow: true, probe: false, clean: true } : await breaker.admit();
  if (!admission.allow) {
    await hold(env, msg, admission.reason, lease.earlierAttempt === null);
    await enqueueOutbound(env, messageId, {
      delaySeconds: holdDelaySeconds(admission.retryAfterMs),
      workspaceId: msg.workspaceId,
      bulk,
    });
    return { action: "ack", outcome: "held" };
  }

  // An inbox with its own Twilio account sends (and looks up earlier attempts) with that account.
  const ownConfig = inbox.credentials ? await twilioConfigFor(env, inbox) : undefined;
  const twilio = ownConfig ? new TwilioClient(ownConfig) : (client ?? new TwilioClient(twilioConfigFromEnv(env)));
  try {
    if (lease.earlierAttempt !== null) {
      const earlier = await lookUpEarlierAttempt(twilio, env.DB, msg, lease.earlierAttempt);
      if (earlier) {
        // Recording the handover ends the attempt and releases the lease in the same write.
        await recordSent(env, msg, sentFromTwilio(earlier), "queue", sink);
        if (!admission.clean) await breaker.report("ok");
        log("info", "adopted an earlier attempt instead of sending again", { messageId, sid: earlier.sid });
        return { action: "ack", outcome: "adopted" };
      }
    }
    const params = channel.toTwilio(await outgoingFor(env, db, msg, channel));
    let tw: TwilioMessage;
    if (row.ratePerSecond) {
      // The sender's pacer makes the call in its turn; a far-off turn goes back to the queue untaken.
      // Campaign messages take the slots conversations leave free (see SenderPacer).
      const pacer = pacerFor(env, msg.fromNumber);
      const paced = await pacer.send(
        params,
        msg.segments,
        row.ratePerSecond,
        bulk ? BULK_PACE_MAX_WAIT_MS : PACE_MAX_WAIT_MS,
        { priority: bulk ? "bulk" : "conversation", campaignId: msg.campaignId, config: ownConfig },
      );
      if (!paced.sent) {
        await releaseMessage(db, messageId, lease.earlierAttempt === null);
        if (admission.probe) await breaker.abandonProbe();
        // Its campaign paused while it waited: it stays pending, and resume enqueues it again.
        if (paced.held) return { action: "ack", outcome: "campaign_paused" };
        // A fresh queue message, not retry(): waiting for a busy sender must not use up retries.
        await enqueueOutbound(env, messageId, {
          delaySeconds: Math.max(1, Math.ceil(paced.retryAfterMs / 1000)),
          workspaceId: msg.workspaceId,
          bulk,
        });
        return { action: "ack", outcome: "paced" };
      }
      if ("error" in paced) throw pacedError(paced.error);
      tw = paced.message;
    } else {
      tw = await twilio.createMessage(params);
    }
    if (!admission.clean) await breaker.report("ok");
    await recordSent(env, msg, sentFromTwilio(tw), "queue", sink);
    return { action: "ack", outcome: "sent" };
  } catch (err) {
    if (isProviderError(err)) {
      const outage = isOutage(err);
      if (outage || !admission.clean) await breaker.report(outage ? "outage" : "ok").catch(() => undefined);
      return handleTwilioError(env, db, msg, err, attempt, deferrals, sink);
    }
    // D1 or the room failed: the attempt's outcome is unknown, so keep attempt_started_at for a lookup.
    log("error", "outbound attempt failed on our side", { messageId, error: String(err) });
    await releaseMessage(db, messageId, false).catch(() => undefined);
    return { action: "retry", delaySeconds: backoffSeconds(attempt), outcome: "internal_error" };
  }
}

/**
 * Whether the breaker is closed with no failure counted: then a whole queue batch goes ahead without an
 * admission per message (one call to the breaker per batch instead of one per message). When it is
 * not (or cannot say), each message asks as before, probes included.
 */
export async function breakerClean(env: Env): Promise<boolean> {
  return breakerFor(env)
    .isClean()
    .catch(() => false);
}

/** Seconds to hold a message for: the breaker's wait, spread by up to two seconds so holds do not return in a herd. */
function holdDelaySeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000) + Math.floor(Math.random() * 3));
}

/**
 * Keeps the message pending with a visible reason and lets go of it; the event is recorded once per
 * reason, not on every hold. The attempt stays open when its outcome is unknown (a lookup comes first).
 */
async function hold(env: Env, msg: MessageRow, reason: string, clearAttempt: boolean): Promise<void> {
  await env.DB.batch(holdStatements(env.DB, msg.id, reason, clearAttempt, Date.now()));
}

async function handleTwilioError(
  env: Env,
  db: Db,
  msg: MessageRow,
  err: ProviderError,
  attempt: number,
  deferrals: number,
  sink: StatusSink,
): Promise<Decision> {
  log("warn", "twilio send failed", {
    messageId: msg.id,
    to: maskPhone(msg.toNumber),
    kind: err.kind,
    httpStatus: err.httpStatus,
    code: err.code,
    retryable: err.retryable,
  });
  if (err.code === 20003) {
    // Our credentials were refused: an operator's problem, not this message's. Hold it until fixed.
    await hold(env, msg, "Twilio refused our credentials (20003); holding until they are fixed", !err.ambiguous);
    await enqueueOutbound(env, msg.id, {
      delaySeconds: backoffSeconds(attempt),
      workspaceId: msg.workspaceId,
      bulk: msg.campaignId !== null,
    });
    return { action: "ack", outcome: "held" };
  }
  if ((err.httpStatus === 429 || err.code === 20429) && deferrals < MAX_THROTTLE_DEFERRALS) {
    // Twilio throttles the account (often another workspace's burst): wait without spending this
    // message's retries, backing off with each deferral. Twilio created nothing on a 429.
    await releaseMessage(db, msg.id, true);
    await enqueueOutbound(env, msg.id, {
      delaySeconds: backoffSeconds(deferrals + 1),
      workspaceId: msg.workspaceId,
      deferrals: deferrals + 1,
      bulk: msg.campaignId !== null,
    });
    return { action: "ack", outcome: "throttled" };
  }
  if (!err.retryable) {
    // Failing the message also ends the attempt and releases the lease.
    await markFailed(env, db, msg, err.code, describeProviderError(err.code) ?? err.message, "queue", sink);
    return { action: "ack", outcome: `failed:${err.code ?? err.httpStatus}` };
  }
  await releaseMessage(db, msg.id, !err.ambiguous);
  return { action: "retry", delaySeconds: backoffSeconds(attempt), outcome: err.ambiguous ? "ambiguous" : "retry" };
}

/**
 * A channel whose provider takes an idempotency key (email): no pacer, breaker or lookup of earlier
 * attempts — the message id as the key makes a repeated call return the first result — so the call
 * is simply made again after a timeout. Errors are classified as for Twilio.
 */
async function handOverDirect(
  env: Env,
  db: Db,
  msg: MessageRow,
  channel: DirectChannel,
  inbox: InboxRecord,
  attempt: number,
  deferrals: number,
  sink: StatusSink,
): Promise<Decision> {
  try {
    const sent = await channel.send(env, inbox, await outgoingFor(env, db, msg, channel));
    await recordSent(env, msg, sent, "queue", sink);
    return { action: "ack", outcome: "sent" };
  } catch (err) {
    if (isProviderError(err)) {
      if (err.code !== null && !err.retryable) {
        await markFailed(env, db, msg, err.code, describeProviderError(err.code) ?? err.message, "queue", sink);
        return { action: "ack", outcome: `failed:${err.code}` };
      }
      log("warn", "provider send failed", { messageId: msg.id, channel: channel.kind, httpStatus: err.httpStatus });
      if (err.httpStatus === 429 && deferrals < MAX_THROTTLE_DEFERRALS) {
        await releaseMessage(db, msg.id, true);
        await enqueueOutbound(env, msg.id, {
          delaySeconds: backoffSeconds(deferrals + 1),
          workspaceId: msg.workspaceId,
          deferrals: deferrals + 1,
          bulk: msg.campaignId !== null,
        });
        return { action: "ack", outcome: "throttled" };
      }
      if (!err.retryable) {
        await markFailed(env, db, msg, null, err.message, "queue", sink);
        return { action: "ack", outcome: "failed" };
      }
    } else {
      log("error", "outbound attempt failed on our side", { messageId: msg.id, error: String(err) });
    }
    // The idempotency key makes the next call safe whatever this one did: no lookup needed.
    await releaseMessage(db, msg.id, true).catch(() => undefined);
    return { action: "retry", delaySeconds: backoffSeconds(attempt), outcome: "retry" };
  }
}
