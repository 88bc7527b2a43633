/**
 * The outbound queue's message: `{ messageId }` only (the row in D1 is the truth), validated on both
 * sides, and the retry backoff the consumer asks for.
 */
import { z } from "zod";

export const OutboundJobSchema = z.object({ messageId: z.string().min(1).max(64) });
export type OutboundJob = z.infer<typeof OutboundJobSchema>;

export async function enqueueOutbound(env: Env, messageId: string, delaySeconds?: number): Promise<void> {
  const job: OutboundJob = OutboundJobSchema.parse({ messageId });
  await env.OUTBOUND.send(job, delaySeconds ? { delaySeconds } : undefined);
}

export async function enqueueOutboundMany(env: Env, messageIds: string[]): Promise<void> {
  for (let i = 0; i < messageIds.length; i += 100) {
    await env.OUTBOUND.sendBatch(
      messageIds.slice(i, i + 100).map((messageId) => ({ body: OutboundJobSchema.parse({ messageId }) })),
    );
  }
}

/** Exponential backoff with full jitter: ~1, 2, 4 … s, capped at 5 minutes. `attempt` counts from 1. */
export function backoffSeconds(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(300, 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.ceil(ceiling / 2 + random() * (ceiling / 2)));
}
