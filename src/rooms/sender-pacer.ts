/**
 * SenderPacer: one Durable Object per sender number that holds its sends to the number's configured
 * rate (segments per second, as carriers count them) and makes the Twilio call itself, in turn.
 *
 * Two rules decide when a send may start:
 * - spacing: each send gets the slot `segments × 1000 / rate` ms after the previous one's, so sends flow
 *   evenly instead of in bursts (a turn taken a little late keeps the timeline rather than shifting it);
 * - the window: the segments of sends that Twilio may have received in the last second, plus this
 *   one, stay within the rate. A send counts from its start until one second after Twilio answered
 *   (it arrived somewhere in between), so however long a request takes to get there, no second at
 *   Twilio sees more than the rate. (A single message longer than the rate goes alone.)
 *
 * Two lanes: a conversation send (an agent's reply, an API send) takes the next free slot ahead of every
 * bulk (campaign) send waiting, so a campaign never delays a conversation by more than the slot in
 * progress; a campaign's waiting sends can be handed back at once when it pauses (`hold`).
 *
 * A send whose turn is further off than `maxWaitMs` is refused without taking a turn, and its consumer
 * hands the message back to the queue, so no capacity is wasted on messages that are not sent; one that
 * was admitted but is still waiting after `maxWaitMs` (Twilio slow to answer) is handed back the same
 * way. The schedule lives in memory: an evicted pacer has been idle long enough that it is empty.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type CreateMessageParams,
  TwilioClient,
  type TwilioConfig,
  twilioConfigFromEnv,
} from "../channels/twilio/client";
import { isTwilioError, TwilioError, type TwilioFailureKind } from "../channels/twilio/errors";
import type { TwilioMessage } from "../channels/twilio/schemas";

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
  | { sent: false; retryAfterMs: number; held?: boolean }
  | { sent: true; message: TwilioMessage }
  | { sent: true; error: TwilioErrorFields };

const WINDOW_MS = 1000;
/** After a campaign's hold, its sends that were already on their way are refused for this long. */
const HOLD_MS = 10_000;

/** A send in the window: its segments, and when it leaves the window (unknown until Twilio answers). */
interface InWindow {
  segments: number;
  until: number;
}

/**
 * `conversation`: a person's or an integration's send (takes the next free slot, ahead of bulk);
 * `bulk`: a campaign's, which waits for slots nobody else wants.
 */
export type SendPriority = "conversation" | "bulk";

export interface PaceOptions {
  priority?: SendPriority;
  /** The campaign a bulk send belongs to (a hold of the campaign drops it from the line). */
  campaignId?: string | null;
  /** The inbox's own Twilio account (default: the deployment's). */
  config?: TwilioConfig;
}

/** A send waiting for its turn. */
interface Waiter {
  priority: SendPriority;
  campaignId: string | null;
  segments: number;
  rate: number;
  costMs: number;
  giveUpAt: number;
  /** null: not sent (gave up, or its campaign was held). */
  resolve: (entry: InWindow | null) => void;
}

export class SenderPacer extends DurableObject<Env> {
  /** When the admitted sends are planned to be done: all of them, and the conversation lane alone. */
  private plannedAll = 0;
  private plannedConversation = 0;
  /** The earliest start for the next send under the spacing rule. */
  private nextStart = 0;
  private window: InWindow[] = [];
  private line: Waiter[] = [];
  private pumping = false;
  /** Wakes the pump: a send in the window was answered, or a send joined the line. */
  private wake: (() => void) | null = null;
  private held = new Map<string, number>();
  private client: TwilioClient | null = null;

  /**
   * Sends one message through Twilio in its turn (see the rules above). A conversation send takes the
   * next free slot ahead of any bulk send waiting; bulk sends go in the slots left over.
   */
  async send(
    params: CreateMessageParams,
    segments: number,
    ratePerSecond: number,
    maxWaitMs: number,
    opts: PaceOptions = {},
  ): Promise<PacedSend> {
    const priority = opts.priority ?? "conversation";
    const campaignId = opts.campaignId ?? null;
    const costMs = Math.ceil((segments * 1000) / ratePerSecond);
    const admitted = Date.now();
    if (campaignId && (this.held.get(campaignId) ?? 0) > admitted)
      return { sent: false, retryAfterMs: HOLD_MS, held: true };
    // A conversation send only waits behind other conversation sends (and the one in progress).
    const planned = Math.max(admitted, priority === "bulk" ? this.plannedAll : this.plannedConversation);
    if (planned - admitted > maxWaitMs) return { sent: false, retryAfterMs: planned - admitted - maxWaitMs / 2 };
    this.plannedAll = Math.max(this.plannedAll, admitted) + costMs;
    if (priority === "conversation") this.plannedConversation = planned + costMs;

    const entry = await new Promise<InWindow | null>((resolve) => {
      this.line.push({
        priority,
        campaignId,
        segments,
        rate: ratePerSecond,
        costMs,
        giveUpAt: admitted + maxWaitMs,
        resolve,
      });
      this.wake?.();
      if (!this.pumping) void this.pump();
    });
    if (!entry) {
      const held = campaignId !== null && (this.held.get(campaignId) ?? 0) > Date.now();
      return held ? { sent: false, retryAfterMs: HOLD_MS, held: true } : { sent: false, retryAfterMs: costMs };
    }
    try {
      this.client ??= new TwilioClient(twilioConfigFromEnv(this.env));
      const client = opts.config ? new TwilioClient(opts.config) : this.client;
      return { sent: true, message: await client.createMessage(params) };
    } catch (err) {
      if (!isTwilioError(err)) throw err;
      const { kind, message, httpStatus, code, retryable, ambiguous } = err;
      return { sent: true, error: { kind, message, httpStatus, code, retryable, ambiguous } };
    } finally {
      entry.until = Date.now() + WINDOW_MS;
      this.wake?.();
    }
  }

  /**
   * How many more one-segment bulk sends at `ratePerSecond` would start within `horizonMs` (what is
   * planned already counts): the bulk consumer takes that many of a batch for this sender and puts the
   * rest back in the queue, so a batch never waits long on one busy sender while the others idle.
   */
  async bulkCapacity(ratePerSecond: number, horizonMs: number): Promise<number> {
    const backlog = Math.max(0, this.plannedAll - Date.now());
    return Math.max(0, Math.floor(((horizonMs - backlog) * ratePerSecond) / 1000));
  }

  /**
   * Stops a campaign's sends: those waiting in line are handed back unsent (`held`), and any still on
   * their way here are refused for a while. `release` lifts it (the campaign resumed).
   */
  async hold(campaignId: string): Promise<number> {
    this.held.set(campaignId, Date.now() + HOLD_MS);
    const dropped = this.line.filter((w) => w.campaignId === campaignId);
    this.line = this.line.filter((w) => w.campaignId !== campaignId);
    for (const w of dropped) w.resolve(null);
    return dropped.length;
  }

  async release(campaignId: string): Promise<void> {
    this.held.delete(campaignId);
  }

  /** The next waiter: the first conversation send, else the first bulk send. */
  private next(): Waiter | undefined {
    return this.line.find((w) => w.priority === "conversation") ?? this.line[0];
  }

  /** Gives turns, one at a time, while sends wait: each when both rules allow it. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const now = Date.now();
        const waiter = this.next();
        if (!waiter) return;
        this.window = this.window.filter((s) => s.until > now);
        const used = this.window.reduce((sum, s) => sum + s.segments, 0);
        const windowFree = used === 0 || used + waiter.segments <= waiter.rate;
        if (windowFree && now >= this.nextStart) {
          const entry = { segments: waiter.segments, until: Number.POSITIVE_INFINITY };
          this.window.push(entry);
          // Keep to the timeline when woken a little late (a busy event loop), so lateness does not add
          // up send after send; after a pause, start a new one. The window rule above still holds every
          // second at the receiver to the rate.
          const slot = now - this.nextStart < waiter.costMs ? this.nextStart : now;
          this.nextStart = slot + waiter.costMs;
          this.line.splice(this.line.indexOf(waiter), 1);
          waiter.resolve(entry);
          continue;
        }
        // Sends that waited past their limit (and cannot go now) go back to their consumers.
        const expired = this.line.filter((w) => w.giveUpAt <= now);
        if (expired.length > 0) {
          for (const w of expired) w.resolve(null);
          this.line = this.line.filter((w) => w.giveUpAt > now);
          continue;
        }
        // Sleep until the spacing allows it, a send leaves the window or someone gives up; an answer
        // or a new send in line wakes us earlier.
        const leaves = windowFree ? this.nextStart : Math.min(...this.window.map((s) => s.until));
        const giveUp = Math.min(...this.line.map((w) => w.giveUpAt));
        const until = Math.min(Math.max(this.nextStart, leaves), giveUp);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, until - now));
          this.wake = () => {
            clearTimeout(timer);
            this.wake = null;
            resolve();
          };
        });
      }
    } finally {
      this.pumping = false;
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
