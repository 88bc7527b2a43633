/**
 * SenderPacer: one Durable Object per sender number that holds its sends to the number's configured
 * rate (segments per second, as carriers count them) and makes the Twilio call itself, in turn.
 *
 * Two rules decide when a send may start:
 * - spacing: at least `segments × 1000 / rate` ms after the previous send really started, so sends
 *   flow evenly instead of in bursts;
 * - the window: the segments of sends that Twilio may have received in the last second, plus this
 *   one, stay within the rate. A send counts from its start until one second after Twilio answered
 *   (it arrived somewhere in between), so however long a request takes to get there, no second at
 *   Twilio sees more than the rate. (A single message longer than the rate goes alone.)
 *
 * A send whose turn is further off than `maxWaitMs` is refused without taking a turn, and its consumer
 * hands the message back to the queue, so no capacity is wasted on messages that are not sent; one that
 * was admitted but is still waiting after `maxWaitMs` (Twilio slow to answer) is handed back the same
 * way. The schedule lives in memory: an evicted pacer has been idle long enough that it is empty.
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

const WINDOW_MS = 1000;

/** A send in the window: its segments, and when it leaves the window (unknown until Twilio answers). */
interface InWindow {
  segments: number;
  until: number;
}

export class SenderPacer extends DurableObject<Env> {
  /** When the last admitted send is planned to end (for admission; starts follow the rules above). */
  private plannedEnd = 0;
  /** The earliest start for the next send under the spacing rule. */
  private nextStart = 0;
  private window: InWindow[] = [];
  private turns: Promise<void> = Promise.resolve();
  /** Wakes a turn waiting on the window when a send in it is answered. */
  private answered: (() => void) | null = null;
  private client: TwilioClient | null = null;

  /** Sends one message through Twilio in its turn (see the rules above). */
  async send(
    params: CreateMessageParams,
    segments: number,
    ratePerSecond: number,
    maxWaitMs: number,
  ): Promise<PacedSend> {
    const costMs = Math.ceil((segments * 1000) / ratePerSecond);
    const admitted = Date.now();
    const planned = Math.max(admitted, this.plannedEnd);
    if (planned - admitted > maxWaitMs) return { sent: false, retryAfterMs: planned - admitted - maxWaitMs / 2 };
    this.plannedEnd = planned + costMs;

    let entry: InWindow | null = null;
    const turn = this.turns.then(async () => {
      entry = await this.takeTurn(segments, ratePerSecond, costMs, admitted + maxWaitMs);
    });
    this.turns = turn;
    await turn;
    if (!entry) return { sent: false, retryAfterMs: costMs };
    const taken: InWindow = entry;
    try {
      this.client ??= new TwilioClient(twilioConfigFromEnv(this.env));
      return { sent: true, message: await this.client.createMessage(params) };
    } catch (err) {
      if (!isTwilioError(err)) throw err;
      const { kind, message, httpStatus, code, retryable, ambiguous } = err;
      return { sent: true, error: { kind, message, httpStatus, code, retryable, ambiguous } };
    } finally {
      taken.until = Date.now() + WINDOW_MS;
      this.answered?.();
    }
  }

  /** Waits until both rules allow the send, then records it; null when that is later than `giveUpAt`. */
  private async takeTurn(segments: number, rate: number, costMs: number, giveUpAt: number): Promise<InWindow | null> {
    for (;;) {
      const now = Date.now();
      this.window = this.window.filter((s) => s.until > now);
      const used = this.window.reduce((sum, s) => sum + s.segments, 0);
      const windowFree = used === 0 || used + segments <= rate;
      if (windowFree && now >= this.nextStart) {
        const entry = { segments, until: Number.POSITIVE_INFINITY };
        this.window.push(entry);
        this.nextStart = now + costMs;
        return entry;
      }
      if (now >= giveUpAt) return null;
      // Sleep until the spacing allows it or a send leaves the window; an answer wakes us earlier.
      const leaves = windowFree ? this.nextStart : Math.min(...this.window.map((s) => s.until));
      const until = Math.min(Math.max(this.nextStart, leaves), giveUpAt);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, until - now));
        this.answered = () => {
          clearTimeout(timer);
          this.answered = null;
          resolve();
        };
      });
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
