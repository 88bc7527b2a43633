/**
 * What the Worker tells a room about an authenticated socket (set by the Worker, never by the client),
 * and the small per-socket state kept in the hibernation attachment.
 */
import { z } from "zod";

export const IDENTITY_HEADER = "X-Parley-Identity";

export const SocketIdentitySchema = z.object({
  workspaceId: z.string(),
  conversationId: z.string().optional(),
  /** null for API keys. */
  userId: z.string().nullable(),
  name: z.string(),
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

/** Reserved close codes must not be sent; reply with a normal close instead. */
export function reciprocalCloseCode(code: number): number {
  return code === 1005 || code === 1006 || code === 1015 || code < 1000 || code > 4999 ? 1000 : code;
}
