/**
 * Fixed-window counters in D1 for login and signup throttling. Each attempt is counted before it is
 * checked, in one upsert that returns the new count; the window restarts when it has passed.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../client";
import { rateLimits } from "../schema";

export interface WindowState {
  count: number;
  /** Seconds until the window resets. */
  retryAfterSeconds: number;
}

/**
 * Counts one attempt and returns the count including it, in one statement: parallel attempts each
 * see their own number, so none can pass a limit that a read-then-write would let them race past.
 */
export function countAttempt(db: Db, key: string, windowMs: number, now: number) {
  return db
    .insert(rateLimits)
    .values({ key, windowStart: now, count: 1 })
    .onConflictDoUpdate({
      target: rateLimits.key,
      set: {
        count: sql`case when ${rateLimits.windowStart} + ${windowMs} <= ${now} then 1 else ${rateLimits.count} + 1 end`,
        windowStart: sql`case when ${rateLimits.windowStart} + ${windowMs} <= ${now} then ${now} else ${rateLimits.windowStart} end`,
      },
    })
    .returning({ count: rateLimits.count, windowStart: rateLimits.windowStart });
}

/** The window state after an attempt counted by countAttempt. */
export function stateOf(
  row: { count: number; windowStart: number } | undefined,
  windowMs: number,
  now: number,
): WindowState {
  if (!row) return { count: 0, retryAfterSeconds: 0 };
  return { count: row.count, retryAfterSeconds: Math.max(1, Math.ceil((row.windowStart + windowMs - now) / 1000)) };
}

/** Gives back one counted attempt (a login that succeeded is not held against its client). */
export async function uncountAttempt(db: Db, key: string): Promise<void> {
  await db
    .update(rateLimits)
    .set({ count: sql`max(0, ${rateLimits.count} - 1)` })
    .where(sql`${rateLimits.key} = ${key}`);
}

export async function clearWindow(db: Db, key: string): Promise<void> {
  await db.delete(rateLimits).where(sql`${rateLimits.key} = ${key}`);
}
