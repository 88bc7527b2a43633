/**
 * Authentication: `Authorization: Bearer <api key>` for integrations, the session cookie for
 * browsers. Either resolves to one workspace; every query downstream filters on it.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { findActiveApiKey, findSession } from "../../db/queries/auth";
import type { Role } from "../../db/schema";
import { sha256Hex } from "../../security/crypto";
import type { AppEnv, Principal } from "../context";
import { forbidden, unauthorized } from "../errors";

export const SESSION_COOKIE = "parley_session";
export const API_KEY_PREFIX = "pk_";

/** Resolves the caller without failing; null when there are no (valid) credentials. */
export async function resolvePrincipal(c: Context<AppEnv>): Promise<Principal | null> {
  const db = c.get("db");
  const now = Date.now();
  const header = c.req.header("Authorization");
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match?.[1]) return null;
    const key = await findActiveApiKey(db, await sha256Hex(match[1]));
    if (!key) return null;
    // last_used_at is advisory; at most one write a minute per key keeps the hot path read-only.
    if (!key.lastUsedAt || now - key.lastUsedAt > 60_000) {
      c.executionCtx.waitUntil(
        c.env.DB.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").bind(now, key.id).run(),
      );
    }
    return { kind: "api_key", workspaceId: key.workspaceId, userId: null, role: "admin", credentialId: key.id };
  }
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return null;
  const tokenHash = await sha256Hex(token);
  const session = await findSession(db, tokenHash, now);
  if (!session) return null;
  return {
    kind: "session",
    workspaceId: session.workspaceId,
    userId: session.userId,
    role: session.role,
    credentialId: tokenHash,
  };
}

export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = await resolvePrincipal(c);
  if (!principal) throw unauthorized();
  c.set("principal", principal);
  await next();
};

export function requireRole(c: Context<AppEnv>, ...roles: Role[]): Principal {
  const principal = c.get("principal");
  if (!roles.includes(principal.role)) {
    throw forbidden(`This needs the ${roles.join(" or ")} role; you are ${principal.role}.`);
  }
  return principal;
}

/** Managing credentials needs a signed-in person: a leaked key must not be able to mint more keys. */
export function requireSessionRole(c: Context<AppEnv>, ...roles: Role[]): Principal & { userId: string } {
  const principal = requireRole(c, ...roles);
  if (principal.kind !== "session" || principal.userId === null) {
    throw forbidden("API keys are managed by signed-in owners and admins, not by other API keys.");
  }
  return { ...principal, userId: principal.userId };
}
