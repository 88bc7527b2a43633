/**
 * X-Twilio-Signature (TWILIO.md §6): HMAC-SHA1, keyed with the Auth Token, over the full public URL
 * followed by every POST parameter name+value sorted by name (repeated keys kept, values sorted),
 * Base64-encoded and compared in constant time.
 */
import { timingSafeEqualStrings, toBase64 } from "../../security/crypto";

const encoder = new TextEncoder();

/** The string Twilio signs: URL, then `name + value` for each parameter, sorted by name (byte order). */
export function signaturePayload(url: string, params: Iterable<[string, string]>): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of params) {
    const values = byName.get(name) ?? [];
    values.push(value);
    byName.set(name, values);
  }
  let payload = url;
  for (const name of [...byName.keys()].sort()) {
    // Like twilio-node's validateRequest: repeated values deduplicated and sorted.
    for (const value of [...new Set(byName.get(name))].sort()) payload += name + value;
  }
  return payload;
}

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for a token, imported once per isolate. */
function hmacKey(authToken: string): Promise<CryptoKey> {
  let key = keys.get(authToken);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(authToken), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
    keys.set(authToken, key);
  }
  return key;
}

export async function computeSignature(
  authToken: string,
  url: string,
  params: Iterable<[string, string]>,
): Promise<string> {
  const key = await hmacKey(authToken);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(signaturePayload(url, params)));
  return toBase64(new Uint8Array(mac));
}

/** Port variants Twilio's SDK also accepts: the default port added when absent, or the port removed. */
function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#:]+)(?::(\d+))?(.*)$/i.exec(url);
  if (!match) return [url];
  const [, scheme = "", host = "", port, rest = ""] = match;
  const defaultPort = scheme.toLowerCase() === "https" ? "443" : "80";
  return port === undefined ? [url, `${scheme}://${host}:${defaultPort}${rest}`] : [url, `${scheme}://${host}${rest}`];
}

export async function verifySignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: [string, string][],
): Promise<boolean> {
  if (!signature) return false;
  let ok = false;
  for (const candidate of urlVariants(url)) {
    // Every candidate is computed and compared, so timing does not depend on which one matched.
    const expected = await computeSignature(authToken, candidate, params);
    if (timingSafeEqualStrings(expected, signature)) ok = true;
  }
  return ok;
}
