/**
 * Failures a manual retry may fix: transient at Twilio or the carrier, or our own give-up after the
 * queue's retries (no code). Shared by the retry route and the browser's Retry button.
 */
export const RETRYABLE_FAILURE_CODES: ReadonlySet<number> = new Set([20429, 21611, 30001, 30003, 30008, 30036, 30500]);

export function isRetryableFailure(code: number | null): boolean {
  return code === null || RETRYABLE_FAILURE_CODES.has(code);
}
