/**
 * The outbound queue's message: `{ messageId }` only (the row in D1 is the truth), validated on both
 * sides, and the retry backoff the consumer asks for; sendAll puts many jobs on any queue.
 */
import { z } from "zod";

export const OutboundJobSchema = z.object({
  messageId: z.string().min(1).max(64),
  /** Lets the consumer share Twilio fairly between workspaces before it loads anything (optional). */
  workspaceId: z.string().min(1).max(64).optional(),
  /** Times the message went back to the queue untaken (fair share, Twilio 429s): not retries. */
  deferrals: z.number().int().min(0).max(1000).optional(),
  /** A campaign message's sender and its rate: the bulk consumer takes only what the sender can send soon. */
  from: z.string().min(1).max(32).optional(),
  rate: z.number().int().min(1).max(1000).optional(),
});
export type OutboundJob = z.infer<typeof OutboundJobSchema>;

export async function enqueueOutbound(
  env: Env,
  messageId: string,
  opts: { delaySeconds?: number; workspaceId?: string; deferrals?: number; bulk?: boolean } = {},
): Promise<void> {
  const job: OutboundJob = OutboundJobSchema.parse({
    messageId,
    ...(opts.workspaceId ? { workspaceId: opts.workspaceId } : {}),
    ...(opts.deferrals ? { deferrals: opts.deferrals } : {}),
  });
  const queue = opts.bulk ? env.BULK : env.OUTBOUND;
  await queue.send(job, opts.delaySeconds ? { delaySeconds: opts.delaySeconds } : undefined);
}

/**
 * Enqueues many messages, 100 per send: campaign messages (`bulk`) on the bulk queue, the rest on the
 * outbound queue, so a campaign's backlog never stands in front of a conversation's message.
 */
export async function enqueueOutboundMany(
  env: Env,
  items: (string | { id: string; bulk?: boolean; workspaceId?: string; from?: string; rate?: number | null })[],
): Promise<void> {
  const list = items.map((item) => (typeof item === "string" ? { id: item } : item));
  for (const bulk of [false, true]) {
    const ids = list.filter((m) => Boolean(m.bulk) === bulk);
    const queue = bulk ? env.BULK : env.OUTBOUND;
    for (let i = 0; i < ids.length; i += 100) {
      await queue.sendBatch(
        ids.slice(i, i + 100).map((m) => ({
          body: OutboundJobSchema.parse({
            messageId: m.id,
            ...(m.workspaceId ? { workspaceId: m.workspaceId } : {}),
            ...(m.from && m.rate ? { from: m.from, rate: m.rate } : {}),
          }),
        })),
      );
    }
  }
}

/** Exponential backoff with full jitter: ~1, 2, 4 … s, capped at 5 minutes. `attempt` counts from 1. */
export function backoffSeconds(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(300, 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.ceil(ceiling / 2 + random() * (ceiling / 2)));
}

/** Cloudflare Queues take at most 100 messages per sendBatch call. */
const SEND_BATCH_MAX = 100;

/** Puts jobs on a queue in as few sendBatch calls as the platform allows. */
export async function sendAll<Body>(queue: Queue<Body>, bodies: Body[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += SEND_BATCH_MAX) {
    await queue.sendBatch(bodies.slice(i, i + SEND_BATCH_MAX).map((body) => ({ body })));
  }
}
