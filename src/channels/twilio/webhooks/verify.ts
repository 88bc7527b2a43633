/**
 * Step one and two of every Twilio webhook: read the raw form (keeping repeated keys), then verify
 * X-Twilio-Signature over PUBLIC_BASE_URL + path + query and all parameters, in constant time.
 * Missing or wrong: 403 and nothing else happens.
 */
import type { MiddlewareHandler } from "hono";
import { findInboxOfAccount } from "../../../db/queries/inboxes";
import { ApiError } from "../../../domain/errors";
import type { AppEnv } from "../../../http/context";
import { log } from "../../../log";
import { webhookTokenFor } from "../../credentials";
import { verifySignature } from "../signature";

export type WebhookEnv = AppEnv & {
  Variables: AppEnv["Variables"] & {
    twilioParams: [string, string][];
    /** The Twilio account whose Auth Token the signature was checked with. */
    twilioAccountSid: string;
  };
};

/** The URL Twilio signed: our public origin plus the path and query it requested. */
export function publicUrl(env: Env, requestUrl: string): string {
  const url = new URL(requestUrl);
  return `${env.PUBLIC_BASE_URL.replace(/\/$/, "")}${url.pathname}${url.search}`;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * A deployment whose PUBLIC_BASE_URL is still the local default computes every signature over the
 * wrong URL, so every webhook would fail its check with no clue why: refuse them with the reason
 * (503, logged) instead. Local requests (wrangler dev, tests) are not affected.
 */
function misconfiguredBaseUrl(env: Env, requestUrl: string): boolean {
  const configured = new URL(env.PUBLIC_BASE_URL);
  return LOCAL_HOSTS.has(configured.hostname) && !LOCAL_HOSTS.has(new URL(requestUrl).hostname);
}

export const verifyTwilioSignature: MiddlewareHandler<WebhookEnv> = async (c, next) => {
  if (misconfiguredBaseUrl(c.env, c.req.url)) {
    log("error", "webhook refused: PUBLIC_BASE_URL is still the local default", {
      publicBaseUrl: c.env.PUBLIC_BASE_URL,
      requestOrigin: new URL(c.req.url).origin,
      fix: "set PUBLIC_BASE_URL (wrangler.toml [vars]) to this deployment's public origin and deploy again",
    });
    throw new ApiError(
      503,
      "misconfigured",
      "This deployment's PUBLIC_BASE_URL is still the local default, so Twilio signatures cannot be checked.",
    );
  }
  const type = c.req.header("Content-Type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    throw new ApiError(415, "unsupported_media_type", "Twilio webhooks are application/x-www-form-urlencoded.");
  }
  // Form bodies are UTF-8 text; decode the bytes explicitly (workerd warns on .text() for form types).
  const params = [...new URLSearchParams(new TextDecoder().decode(await c.req.arrayBuffer()))];
  const url = publicUrl(c.env, c.req.url);
  // The signature is the Auth Token of the account the webhook says it is from: the deployment's, or
  // an inbox's own account. What it may then touch is checked against that account downstream.
  const claimed = params.find(([k]) => k === "AccountSid")?.[1];
  const account = claimed && claimed !== c.env.TWILIO_ACCOUNT_SID ? claimed : c.env.TWILIO_ACCOUNT_SID;
  const inbox = account === c.env.TWILIO_ACCOUNT_SID ? null : await findInboxOfAccount(c.get("db"), account);
  const token =
    account === c.env.TWILIO_ACCOUNT_SID ? c.env.TWILIO_AUTH_TOKEN : inbox ? await webhookTokenFor(c.env, inbox) : null;
  const ok = token !== null && (await verifySignature(token, c.req.header("X-Twilio-Signature"), url, params));
  if (!ok) {
    log("warn", "webhook signature rejected", {
      path: c.req.path,
      hasSignature: c.req.header("X-Twilio-Signature") !== undefined,
    });
    throw new ApiError(403, "invalid_signature", "Missing or invalid X-Twilio-Signature.");
  }
  c.set("twilioParams", params);
  c.set("twilioAccountSid", account);
  await next();
};

/** First value of each parameter, for zod permit-lists (repeated keys only matter for the signature). */
export function firstValues(params: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) if (!(k in out)) out[k] = v;
  return out;
}
