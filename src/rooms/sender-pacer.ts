/**
 * SenderPacer: one Durable Object per sender number that spaces sends to the number's configured rate
 * (segments per second, as carriers count them). It hands out send slots in order; a consumer either
 * waits for a slot that is close, or is told when to come back without reserving one, so no capacity
 * is wasted on messages that are not sent. The schedule lives in memory: an evicted pacer has been idle
 * long enough that its next slot is already in the past.
 */
import { DurableObject } from "cloudflare:workers";

export type Reservation = { granted: true; waitMs: number } | { granted: false; retryAfterMs: number };

export class SenderPacer extends DurableObject<Env> {
  private nextSlot = 0;

  /** Reserves `costMs` of the sender's time starting at its next free slot, if that is within `maxWaitMs`. */
  async reserve(costMs: number, maxWaitMs: number): Promise<Reservation> {
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot);
    const waitMs = slot - now;
    if (waitMs > maxWaitMs) return { granted: false, retryAfterMs: waitMs - maxWaitMs / 2 };
    this.nextSlot = slot + costMs;
    return { granted: true, waitMs };
  }
}

export function pacerFor(env: Env, phoneNumber: string): DurableObjectStub<SenderPacer> {
  return env.SENDER_PACER.get(env.SENDER_PACER.idFromName(phoneNumber));
}
