/** Browser sessions: a random token in an HttpOnly cookie, stored as its SHA-256 hash. */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { setCookie } from "hono/cookie";
import { SESSION_TTL_MS } from "../db/queries/auth";
import { sessions } from "../db/schema";
import { inboxFor } from "../rooms/inbox-stream";
import { randomToken, sha256Hex } from "../security/crypto";
import type { AppEnv, Principal } from "./context";
import { SESSION_COOKIE } from "./middleware/auth";

export function clientKey(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? "local";
}

export function isLocalHost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

/** Starts a session for `userId` in `workspaceId` and sets its cookie. Returns the token's hash. */
export async function startSession(c: Context<AppEnv>, userId: string, workspaceId: string): Promise<string> {
  const token = randomToken(32);
  const tokenHash = await sha256Hex(token);
  const expiresAt = Date.now() + SESSION_TTL_MS;
  await c.get("db").insert(sessions).values({ tokenHash, userId, workspaceId, expiresAt });
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: !isLocalHost(c.req.url),
    path: "/",
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
  return tokenHash;
}

/**
 * Moves a signed-in user to another of their workspaces: a new session there, the old one ended and
 * its sockets (opened for the old workspace) closed, so nothing keeps streaming the other workspace.
 */
export async function switchSession(c: Context<AppEnv>, principal: Principal, workspaceId: string): Promise<void> {
  if (principal.kind !== "session" || !principal.userId) return;
  await startSession(c, principal.userId, workspaceId);
  await c.get("db").delete(sessions).where(eq(sessions.tokenHash, principal.credentialId));
  c.executionCtx.waitUntil(
    inboxFor(c.env, principal.workspaceId)
      .closeCredential(principal.credentialId)
      .catch(() => 0),
  );
}
