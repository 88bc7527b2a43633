/**
 * The one error path: handlers and the messaging steps throw an ApiError (or one of the helpers below),
 * a plain typed error with no I/O; the HTTP app's onError renders
 * `{ error: { code, message, details? } }` with its status. Anything else becomes a logged 500 with
 * a generic message and never a stack.
 */
/** The statuses an error can carry (hono's ContentfulStatusCode accepts each of these). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 426 | 429 | 500 | 502 | 503;

export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const badRequest = (message: string, details?: unknown) => new ApiError(400, "bad_request", message, details);
export const unauthorized = (message = "Sign in or pass an API key in the Authorization header.") =>
  new ApiError(401, "unauthorized", message);
export const forbidden = (message = "Your role does not allow this.") => new ApiError(403, "forbidden", message);
export const notFound = (what = "Resource") => new ApiError(404, "not_found", `${what} not found.`);
export const conflict = (message: string, details?: unknown) => new ApiError(409, "conflict", message, details);
export const unprocessable = (code: string, message: string, details?: unknown) =>
  new ApiError(422, code, message, details);
export const tooManyRequests = (retryAfterSeconds: number, message = "Too many attempts; try again later.") =>
  new ApiError(429, "rate_limited", message, { retryAfterSeconds }, { "Retry-After": String(retryAfterSeconds) });

export interface FieldIssue {
  path: string;
  message: string;
}

/** 422 naming each field that failed validation. */
export const validationFailed = (issues: FieldIssue[]) => {
  const first = issues[0];
  const message = first
    ? `Invalid ${first.path || "request"}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`
    : "The request is not valid.";
  return new ApiError(422, "validation_failed", message, { fields: issues });
};

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
