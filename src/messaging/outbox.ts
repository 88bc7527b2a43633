/**
 * The outbound queue's message: `{ messageId }` only (the row in D1 is the truth), validated on both
 * sides, and the retry backoff the consumer asks for.
 */
import { z } from "zod";

export const OutboundJobSchema = z.object({
  messageId: z.string().min(1).max(64),
  /** Lets the consumer share Twilio fairly between workspaces before it loads anything (optional). */
  workspaceId: z.string().min(1).max(64).optional(),
  /** Times the message went back to the queue untaken (fair share, Twilio 429s): not retries. */
  deferrals: z.number().int().min(0).max(1000).optional(),
});
export type OutboundJob = z.infer<typeof OutboundJobSchema>;

export async function enqueueOutbound(
  env: Env,
  messageId: string,
  opts: { delaySeconds?: number; workspaceId?: string; deferrals?: number } = {},
): Promise<void> {
  const job: OutboundJob = OutboundJobSchema.parse({
    messageId,
    ...(opts.workspaceId ? { workspaceId: opts.workspaceId } : {}),
    ...(opts.deferrals ? { deferrals: opts.deferrals } : {}),
  });
  await env.OUTBOUND.send(job, opts.delaySeconds ? { delaySeconds: opts.delaySeconds } : undefined);
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
