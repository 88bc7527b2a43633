/**
 * A provider's refusal or failure as one typed error, whatever the channel: HTTP status, the
 * provider's code, whether retrying may help, and whether the request may have created a message
 * anyway (an "ambiguous" attempt). Each provider folder maps its wire errors onto it.
 */
export type ProviderFailureKind = "http" | "timeout" | "network" | "invalid_response";

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderFailureKind,
    message: string,
    readonly httpStatus: number | null,
    readonly code: number | null,
    /** Another attempt later may succeed. */
    readonly retryable: boolean,
    /** The request may have reached the provider and created a message (timeouts, network errors, 5xx). */
    readonly ambiguous: boolean,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}
