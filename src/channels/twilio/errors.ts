/**
 * Twilio failures as one typed error: HTTP status, Twilio code, whether retrying may help, and
 * whether the request may have created a message anyway (an "ambiguous" attempt, TWILIO.md §1.1).
 */

/** Codes that will fail again for the same message (TWILIO.md §2.1). */
const PERMANENT_CODES = new Set([
  63016, 63024, 63032, 63051, 20003, 20404, 21211, 21212, 21408, 21602, 21603, 21604, 21606, 21608, 21610, 21612, 21614,
  21617, 21619, 21620, 21621, 21623, 21635, 21658, 30400, 30409, 35111, 35114, 35115, 35117, 35118, 35125,
]);

/** Codes that are worth retrying later even though the HTTP status is 4xx. */
const RETRYABLE_CODES = new Set([20429, 21611, 20009]);

import { ProviderError } from "../errors";

export type TwilioFailureKind = "http" | "timeout" | "network" | "invalid_response";

export class TwilioError extends ProviderError {
  constructor(
    override readonly kind: TwilioFailureKind,
    message: string,
    httpStatus: number | null,
    code: number | null,
    /** Another attempt later may succeed. */
    retryable: boolean,
    /** The request may have reached Twilio and created a message (timeouts, network errors, 5xx). */
    ambiguous: boolean,
  ) {
    super(kind, message, httpStatus, code, retryable, ambiguous);
    this.name = "TwilioError";
  }

  static fromHttp(status: number, code: number | null, message: string): TwilioError {
    if (code !== null && PERMANENT_CODES.has(code)) return new TwilioError("http", message, status, code, false, false);
    if (status === 429 || (code !== null && RETRYABLE_CODES.has(code))) {
      // A 429 was not processed (TWILIO.md §2): safe to send again without a lookup.
      return new TwilioError("http", message, status, code, true, false);
    }
    if (status >= 500) return new TwilioError("http", message, status, code, true, true);
    return new TwilioError("http", message, status, code, false, false);
  }
}

export function isTwilioError(err: unknown): err is TwilioError {
  return err instanceof TwilioError;
}
