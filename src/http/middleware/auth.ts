/**
 * Authentication: `Authorization: Bearer <api key>` for integrations, the session cookie for
 * browsers. Either resolves to one workspace; every query downstream filters on it.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { findActiveApiKey, findSession, type PresentedCredential, touchApiKey } from "../../db/queries/auth";
import type { Role } from "../../db/schema";
import { ApiError, forbidden, unauthorized } from "../../domain/errors";
import { sha256Hex } from "../../security/crypto";
import { parseScopes, ROLE_SCOPES, type Scope } from "../../shared/scopes";
import type { AppEnv, Principal } from "../context";
import { requiredScope } from "../permissions";

export const SESSION_COOKIE = "parley_session";
export const API_KEY_PREFIX = "pk_";

/** The credential the request presents (cookie or bearer), hashed; null when it presents none usable. */
export async function presentedCredential(c: Context<AppEnv>): Promise<PresentedCredential | null> {
  const header = c.req.header("Authorization");
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    return match?.[1] ? { kind: "api_key", hash: await sha256Hex(match[1]) } : null;
  }
  const token = getCookie(c, SESSION_COOKIE);
  return token ? { kind: "session", hash: await sha256Hex(token) } : null;
}

/**
 * The hottest reads (the conversation list, a thread page) check their credential inside their own
 * query (see credentialSql) instead of a lookup first: one round trip. They ask for the full
 * principal only when that query finds nothing, to tell "empty" from 401/403/404.
 */
const FOLDED_CREDENTIAL_READS = [
  /^\/api\/conversations$/,
  /^\/api\/conversations\/[^/]+\/messages$/,
  /^\/api\/search$/,
];

export function foldsCredential(method: string, path: string): boolean {
  return method === "GET" && FOLDED_CREDENTIAL_READS.some((re) => re.test(path));
}

/**
 * The caller as a principal, or 401. API keys are held to their scopes by the permission table (403
 * insufficient_scope); sessions by their role, per route. requireAuth, and a folded read that found nothing.
 */
export async function principalNow(c: Context<AppEnv>): Promise<Principal> {
  const principal = await resolvePrincipal(c);
  if (!principal) throw unauthorized();
  const scope = requiredScope(c.req.method, c.req.path);
  if (scope && !principal.scopes.has(scope)) {
    throw principal.kind === "api_key"
      ? insufficientScope(scope)
      : forbidden(`Your role (${principal.role}) cannot do this; it needs ${roleFor(scope)}.`);
  }
  c.set("principal", principal);
  return principal;
}

/** Resolves the caller without failing; null when there are no (valid) credentials. */
export async function resolvePrincipal(c: Context<AppEnv>): Promise<Principal | null> {
  const credential = await presentedCredential(c);
  if (!credential) return null;
  const db = c.get("db");
  const now = Date.now();
  if (credential.kind === "api_key") {
    const key = await findActiveApiKey(db, credential.hash);
    if (!key) return null;
    // last_used_at is advisory; at most one write a minute per key keeps the hot path read-only.
    if (!key.lastUsedAt || now - key.lastUsedAt > 60_000) {
      c.executionCtx.waitUntil(touchApiKey(c.get("d1"), key.id, now));
    }
    const scopes = parseScopes(key.scopes);
    return {
      kind: "api_key",
      workspaceId: key.workspaceId,
      userId: null,
      role: scopes.has("admin") ? "admin" : "agent",
      credentialId: key.id,
      scopes,
      expiresAt: null,
      clientIp: c.req.header("CF-Connecting-IP") ?? null,
    };
  }
  const session = await findSession(db, credential.hash, now);
  if (!session) return null;
  return {
    kind: "session",
    workspaceId: session.workspaceId,
    userId: session.userId,
    role: session.role,
    credentialId: credential.hash,
    scopes: new Set<Scope>(ROLE_SCOPES[session.role]),
    expiresAt: session.expiresAt,
    clientIp: c.req.header("CF-Connecting-IP") ?? null,
  };
}

export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  await principalNow(c);
  await next();
};

/** The least role whose members hold `scope`. */
function roleFor(scope: Scope): string {
  return scope === "admin"
    ? "an owner or admin"
    : scope === "messages:read"
      ? "a viewer or above"
      : "an agent or above";
}

function insufficientScope(scope: Scope) {
  return new ApiError(403, "insufficient_scope", `This API key lacks the ${scope} scope.`, { required: scope });
}

/** A key must carry `scope`; sessions pass (their role decides). */
export function requireScope(c: Context<AppEnv>, scope: Scope): Principal {
  const principal = c.get("principal");
  if (principal.kind === "api_key" && !principal.scopes.has(scope)) throw insufficientScope(scope);
  return principal;
}

/** Administration: an owner or admin, or an API key with the admin scope. */
export function requireAdmin(c: Context<AppEnv>): Principal {
  requireScope(c, "admin");
  return requireRole(c, "owner", "admin");
}

export function requireRole(c: Context<AppEnv>, ...roles: Role[]): Principal {
  const principal = c.get("principal");
  if (!roles.includes(principal.role)) {
    throw forbidden(`This needs the ${roles.join(" or ")} role; you are ${principal.role}.`);
  }
  return principal;
}

/** Minting credentials needs a signed-in person: a leaked key must not be able to mint more keys. */
export function requireSessionRole(c: Context<AppEnv>, ...roles: Role[]): Principal & { userId: string } {
  const principal = requireRole(c, ...roles);
  if (principal.kind !== "session" || principal.userId === null) {
    throw forbidden("API keys are managed by signed-in owners and admins, not by other API keys.");
  }
  return { ...principal, userId: principal.userId };
}
