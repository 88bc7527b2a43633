/** Token buckets and fixed windows for send limits: plain state and pure steps (the limiter DO holds them). */

export interface Bucket {
  tokens: number;
  at: number;
}

/** Refills `bucket` at `rate` per second up to `burst`, then takes `n` if it can. */
export function take(
  bucket: Bucket,
  n: number,
  rate: number,
  burst: number,
  now: number,
): { taken: number; bucket: Bucket; retryAfterMs: number } {
  const tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
  const taken = Math.max(0, Math.min(n, Math.floor(tokens)));
  const left = tokens - taken;
  const retryAfterMs = taken < n ? Math.ceil(((1 - (left % 1)) / rate) * 1000) : 0;
  return { taken, bucket: { tokens: left, at: now }, retryAfterMs };
}

export interface Window {
  start: number;
  count: number;
}

/** A fixed one-minute window: counts `n` in if under `limit`. */
export function count(
  window: Window,
  limit: number,
  now: number,
  spanMs = 60_000,
): { allowed: boolean; window: Window; remaining: number; resetMs: number } {
  const current = now - window.start >= spanMs ? { start: now, count: 0 } : window;
  const allowed = current.count < limit;
  const next = allowed ? { start: current.start, count: current.count + 1 } : current;
  return { allowed, window: next, remaining: Math.max(0, limit - next.count), resetMs: current.start + spanMs - now };
}
