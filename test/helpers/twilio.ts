/**
 * Talking to the Twilio emulator from workerd tests: its control API, and delivering the signed
 * callbacks / inbound texts it holds into the Worker's real fetch handler.
 */
import { env, exports } from "cloudflare:workers";

const testEnv = env as unknown as Env & { TEST_EMULATOR_URL: string };
export const EMULATOR_URL = testEnv.TEST_EMULATOR_URL;

export async function control<T = any>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${EMULATOR_URL}/_control${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export interface HeldRequest {
  url: string;
  body: string;
  signature: string;
  kind: "status" | "inbound";
  messageSid: string;
  phone: string;
}

/** Takes the emulator's held requests for one customer number. */
export async function takeHeld(phone: string): Promise<HeldRequest[]> {
  return (await control<{ requests: HeldRequest[] }>("/held", { phone })).requests;
}

/** Delivers one held request into the Worker as Twilio would (signed form POST). */
export async function deliver(req: HeldRequest, overrides: { signature?: string | null; body?: string } = {}) {
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
  const signature = overrides.signature === undefined ? req.signature : overrides.signature;
  if (signature !== null) headers["X-Twilio-Signature"] = signature;
  const res = await exports.default.fetch(
    new Request(req.url, { method: "POST", headers, body: overrides.body ?? req.body }),
  );
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Messages the emulator holds for a customer number (what Twilio "sent"). */
export async function emulatorMessages(phone: string): Promise<any[]> {
  return (await control<{ messages: any[] }>(`/messages?phone=${encodeURIComponent(phone)}`)).messages;
}

export async function scriptFaults(to: string, script: string[]): Promise<void> {
  await control("/faults/to", { to, script });
}

/** Simulates a customer's text (held), then returns the signed request(s) to deliver. */
export async function inboundText(input: {
  from: string;
  to: string;
  body: string;
  times?: number;
  mediaUrls?: string[];
  optOutType?: string;
}) {
  const { sid } = await control<{ sid: string }>("/inbound", input);
  const held = (await control<{ requests: HeldRequest[] }>("/held", { phone: input.from, sid })).requests;
  return { sid, held };
}

/** Polls until `check` returns a value, or fails after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  ms = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
