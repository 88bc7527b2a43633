/**
 * What the Worker tells a room about an authenticated socket (set by the Worker, never by the client),
 * and the small per-socket state kept in the hibernation attachment.
 */
import { z } from "zod";
import { liveCredentials } from "../db/queries/auth";

export const IDENTITY_HEADER = "X-Parley-Identity";

export const SocketIdentitySchema = z.object({
  workspaceId: z.string(),
  conversationId: z.string().optional(),
  /** null for API keys. */
  userId: z.string().nullable(),
  name: z.string(),
  /** The credential the socket was opened with: it ends when the credential does. */
  credential: z.object({
    kind: z.enum(["session", "api_key"]),
    /** The session's token hash or the API key's id. */
    id: z.string(),
    /** When a session lapses; null for API keys. */
    expiresAt: z.number().nullable(),
  }),
});
export type SocketIdentity = z.infer<typeof SocketIdentitySchema>;

export interface SocketState extends SocketIdentity {
  /** Typing frames accepted in the current window, and when that window started. */
  typingWindowStart: number;
  typingCount: number;
  /** When this socket's typing indicator lapses (0: not typing). */
  typingUntil: number;
  /** Bad frames so far; too many closes the socket with 1008. */
  strikes: number;
}

export const MAX_FRAME_BYTES = 4096;
export const MAX_STRIKES = 5;
export const TYPING_WINDOW_MS = 5000;
export const TYPING_MAX_PER_WINDOW = 10;
export const TYPING_TTL_MS = 5000;

/** Close code for a socket whose credentials ended (logout, expiry, revocation). */
export const CREDENTIALS_ENDED = 4401;
/** How often a room with sockets re-checks their credentials (they end within twice this). */
export const CREDENTIAL_CHECK_MS = 30_000;

/** Closes a socket whose credential ended; no frame reaches it after this. */
export function closeForCredentials(ws: WebSocket, why: string): void {
  try {
    ws.close(CREDENTIALS_ENDED, why.slice(0, 120));
  } catch {
    // already closing
  }
}

/**
 * Sockets (of this object) whose credentials ended: a lapsed session is known without I/O; logouts,
 * revocations and (later) member removals are read from D1 in one query for all credentials at once.
 */
export async function socketsWithEndedCredentials(
  db: D1Database,
  sockets: WebSocket[],
  now: number,
): Promise<{ ws: WebSocket; why: string }[]> {
  const states = sockets
    .map((ws) => ({ ws, state: ws.deserializeAttachment() as SocketIdentity | null }))
    .filter((x): x is { ws: WebSocket; state: SocketIdentity } => x.state?.credential !== undefined);
  const ended: { ws: WebSocket; why: string }[] = [];
  const live: typeof states = [];
  for (const x of states) {
    if (x.state.credential.expiresAt !== null && x.state.credential.expiresAt <= now)
      ended.push({ ws: x.ws, why: "session expired" });
    else live.push(x);
  }
  if (live.length === 0) return ended;
  const sessionIds = [
    ...new Set(live.filter((x) => x.state.credential.kind === "session").map((x) => x.state.credential.id)),
  ];
  const keyIds = [
    ...new Set(live.filter((x) => x.state.credential.kind === "api_key").map((x) => x.state.credential.id)),
  ];
  const valid = await liveCredentials(db, sessionIds, keyIds, now);
  for (const x of live) {
    if (!valid.has(x.state.credential.id)) {
      ended.push({ ws: x.ws, why: x.state.credential.kind === "session" ? "session ended" : "API key revoked" });
    }
  }
  return ended;
}

/** Reserved close codes must not be sent; reply with a normal close instead. */
export function reciprocalCloseCode(code: number): number {
  return code === 1005 || code === 1006 || code === 1015 || code < 1000 || code > 4999 ? 1000 : code;
}
