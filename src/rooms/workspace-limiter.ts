/**
 * WorkspaceLimiter: one Durable Object per workspace that holds its send limits.
 * - `admit(sender)`: an API or browser send — a member's per-minute window, and the workspace's token
 *   bucket (rate per second, burst) for everyone, API keys included. A refusal says when to come back.
 * - `dispatch(n)`: the queue consumer asking how many of this workspace's messages may go to Twilio
 *   now; the rest go back to the queue untaken, so one workspace's backlog cannot hold the consumer
 *   while another workspace's message waits behind it.
 * The state is in memory (an evicted limiter has been idle, so its buckets are full anyway); the
 * limits are read from D1 and kept for a minute (`refresh()` after a settings change).
 */
import { DurableObject } from "cloudflare:workers";
import { type Bucket, count, take, type Window } from "../domain/token-bucket";
import { SEND_LIMITS } from "../shared/policies";

export interface Limits {
  userPerMinute: number;
  workspacePerSecond: number;
  workspaceBurst: number;
}

export interface Admission {
  allowed: boolean;
  /** The tightest limit that applied, for RateLimit-* headers. */
  limit: number;
  remaining: number;
  resetSeconds: number;
  retryAfterSeconds: number;
  which: "user" | "workspace";
}

const LIMITS_TTL_MS = 60_000;

export class WorkspaceLimiter extends DurableObject<Env> {
  private limits: Limits | null = null;
  private limitsAt = 0;
  private admitBucket: Bucket | null = null;
  private dispatchBucket: Bucket | null = null;
  private windows = new Map<string, Window>();

  private async current(now: number): Promise<Limits> {
    if (this.limits && now - this.limitsAt < LIMITS_TTL_MS) return this.limits;
    const row = await this.env.DB.prepare(
      "SELECT user_sends_per_minute AS u, workspace_sends_per_second AS r, workspace_send_burst AS b FROM workspaces WHERE id = ?",
    )
      .bind(this.ctx.id.name ?? "")
      .first<{ u: number | null; r: number | null; b: number | null }>();
    this.limits = {
      userPerMinute: row?.u ?? SEND_LIMITS.userPerMinute,
      workspacePerSecond: row?.r ?? SEND_LIMITS.workspacePerSecond,
      workspaceBurst: row?.b ?? SEND_LIMITS.workspaceBurst,
    };
    this.limitsAt = now;
    return this.limits;
  }

  /** Forget the cached limits (an admin changed them). */
  async refresh(): Promise<void> {
    this.limits = null;
  }

  /** `sender`: `user:<id>` (held to the per-member minute) or `key:<id>` (integrations: the workspace limit only). */
  async admit(sender: string): Promise<Admission> {
    const now = Date.now();
    const limits = await this.current(now);
    const perMember = sender.startsWith("user:");
    const user = count(
      this.windows.get(sender) ?? { start: now, count: 0 },
      perMember ? limits.userPerMinute : Number.MAX_SAFE_INTEGER,
      now,
    );
    if (!user.allowed) {
      return {
        allowed: false,
        limit: limits.userPerMinute,
        remaining: 0,
        resetSeconds: Math.ceil(user.resetMs / 1000),
        retryAfterSeconds: Math.max(1, Math.ceil(user.resetMs / 1000)),
        which: "user",
      };
    }
    const bucket = this.admitBucket ?? { tokens: limits.workspaceBurst, at: now };
    const ws = take(bucket, 1, limits.workspacePerSecond, limits.workspaceBurst, now);
    this.admitBucket = ws.bucket;
    if (ws.taken === 0) {
      return {
        allowed: false,
        limit: limits.workspaceBurst,
        remaining: 0,
        resetSeconds: Math.max(1, Math.ceil(ws.retryAfterMs / 1000)),
        retryAfterSeconds: Math.max(1, Math.ceil(ws.retryAfterMs / 1000)),
        which: "workspace",
      };
    }
    if (!perMember) {
      return {
        allowed: true,
        limit: limits.workspaceBurst,
        remaining: Math.floor(ws.bucket.tokens),
        resetSeconds: Math.max(1, Math.ceil((limits.workspaceBurst - ws.bucket.tokens) / limits.workspacePerSecond)),
        retryAfterSeconds: 0,
        which: "workspace",
      };
    }
    this.windows.set(sender, user.window);
    if (this.windows.size > 10_000) this.windows.clear();
    return {
      allowed: true,
      limit: limits.userPerMinute,
      remaining: user.remaining,
      resetSeconds: Math.max(1, Math.ceil(user.resetMs / 1000)),
      retryAfterSeconds: 0,
      which: "user",
    };
  }

  /** How many of `n` messages may be handed to Twilio now, and when to try the rest. */
  async dispatch(n: number): Promise<{ allowed: number; retryAfterMs: number }> {
    const now = Date.now();
    const limits = await this.current(now);
    const bucket = this.dispatchBucket ?? { tokens: limits.workspaceBurst, at: now };
    const result = take(bucket, n, limits.workspacePerSecond, limits.workspaceBurst, now);
    this.dispatchBucket = result.bucket;
    return { allowed: result.taken, retryAfterMs: result.retryAfterMs };
  }
}

export function limiterFor(env: Env, workspaceId: string): DurableObjectStub<WorkspaceLimiter> {
  return env.WORKSPACE_LIMITER.get(env.WORKSPACE_LIMITER.idFromName(workspaceId));
}
