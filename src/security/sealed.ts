/**
 * Secrets at rest and signed links, both under the Worker secret CREDENTIALS_KEY (32 random bytes,
 * base64). Two keys are derived from it with HKDF, one per use, so a signed media link can never
 * help anyone open a sealed credential:
 * - seal/unseal: AES-256-GCM with a fresh 12-byte IV per value, `v1.<iv>.<ciphertext>` (base64url);
 *   the inbox id is the additional data, so a sealed value copied onto another inbox does not open.
 * - signLink/verifyLink: HMAC-SHA256 over `path|expires`, for URLs a provider fetches without our
 *   session (Twilio fetching an MMS attachment).
 */
import { ApiError } from "../domain/errors";
import { timingSafeEqualStrings, toBase64Url } from "./crypto";

const encoder = new TextEncoder();

interface KeyEnv {
  CREDENTIALS_KEY?: string;
}

function fromBase64Any(text: string): Uint8Array {
  const normal = text.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(normal + "=".repeat((4 - (normal.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const cache = new Map<string, Promise<CryptoKey>>();

function derive(env: Env, info: "credentials" | "links"): Promise<CryptoKey> {
  const secret = (env as Env & KeyEnv).CREDENTIALS_KEY;
  if (!secret) {
    throw new ApiError(
      503,
      "misconfigured",
      "CREDENTIALS_KEY is not set: set it with `wrangler secret put CREDENTIALS_KEY` (32 random bytes, base64).",
    );
  }
  const id = `${info}:${secret}`;
  let key = cache.get(id);
  if (!key) {
    key = (async () => {
      const raw = fromBase64Any(secret);
      if (raw.byteLength < 32) throw new ApiError(503, "misconfigured", "CREDENTIALS_KEY must be at least 32 bytes.");
      const base = await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveKey"]);
      const params = { name: "HKDF", hash: "SHA-256", salt: encoder.encode("parley"), info: encoder.encode(info) };
      return info === "credentials"
        ? crypto.subtle.deriveKey(params, base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"])
        : crypto.subtle.deriveKey(params, base, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"]);
    })();
    cache.set(id, key);
  }
  return key;
}

/** Encrypts `value` (JSON) for the row `boundTo`. */
export async function seal(env: Env, boundTo: string, value: unknown): Promise<string> {
  const key = await derive(env, "credentials");
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = encoder.encode(JSON.stringify(value));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(boundTo) }, key, data);
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ct))}`;
}

/** Decrypts what seal made for `boundTo`; throws on any tampering or a wrong key. */
export async function unseal<T>(env: Env, boundTo: string, sealed: string): Promise<T> {
  const [version, ivText, ctText] = sealed.split(".");
  if (version !== "v1" || !ivText || !ctText) throw new Error("not a sealed value");
  const key = await derive(env, "credentials");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64Any(ivText), additionalData: encoder.encode(boundTo) },
    key,
    fromBase64Any(ctText),
  );
  return JSON.parse(new TextDecoder().decode(plain)) as T;
}

async function linkSignature(env: Env, path: string, expires: number): Promise<string> {
  const key = await derive(env, "links");
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${path}|${expires}`));
  return toBase64Url(new Uint8Array(mac));
}

/** `path?expires=…&sig=…`, valid until `expires` (ms). */
export async function signLink(env: Env, path: string, expires: number): Promise<string> {
  return `${path}?expires=${expires}&sig=${await linkSignature(env, path, expires)}`;
}

export async function verifyLink(env: Env, path: string, expires: string | undefined, sig: string | undefined) {
  const at = Number(expires);
  if (!sig || !Number.isFinite(at) || at < Date.now()) return false;
  return timingSafeEqualStrings(await linkSignature(env, path, at), sig);
}
