/**
 * SenderPacer: one Durable Object per sender number that holds its sends to the number's configured
 * rate (segments per second, as carriers count them) and makes the Twilio call itself, so the spacing
 * is measured where the requests leave, not where a consumer's timer happened to fire.
 *
 * Each send occupies `costMs` (segments × 1000 / rate) from the moment it actually starts; the next
 * one starts no earlier than that. A send whose turn is further off than `maxWaitMs` is refused without
 * taking a turn, and its consumer hands the message back to the queue, so no capacity is wasted on
 * messages that are not sent. The schedule lives in memory: an evicted pacer has been idle long enough
 * that its next turn is already in the past.
 */
import { DurableObject } from "cloudflare:workers";
import { type CreateMessageParams, TwilioClient, twilioConfigFromEnv } from "../twilio/client";
import { isTwilioError, TwilioError, type TwilioFailureKind } from "../twilio/errors";
import type { TwilioMessage } from "../twilio/schemas";

/** A TwilioError's fields, for crossing the RPC boundary (class instances do not). */
export interface TwilioErrorFields {
  kind: TwilioFailureKind;
  message: string;
  httpStatus: number | null;
  code: number | null;
  retryable: boolean;
  ambiguous: boolean;
}

export type PacedSend =
  | { sent: false; retryAfterMs: number }
  | { sent: true; message: TwilioMessage }
  | { sent: true; error: TwilioErrorFields };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SenderPacer extends DurableObject<Env> {
  /** When the last admitted send is planned to end (admission only; starts use real times). */
  private plannedEnd = 0;
  /** When the send before the next one may start: the real start of the last one plus its cost. */
  private nextStart = 0;
  private turns: Promise<void> = Promise.resolve();

  /**
   * Sends one message through Twilio in its turn. The turn comes after every send admitted before it,
   * and at least the previous send's cost after that send really started.
   */
  async send(params: CreateMessageParams, costMs: number, maxWaitMs: number): Promise<PacedSend> {
    const now = Date.now();
    const planned = Math.max(now, this.plannedEnd);
    if (planned - now > maxWaitMs) return { sent: false, retryAfterMs: planned - now - maxWaitMs / 2 };
    this.plannedEnd = planned + costMs;
    const turn = this.turns.then(async () => {
      const wait = this.nextStart - Date.now();
      if (wait > 0) await sleep(wait);
      this.nextStart = Date.now() + costMs;
    });
    this.turns = turn;
    await turn;
    try {
      return { sent: true, message: await new TwilioClient(twilioConfigFromEnv(this.env)).createMessage(params) };
    } catch (err) {
      if (!isTwilioError(err)) throw err;
      const { kind, message, httpStatus, code, retryable, ambiguous } = err;
      return { sent: true, error: { kind, message, httpStatus, code, retryable, ambiguous } };
    }
  }
}

/** The TwilioError a paced send reported. */
export function pacedError(fields: TwilioErrorFields): TwilioError {
  return new TwilioError(
    fields.kind,
    fields.message,
    fields.httpStatus,
    fields.code,
    fields.retryable,
    fields.ambiguous,
  );
}

export function pacerFor(env: Env, phoneNumber: string): DurableObjectStub<SenderPacer> {
  return env.SENDER_PACER.get(env.SENDER_PACER.idFromName(phoneNumber));
}
