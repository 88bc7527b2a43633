/**
 * Security headers on every response, and the Origin check that keeps cookie-authenticated
 * mutations same-origin (SameSite=Lax already stops most cross-site POSTs; this stops the rest).
 */
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { ApiError } from "../../domain/errors";
import type { AppEnv } from "../context";
import { SESSION_COOKIE } from "./auth";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  // A WebSocket handshake's headers belong to the Durable Object's response and are immutable.
  if (c.res.status === 101) return;
  const h = c.res.headers;
  h.set("X-Content-Type-Options", "nosniff");
  h.set("Referrer-Policy", "strict-origin-when-cross-origin");
  h.set("X-Frame-Options", "DENY");
  h.set("Cross-Origin-Opener-Policy", "same-origin");
  h.set("Cross-Origin-Resource-Policy", "same-origin");
  h.set("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  if (new URL(c.req.url).protocol === "https:") {
    h.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  }
  if (!h.has("Content-Security-Policy")) {
    h.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }
  if (c.req.path.startsWith("/api/") && !h.has("Cache-Control")) h.set("Cache-Control", "no-store");
};

/**
 * Rejects unsafe requests that carry the session cookie (or target sign-in) from another origin.
 * Requests without Origin and without Sec-Fetch-Site come from non-browser clients, which a
 * cross-site attacker cannot make send the victim's cookie.
 */
export const originCheck: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (SAFE_METHODS.has(c.req.method)) return next();
  const usesCookie = getCookie(c, SESSION_COOKIE) !== undefined || c.req.path.startsWith("/api/auth/");
  if (!usesCookie || c.req.header("Authorization")) return next();
  const origin = c.req.header("Origin");
  const allowed = new Set([new URL(c.req.url).origin, new URL(c.env.PUBLIC_BASE_URL).origin]);
  if (origin !== undefined) {
    if (!allowed.has(origin)) throw new ApiError(403, "cross_origin", "Cross-origin requests are not allowed.");
  } else {
    const site = c.req.header("Sec-Fetch-Site");
    if (site !== undefined && site !== "same-origin" && site !== "none") {
      throw new ApiError(403, "cross_origin", "Cross-origin requests are not allowed.");
    }
  }
  return next();
};
