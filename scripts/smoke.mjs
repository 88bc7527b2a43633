// `npm run smoke -- <base-url> [--to +1…] [--from +1…] [--key pk_…]`: sends one message end to end through a
// running Parley and reports each hop's time, from the message's own events:
//   request → 202 (stored, enqueued) → queued (the consumer handed it to Twilio) → sent → delivered.
// Credentials: --key or PARLEY_API_KEY (messages:send + messages:read). Against a local `npm run dev` with
// neither, it signs in as the demo owner and texts the demo customer on the emulator.
// Exit code 0 when the message reached delivered (or read), 1 otherwise.
import { DEMO } from "./seed.mjs";

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const base = (args.find((a) => /^https?:\/\//.test(a)) ?? "http://127.0.0.1:8787").replace(/\/$/, "");
const local = /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(base);
const timeoutMs = Number(flag("timeout") ?? 60) * 1000;

async function credentials() {
  const key = flag("key") ?? process.env.PARLEY_API_KEY;
  if (key) return { Authorization: `Bearer ${key}` };
  if (!local) throw new Error("give an API key: --key pk_… or PARLEY_API_KEY");
  const res = await fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: base },
    body: JSON.stringify({ email: DEMO.email, password: DEMO.password }),
  });
  if (!res.ok) throw new Error(`signing in as the demo owner failed (${res.status}); is npm run dev running?`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  return { Cookie: cookie, Origin: base };
}

async function main() {
  const auth = await credentials();
  const to = flag("to") ?? process.env.PARLEY_SMOKE_TO ?? (local ? DEMO.customer : undefined);
  if (!to) throw new Error("give the number to text: --to +1… (a phone you can check)");
  const from = flag("from");
  const body = `Parley smoke test ${new Date().toISOString()}`;
  const t0 = performance.now();
  const started = Date.now();
  const res = await fetch(`${base}/api/messages`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json", "Idempotency-Key": `smoke-${started}` },
    body: JSON.stringify({ to, body, ...(from ? { from } : {}) }),
  });
  const accepted = performance.now() - t0;
  const msg = await res.json();
  if (res.status !== 202) throw new Error(`POST /api/messages answered ${res.status}: ${JSON.stringify(msg)}`);
  console.log(`smoke: ${base} → ${to} (message ${msg.id})`);
  console.log(
    `  request → 202 stored and enqueued   ${accepted.toFixed(0)} ms  (${res.headers.get("Server-Timing") ?? ""})`,
  );
  const seen = new Map();
  let last = null;
  while (Date.now() - started < timeoutMs) {
    const r = await fetch(`${base}/api/messages/${msg.id}`, { headers: auth });
    last = await r.json();
    for (const e of last.events ?? []) if (!seen.has(e.status)) seen.set(e.status, Date.parse(e.at));
    if (["delivered", "read", "undelivered", "failed"].includes(last.status)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const created = Date.parse(msg.createdAt);
  const hops = [
    ["pending → queued (queue, consumer, Twilio accepted)", "pending", "queued"],
    ["queued → sent (Twilio to the carrier)", "queued", "sent"],
    ["sent → delivered (carrier receipt)", "sent", "delivered"],
  ];
  for (const [label, a, b] of hops) {
    const from = a === "pending" ? created : seen.get(a);
    const at = seen.get(b);
    console.log(`  ${label.padEnd(52)} ${from && at ? `${at - from} ms` : "—"}`);
  }
  const end = seen.get("delivered") ?? seen.get("read");
  console.log(`  total, request to delivered                          ${end ? `${end - started} ms` : "—"}`);
  console.log(`  final status: ${last?.status}${last?.errorMessage ? ` (${last.errorMessage})` : ""}`);
  process.exit(["delivered", "read"].includes(last?.status) ? 0 : 1);
}

main().catch((err) => {
  console.error(`smoke: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
