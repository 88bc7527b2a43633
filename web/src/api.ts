/**
 * The browser's API client: same-origin fetch with the session cookie, the one error shape turned into
 * ApiError, and plain words when the server cannot be reached.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** The message of the first invalid field, for inline errors. */
  fieldMessage(field: string): string | null {
    const fields = (this.details as { fields?: { path: string; message: string }[] } | undefined)?.fields;
    const hit = fields?.find((f) => f.path === field || f.path.startsWith(`${field}.`));
    return hit ? hit.message : null;
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? headers : { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "Parley can't be reached. Check your connection; nothing you typed is lost.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = (json as { error?: { code: string; message: string; details?: unknown } } | null)?.error;
    if (res.status === 401 && !path.startsWith("/api/auth/")) for (const l of unauthorizedListeners) l();
    throw new ApiError(
      res.status,
      err?.code ?? "http_error",
      err?.message ??
        (res.status >= 500
          ? "Parley had a problem on its side. Try again in a moment."
          : `Request failed (${res.status}).`),
      err?.details,
    );
  }
  return json as T;
}

/** An error in words for the page: a field's own message when `field` is named and has one. */
export function errorText(err: unknown, field?: string): string {
  if (err instanceof ApiError) return (field && err.fieldMessage(field)) || err.message;
  return err instanceof Error ? err.message : String(err);
}
