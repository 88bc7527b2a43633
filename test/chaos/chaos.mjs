#!/usr/bin/env node
// `npm run test:chaos`: the fault-injection run of invariants 1–3 against the real dev runtime.
// Drives `wrangler dev` and the Twilio emulator with N outbound messages while the emulator injects
// 500s, 429s, hangs (before and after creating the message), and dropped, duplicated and reordered
// callbacks; SIGKILLs the dev server mid-run (local queues lose what was in flight) and restarts it;
// fires the cron jobs; then asserts every message is terminal, the emulator holds exactly one message
// per Parley message, and each stored status equals the emulator's. Exits non-zero on any failure.
//
//   node test/chaos/chaos.mjs [--messages=1000] [--kills=1]
import { api, signupWorkspace } from "../../scripts/http.mjs";
import { startStack } from "../../scripts/stack.mjs";

const COUNT = Number(process.argv.find((a) => a.startsWith("--messages="))?.slice(11) ?? 1000);
const KILLS = Number(process.argv.find((a) => a.startsWith("--kills="))?.slice(8) ?? 1);
// The SIGKILLs land while sends are still being accepted: the first after 40 %, the rest spread to 90 %.
const CRASH_AT = Array.from({ length: KILLS }, (_, k) =>
  Math.floor(COUNT * (0.4 + (KILLS > 1 ? (0.5 * k) / (KILLS - 1) : 0))),
);
const TERMINAL = new Set(["delivered", "undelivered", "failed", "delivery_unknown", "canceled"]);
const FAULTS = {
  rates: { error500: 0.04, error429: 0.05, error500AfterCreate: 0.03, hang: 0.005, hangAfterCreate: 0.005 },
  callbacks: { drop: 0.05, duplicate: 0.1, reorder: 0.1 },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Hard limits, so a wedged run fails loudly instead of hanging CI: one send may be retried for at
// most ACCEPT_LIMIT_MS, and the whole run is killed (stack included) after RUN_LIMIT_MS.
const ACCEPT_LIMIT_MS = 3 * 60_000;
const RUN_LIMIT_MS = 20 * 60_000;

async function main() {
  const started = Date.now();
  console.log(
    `chaos: ${COUNT} messages, faults ${JSON.stringify(FAULTS)}, SIGKILL after ${CRASH_AT.join(", ")} accepted`,
  );
  const stack = await startStack({
    port: 8807,
    emulatorPort: 8808,
    vars: { RECONCILE_AFTER_SECONDS: "3", OUTBOX_GRACE_SECONDS: "15", DELIVERY_UNKNOWN_AFTER_SECONDS: "3600" },
    emulatorEnv: { EMULATOR_SENT_MS: "50", EMULATOR_FINAL_MS: "100" },
  });
  const failures = [];
  const watchdog = setTimeout(async () => {
    console.error(`\nchaos FAILED: the run took longer than ${RUN_LIMIT_MS / 60_000} minutes; stopping it`);
    await stack.stop();
    process.exit(1);
  }, RUN_LIMIT_MS);
  watchdog.unref();
  try {
    const base = stack.appUrl;
    const from = "+14155550100";
    const { key } = await signupWorkspace(base, "chaos", from);
    await fetch(`${stack.emulatorUrl}/_control/faults`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(FAULTS),
    });

    // Send like a careful integration: retry each request with its Idempotency-Key until accepted.
    const customers = Array.from({ length: 50 }, (_, i) => `+1415555${String(2000 + i).padStart(4, "0")}`);
    let next = 0;
    let accepted = 0;
    let clientRetries = 0;
    let crashing = Promise.resolve();
    const crash = async () => {
      console.log(`chaos: SIGKILL of wrangler dev after ${accepted} accepted`);
      const t = Date.now();
      await stack.crashAndRestart();
      console.log(`chaos: dev server back after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    };
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < COUNT) {
          const i = next++;
          const giveUpAt = Date.now() + ACCEPT_LIMIT_MS;
          for (;;) {
            let problem;
            try {
              const res = await api(base, "POST", "/api/messages", {
                key,
                headers: { "Idempotency-Key": `chaos-${i}` },
                body: { to: customers[i % customers.length], body: `chaos message ${i}` },
              });
              if (res.status === 202) break;
              problem = `${res.status} ${JSON.stringify(res.json)}`;
            } catch (err) {
              problem = String(err);
            }
            if (Date.now() > giveUpAt) {
              throw new Error(`message ${i} not accepted within ${ACCEPT_LIMIT_MS / 1000} s; last answer: ${problem}`);
            }
            clientRetries++;
            await sleep(500);
          }
          accepted++;
          if (CRASH_AT.includes(accepted)) {
            crashing = crashing.then(crash);
            crashing.catch(() => undefined); // awaited (and reported) below
          }
        }
      }),
    );
    await crashing;
    const acceptedAt = Date.now();
    console.log(
      `chaos: all ${COUNT} accepted (${clientRetries} client retries); driving crons until every message is terminal`,
    );

    let byStatus = null;
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      await fetch(`${base}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`).catch(() => undefined);
      await fetch(`${base}/cdn-cgi/handler/scheduled?cron=*/15+*+*+*+*`).catch(() => undefined);
      byStatus = (await api(base, "GET", "/api/ops/delivery", { key })).json.byStatus;
      const inFlight = byStatus.scheduled + byStatus.pending + byStatus.queued + byStatus.sending + byStatus.sent;
      if (inFlight === 0) break;
      if (Date.now() > deadline) {
        failures.push(`not all terminal after 10 minutes: ${JSON.stringify(byStatus)}`);
        break;
      }
      await sleep(2000);
    }
    const allTerminalSeconds = (Date.now() - started) / 1000;

    // Compare Parley's truth with the emulator's.
    const stored = new Map();
    let cursor = null;
    do {
      const page = (await api(base, "GET", `/api/conversations?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { key }))
        .json;
      for (const conv of page.items) {
        let after = 0;
        for (;;) {
          const thread = (
            await api(base, "GET", `/api/conversations/${conv.id}/messages?after=${after}&limit=200`, { key })
          ).json;
          for (const m of thread.items) stored.set(m.body, m);
          if (!thread.nextCursor) break;
          after = Number(thread.nextCursor);
        }
      }
      cursor = page.nextCursor;
    } while (cursor);
    const emulated = (await (await fetch(`${stack.emulatorUrl}/_control/messages`)).json()).messages.filter(
      (m) => m.from === from && m.direction === "outbound-api",
    );
    const stats = await (await fetch(`${stack.emulatorUrl}/_control/stats`)).json();
    const atTwilio = new Map();
    for (const m of emulated) atTwilio.set(m.body, [...(atTwilio.get(m.body) ?? []), m]);
    let duplicates = 0;
    let lost = 0;
    let mismatched = 0;
    let notTerminal = 0;
    for (let i = 0; i < COUNT; i++) {
      const body = `chaos message ${i}`;
      const ours = stored.get(body);
      const theirs = atTwilio.get(body) ?? [];
      if (theirs.length > 1) duplicates += theirs.length - 1;
      if (!ours) {
        lost++;
        continue;
      }
      if (!TERMINAL.has(ours.status)) notTerminal++;
      if (theirs.length === 0 && ours.status !== "failed") lost++;
      if (
        theirs.length === 1 &&
        theirs[0].status !== ours.status &&
        !(ours.status === "delivery_unknown" && theirs[0].status === "sent")
      ) {
        mismatched++;
        if (mismatched <= 5) console.log(`chaos: mismatch ${body}: ours ${ours.status}, emulator ${theirs[0].status}`);
      }
    }
    if (stored.size !== COUNT) failures.push(`Parley stores ${stored.size} messages, expected ${COUNT}`);
    if (duplicates) failures.push(`${duplicates} duplicate SMS at the emulator`);
    if (lost) failures.push(`${lost} messages lost`);
    if (mismatched) failures.push(`${mismatched} stored statuses differ from the emulator's`);
    if (notTerminal) failures.push(`${notTerminal} messages not terminal`);

    console.log("\nchaos figures");
    console.log(`  messages                      ${COUNT} (${stored.size} stored, ${emulated.length} at the emulator)`);
    console.log(
      `  final statuses                ${JSON.stringify(Object.fromEntries(Object.entries(byStatus).filter(([, n]) => n > 0)))}`,
    );
    console.log(`  faults injected               ${JSON.stringify(stats.faults)}`);
    console.log(`  dev server SIGKILLs           ${KILLS} (restarted on the same state)`);
    console.log(`  client retries (same key)     ${clientRetries}`);
    console.log(`  duplicates / lost / mismatch  ${duplicates} / ${lost} / ${mismatched}`);
    console.log(
      `  time to all terminal          ${allTerminalSeconds.toFixed(1)} s (${((Date.now() - acceptedAt) / 1000).toFixed(1)} s after the last was accepted)`,
    );
  } catch (err) {
    failures.push(`run crashed: ${err instanceof Error ? err.stack : err}`);
  } finally {
    clearTimeout(watchdog);
    await stack.stop();
  }
  if (failures.length) {
    console.error(`\nchaos FAILED:\n- ${failures.join("\n- ")}`);
    process.exit(1);
  }
  console.log("\nchaos passed: every message terminal, exactly one SMS each, statuses match");
}

main();
