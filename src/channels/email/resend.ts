/**
 * Outbound email through Resend's HTTP API (POST /emails), with ky. The message id is the
 * Idempotency-Key, so a redelivered queue message never sends the same email twice (Resend keeps
 * keys for 24 hours; our queue gives up long before). Errors become ProviderErrors.
 */
import ky, { isHTTPError, isNetworkError, isTimeoutError } from "ky";
import { z } from "zod";
import { ProviderError } from "../errors";

export interface ResendConfig {
  apiKey: string;
  apiBase: string;
  timeoutMs?: number;
}

export interface ResendEmail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  headers?: Record<string, string>;
  attachments?: { filename: string; path: string; content_type?: string }[];
}

const SentSchema = z.object({ id: z.string().min(1) });
const ErrorSchema = z.object({ name: z.string().optional(), message: z.string().optional() });

/** Resend error names (HTTP 4xx) that a later attempt will not fix. */
const PERMANENT = new Set([
  "validation_error",
  "missing_required_field",
  "invalid_from_address",
  "invalid_to_address",
  "invalid_attachment",
  "not_found",
  "invalid_idempotency_key",
  "invalid_idempotent_request",
]);

/** Our numeric codes for email failures (the message's errorCode), described in src/channels/email/index.ts. */
export const EMAIL_ERROR = {
  rejected: 61001,
  credentials: 61002,
  bounced: 61003,
  complained: 61004,
  suppressed: 61005,
} as const;

export async function sendEmail(config: ResendConfig, email: ResendEmail, idempotencyKey: string) {
  try {
    const res = await ky.post("emails", {
      prefix: config.apiBase.replace(/\/?$/, "/"),
      json: email,
      timeout: config.timeoutMs ?? 10_000,
      retry: 0,
      headers: { Authorization: `Bearer ${config.apiKey}`, "Idempotency-Key": idempotencyKey },
    });
    const parsed = SentSchema.safeParse(await res.json());
    if (!parsed.success)
      throw new ProviderError("invalid_response", "Unexpected Resend response", 200, null, true, true);
    return parsed.data;
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    if (isHTTPError(err)) {
      const status = err.response.status;
      const body = ErrorSchema.safeParse(err.data);
      const name = body.success ? (body.data.name ?? "") : "";
      const message = body.success && body.data.message ? body.data.message : `Resend answered HTTP ${status}`;
      if (status === 401 || status === 403) {
        return Promise.reject(new ProviderError("http", message, status, EMAIL_ERROR.credentials, false, false));
      }
      if (status === 429 || status === 409) {
        // 409: the same key is still being processed; a later attempt gets its result.
        return Promise.reject(new ProviderError("http", message, status, null, true, false));
      }
      if (status >= 500) return Promise.reject(new ProviderError("http", message, status, null, true, true));
      const permanent = PERMANENT.has(name) || status === 422 || status === 400;
      return Promise.reject(
        new ProviderError("http", message, status, permanent ? EMAIL_ERROR.rejected : null, !permanent, false),
      );
    }
    if (isTimeoutError(err))
      throw new ProviderError("timeout", "Resend did not answer in time", null, null, true, true);
    if (isNetworkError(err))
      throw new ProviderError("network", `Network error: ${err.message}`, null, null, true, true);
    throw new ProviderError("network", `Could not reach Resend: ${String(err)}`, null, null, true, true);
  }
}
