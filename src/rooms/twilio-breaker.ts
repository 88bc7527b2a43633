/**
 * TwilioBreaker: one Durable Object per Twilio account, a circuit breaker in front of every send.
 *
 * When sends keep failing the way an outage fails (5xx, timeouts, network errors, 20003 auth), the
 * breaker opens: consumers stop calling Twilio and hold their messages as `pending` with a visible
 * reason, handing them back to the queue as fresh messages so the queue's retries (and the DLQ) are
 * not spent on an outage. After a cooldown one probe at a time is let through; its success closes
 * the breaker and everything flows again (each message still goes through the consumer's lease and
 * lookup-before-resend, so recovery sends nothing twice); its failure reopens it with a longer cooldown.
 *
 * A definite answer from Twilio (a 4xx such as 21211, or 429) means Twilio is up: it counts as success.
 * State is kept in the object's storage, so an evicted breaker comes back as it was.
 */
import { DurableObject } from "cloudflare:workers";

/** Consecutive outage failures that open the breaker. */
export const OPEN_AFTER_FAILURES = 5;
export const FIRST_COOLDOWN_MS = 2_000;
export const MAX_COOLDOWN_MS = 60_000;
/** A probe that never reported back (its consumer died) stops blocking others after this. */
const PROBE_TIMEOUT_MS = 30_000;

export const HOLD_REASON = "Twilio is not answering; holding";

export type BreakerState = "closed" | "open" | "half_open";

export type Admission =
  | { allow: true; probe: boolean; clean: boolean }
  | { allow: false; retryAfterMs: number; reason: string };

export type SendOutcome = "ok" | "outage";

interface Stored {
  state: BreakerState;
  failures: number;
  openedAt: number;
  cooldownMs: number;
  probeStartedAt: number;
}

const CLOSED: Stored = { state: "closed", failures: 0, openedAt: 0, cooldownMs: FIRST_COOLDOWN_MS, probeStartedAt: 0 };

export class TwilioBreaker extends DurableObject<Env> {
  private s: Stored = { ...CLOSED };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.s = (await ctx.storage.get<Stored>("breaker")) ?? { ...CLOSED };
    });
  }

  private save(): void {
    this.ctx.storage.put("breaker", this.s);
  }

  /**
   * Whether Twilio calls may go ahead with nothing to report back: closed, no failure being counted. Asked
   * once per queue batch (no side effect, unlike admit's probe): a clean breaker admits the whole batch.
   */
  async isClean(): Promise<boolean> {
    return this.s.state === "closed" && this.s.failures === 0;
  }

  /** May a consumer call Twilio now? `clean` means no failure is being counted (no report needed on success). */
  async admit(now = Date.now()): Promise<Admission> {
    const s = this.s;
    if (s.state === "closed") return { allow: true, probe: false, clean: s.failures === 0 };
    if (s.state === "open" && now < s.openedAt + s.cooldownMs) {
      return { allow: false, retryAfterMs: s.openedAt + s.cooldownMs - now, reason: HOLD_REASON };
    }
    if (s.state === "half_open" && now - s.probeStartedAt < PROBE_TIMEOUT_MS) {
      // One probe at a time: the others wait for its verdict.
      return { allow: false, retryAfterMs: Math.min(s.cooldownMs, 2_000), reason: HOLD_REASON };
    }
    s.state = "half_open";
    s.probeStartedAt = now;
    this.save();
    return { allow: true, probe: true, clean: false };
  }

  /** What a send (or a probe) found. */
  async report(outcome: SendOutcome, now = Date.now()): Promise<BreakerState> {
    const s = this.s;
    if (outcome === "ok") {
      if (s.state !== "closed" || s.failures > 0) {
        this.s = { ...CLOSED };
        this.save();
      }
      return this.s.state;
    }
    s.failures++;
    if (s.state === "half_open") {
      s.state = "open";
      s.openedAt = now;
      s.cooldownMs = Math.min(MAX_COOLDOWN_MS, s.cooldownMs * 2);
    } else if (s.state === "closed" && s.failures >= OPEN_AFTER_FAILURES) {
      s.state = "open";
      s.openedAt = now;
      s.cooldownMs = FIRST_COOLDOWN_MS;
    }
    this.save();
    return s.state;
  }

  /** The probe never reached Twilio (its sender's pacer sent it back): let the next send probe instead. */
  async abandonProbe(now = Date.now()): Promise<void> {
    if (this.s.state !== "half_open") return;
    this.s.state = "open";
    this.s.openedAt = now - this.s.cooldownMs;
    this.s.probeStartedAt = 0;
    this.save();
  }

  async status(): Promise<Stored> {
    return { ...this.s };
  }
}

export function breakerFor(env: Env): DurableObjectStub<TwilioBreaker> {
  return env.TWILIO_BREAKER.get(env.TWILIO_BREAKER.idFromName(env.TWILIO_ACCOUNT_SID));
}

/** Failures that say Twilio itself is not answering (as opposed to refusing this one message). */
export function isOutage(err: { kind: string; httpStatus: number | null; code: number | null }): boolean {
  return err.kind !== "http" || (err.httpStatus !== null && err.httpStatus >= 500) || err.code === 20003;
}
