/**
 * Fixed-window counters in D1 for login and signup throttling. One upsert per attempt; the
 * window restarts when it has passed.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../client";
import { rateLimits } from "../schema";

export interface WindowState {
  count: number;
  /** Seconds until the window resets. */
  retryAfterSeconds: number;
}

export async function readWindow(db: Db, key: string, windowMs: number, now: number): Promise<WindowState> {
  const row = await db.query.rateLimits.findFirst({ where: sql`${rateLimits.key} = ${key}` });
  if (!row || row.windowStart + windowMs <= now) return { count: 0, retryAfterSeconds: 0 };
  return { count: row.count, retryAfterSeconds: Math.max(1, Math.ceil((row.windowStart + windowMs - now) / 1000)) };
}

export async function hitWindow(db: Db, key: string, windowMs: number, now: number): Promise<void> {
  await db
    .insert(rateLimits)
    .values({ key, windowStart: now, count: 1 })
    .onConflictDoUpdate({
      target: rateLimits.key,
      set: {
        count: sql`case when ${rateLimits.windowStart} + ${windowMs} <= ${now} then 1 else ${rateLimits.count} + 1 end`,
        windowStart: sql`case when ${rateLimits.windowStart} + ${windowMs} <= ${now} then ${now} else ${rateLimits.windowStart} end`,
      },
    });
}

export async function clearWindow(db: Db, key: string): Promise<void> {
  await db.delete(rateLimits).where(sql`${rateLimits.key} = ${key}`);
}
