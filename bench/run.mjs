#!/usr/bin/env node
// `npm run bench`: Parley's performance figures, each taken beside the dev runtime's own floor (a
// trivial route) in the same run, against a throwaway stack (scripts/stack.mjs) on 127.0.0.1 only.
// Prints a table and writes bench/results/latest.json. Bounded in count and time.
//
//   node bench/run.mjs [--quick] [--only=phase,phase]
// Phases: latency, throughput, cpu, fanout, resume, outbound, faults, import, rate, campaign, reads, analytics, size
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { gzipSync } from "node:zlib";
import { api, signupWorkspace } from "../scripts/http.mjs";
import { cpuSeconds, startStack } from "../scripts/stack.mjs";
import { inboundRequest, randomUs, statusRequest } from "./twilio-requests.mjs";

const workspace = (base) => signupWorkspace(base, "bench", randomUs());

const args = new Set(process.argv.slice(2));
const QUICK = args.has("--quick");
const ONLY = [...args]
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
const want = (phase) => !ONLY || ONLY.includes(phase);
const N = {
  latency: QUICK ? 50 : 300,
  throughputSeconds: QUICK ? 3 : 8,
  fanoutClients: 50,
  fanoutRounds: QUICK ? 20 : 100,
  resume: 500,
  outbound: QUICK ? 200 : 1000,
  reads: QUICK ? 50 : 300,
};

const results = { at: new Date().toISOString(), quick: QUICK, node: process.version, figures: {} };
const rows = [];
const row = (name, value, note = "") => {
  rows.push([name, value, note]);
  console.log(`  ${name.padEnd(58)} ${String(value).padStart(12)}  ${note}`);
};

const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
const ms = (v) => `${v.toFixed(1)} ms`;
const now = () => performance.now();
const sleep = (t) => new Promise((r) => setTimeout(r, t));

function isWorkerd(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd");
  } catch {
    return false;
  }
}

/**
 * What a stack process is, for the CPU split: wrangler's proxy `workerd` (it listens on the public port
 * and forwards every request and WebSocket message), the app's `workerd` (the Worker, its Durable
 * Objects, Miniflare's D1 and queues), wrangler's Node process, the emulator; null for helpers (esbuild).
 */
function processLabel(pid, port) {
  let cmd;
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return null;
  }
  if (cmd.includes("workerd")) return cmd.includes(`entry=127.0.0.1:${port} `) ? "proxy workerd" : "app workerd";
  if (cmd.includes("emulator/main")) return "emulator";
  if (cmd.includes("wrangler")) return "wrangler";
  return null;
}

/** CPU seconds so far of each kind of stack process (processLabel). */
function cpuByProcess(stack, port) {
  const split = {};
  for (const pid of stack.pids()) {
    const label = processLabel(pid, port);
    if (label) split[label] = (split[label] ?? 0) + cpuSeconds([pid]);
  }
  return split;
}

/** "app workerd 0.8, proxy workerd 1.1, …" ms per unit between two cpuByProcess readings. */
function perUnitSplit(before, after, units) {
  return Object.keys(after)
    .sort()
    .map((label) => `${label} ${(((after[label] - (before[label] ?? 0)) * 1000) / units).toFixed(2)}`)
    .join(", ");
}

/** The D1 work a response reports (Server-Timing: d1;desc="round-trips=R statements=S"). */
function d1Of(res) {
  const m = /round-trips=(\d+) statements=(\d+)/.exec(res.headers.get("Server-Timing") ?? "");
  return m ? `${m[1]} / ${m[2]}` : "—";
}

async function timed(fn) {
  const t = now();
  await fn();
  return now() - t;
}

/** Runs `task` from `connections` loops for `seconds`; returns completed count and errors. */
async function load(connections, seconds, task) {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        try {
          const ok = await task();
          if (ok) done++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { done, errors, perSecond: done / seconds };
}

function openSocket(stack, path, key) {
  const ws = new WebSocket(stack.appUrl.replace(/^http/, "ws") + path, { headers: { Authorization: `Bearer ${key}` } });
  const listeners = new Set();
  ws.addEventListener("message", (e) => {
    const at = now();
    const frame = JSON.parse(String(e.data));
    for (const l of listeners) l(frame, at);
  });
  const opened = new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  return { ws, opened, listeners };
}

async function waitAllTerminal(stack, key, expected, { tick } = {}) {
  const t0 = now();
  const deadline = Date.now() + 15 * 60_000;
  let lastTick = 0;
  while (Date.now() < deadline) {
    const ops = (await api(stack.appUrl, "GET", "/api/ops/delivery", { key })).json;
    const s = ops.byStatus;
    const inFlight = s.scheduled + s.pending + s.queued + s.sending + s.sent;
    const total = Object.values(s).reduce((a, b) => a + b, 0);
    if (total >= expected && inFlight === 0) return { seconds: (now() - t0) / 1000, byStatus: s };
    if (tick && Date.now() - lastTick > 2000) {
      lastTick = Date.now();
      await tick();
    }
    await sleep(250);
  }
  throw new Error("messages did not all reach a terminal status in 15 minutes");
}

async function cron(stack, expr) {
  await fetch(
    `${stack.appUrl}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(expr).replaceAll("%20", "+")}`,
  ).catch(() => undefined);
}

/** Sends `count` messages, waits until all are terminal, and compares Parley with the emulator. */
async function outboundRun(stack, label, count) {
  const ws = await workspace(stack.appUrl);
  const customers = Array.from({ length: Math.max(1, Math.floor(count / 10)) }, randomUs);
  const t0 = now();
  let next = 0;
  const ids = [];
  const rejected = [];
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < count) {
        const i = next++;
        const res = await api(stack.appUrl, "POST", "/api/messages", {
          key: ws.key,
          body: { to: customers[i % customers.length], body: `${label} message ${i}` },
          headers: { "Idempotency-Key": `${label}-${i}` },
        });
        if (res.status === 202) ids.push(res.json.id);
        else rejected.push(res.status);
      }
    }),
  );
  const acceptSeconds = (now() - t0) / 1000;
  const settled = await waitAllTerminal(stack, ws.key, count, {
    tick: async () => {
      await cron(stack, "*/15 * * * *");
      await cron(stack, "* * * * *");
    },
  });
  const totalSeconds = (now() - t0) / 1000;
  // Parley's view: every accepted message and its stored status.
  const stored = new Map();
  let cursor = null;
  do {
    const page = (
      await api(stack.appUrl, "GET", `/api/conversations?limit=100${cursor ? `&cursor=${cursor}` : ""}`, {
        key: ws.key,
      })
    ).json;
    for (const conv of page.items) {
      const thread = (
        await api(stack.appUrl, "GET", `/api/conversations/${conv.id}/messages?limit=200`, { key: ws.key })
      ).json;
      for (const m of thread.items) stored.set(m.body, m);
    }
    cursor = page.nextCursor;
  } while (cursor);
  // The emulator's view: what "Twilio" actually sent.
  const sent = (await (await fetch(`${stack.emulatorUrl}/_control/messages`)).json()).messages.filter(
    (m) => m.from === ws.from && m.direction === "outbound-api",
  );
  const byBody = new Map();
  for (const m of sent) byBody.set(m.body, [...(byBody.get(m.body) ?? []), m]);
  let duplicates = 0;
  let lost = 0;
  let mismatched = 0;
  for (let i = 0; i < count; i++) {
    const body = `${label} message ${i}`;
    const atTwilio = byBody.get(body) ?? [];
    const ours = stored.get(body);
    if (atTwilio.length > 1) duplicates += atTwilio.length - 1;
    if (!ours || !["delivered", "undelivered", "failed", "delivery_unknown", "canceled"].includes(ours.status)) lost++;
    else if (atTwilio.length === 1 && atTwilio[0].status !== ours.status) mismatched++;
    else if (atTwilio.length === 0 && ours.status !== "failed") lost++;
  }
  return {
    count,
    accepted: ids.length,
    rejected: rejected.length,
    acceptSeconds,
    totalSeconds,
    settleSeconds: settled.seconds,
    duplicates,
    lost,
    mismatched,
    byStatus: settled.byStatus,
    atTwilio: sent.length,
  };
}

async function main() {
  console.log(
    `Parley benchmark${QUICK ? " (quick)" : ""} — starting a throwaway stack on 127.0.0.1:8797 (emulator :8798)`,
  );
  if (want("size")) sizePhase();
  // Phases with their own stack (or none) skip the shared one when they are all that was asked for.
  const needsStack = !ONLY || ONLY.some((p) => !["reads", "analytics", "size"].includes(p));
  if (needsStack) {
    const stack = await startStack({
      port: 8797,
      emulatorPort: 8798,
      vars: { RECONCILE_AFTER_SECONDS: "2", OUTBOX_GRACE_SECONDS: "30", DELIVERY_UNKNOWN_AFTER_SECONDS: "3600" },
      emulatorEnv: { EMULATOR_SENT_MS: "50", EMULATOR_FINAL_MS: "100" },
    });
    try {
      const base = stack.appUrl;
      const ws = await workspace(base);
      const customers = Array.from({ length: 20 }, randomUs);
      // Warm up: first requests compile and create the rooms.
      for (const c of customers) await fetch(...Object.values(inboundRequest(stack, c, ws.from, "warm up")));
      for (let i = 0; i < 20; i++) await fetch(`${base}/api/healthz`);

      if (want("d1")) {
        // What each hot operation costs D1 (the Worker's work plus its rooms'), as the responses report it;
        // tests pin these budgets (test/integration/budget/d1-budget.test.ts).
        console.log("\nD1 round trips / statements per operation (from each response's Server-Timing)");
        const auth = { Authorization: `Bearer ${ws.key}`, "Content-Type": "application/json" };
        const conv = await (
          await fetch(`${base}/api/conversations`, {
            method: "POST",
            headers: auth,
            body: JSON.stringify({ phone: customers[0] }),
          })
        ).json();
        const figures = {};
        const measure = async (name, request) => {
          const res = await request();
          await res.text();
          figures[name] = d1Of(res);
          row(name, figures[name]);
        };
        await measure("send in a conversation (auth included)", () =>
          fetch(`${base}/api/conversations/${conv.id}/messages`, {
            method: "POST",
            headers: auth,
            body: JSON.stringify({ body: "budget" }),
          }),
        );
        await measure("send with an Idempotency-Key", () =>
          fetch(`${base}/api/conversations/${conv.id}/messages`, {
            method: "POST",
            headers: { ...auth, "Idempotency-Key": `bench-${Date.now()}` },
            body: JSON.stringify({ body: "budget keyed" }),
          }),
        );
        await measure("send to a number with a thread (POST /api/messages)", () =>
          fetch(`${base}/api/messages`, {
            method: "POST",
            headers: auth,
            body: JSON.stringify({ to: customers[0], body: "budget direct" }),
          }),
        );
        // A status callback as Twilio makes it, once the send's message has its sid.
        const tracked = await (
          await fetch(`${base}/api/conversations/${conv.id}/messages`, {
            method: "POST",
            headers: auth,
            body: JSON.stringify({ body: "budget tracked" }),
          })
        ).json();
        let sid = null;
        for (let i = 0; i < 100 && !sid; i++) {
          sid = (await (await fetch(`${base}/api/messages/${tracked.id}`, { headers: auth })).json()).providerSid;
          if (!sid) await new Promise((r) => setTimeout(r, 50));
        }
        if (sid) {
          await measure("status callback", () => {
            const req = statusRequest(stack, { mid: tracked.id, cid: conv.id, sid, status: "delivered" });
            return fetch(req.url, req.init);
          });
        }
        await measure("inbound text to an existing thread", () => {
          const req = inboundRequest(stack, customers[0], ws.from, "budget inbound");
          return fetch(req.url, req.init);
        });
        await measure("conversation list page", () => fetch(`${base}/api/conversations`, { headers: auth }));
        await measure("thread page", () => fetch(`${base}/api/conversations/${conv.id}/messages`, { headers: auth }));
        await measure("trivial route", () => fetch(`${base}/api/healthz`));
        results.figures.d1 = figures;
      }

      let floorP50 = null;
      if (want("latency")) {
        console.log("\nInbound webhook latency (sequential, interleaved with the trivial route)");
        const trivial = [];
        const webhook = [];
        for (let i = 0; i < N.latency; i++) {
          trivial.push(await timed(() => fetch(`${base}/api/healthz`).then((r) => r.text())));
          const req = inboundRequest(stack, customers[i % customers.length], ws.from, `latency ${i}`);
          webhook.push(await timed(() => fetch(req.url, req.init).then((r) => r.text())));
        }
        floorP50 = pct(trivial, 50);
        results.figures.latency = {
          n: N.latency,
          trivialP50: floorP50,
          trivialP99: pct(trivial, 99),
          webhookP50: pct(webhook, 50),
          webhookP99: pct(webhook, 99),
        };
        row("trivial route (floor) p50 / p99", `${ms(floorP50)} / ${ms(pct(trivial, 99))}`, `n=${N.latency}`);
        row(
          "inbound webhook p50 / p99",
          `${ms(pct(webhook, 50))} / ${ms(pct(webhook, 99))}`,
          `+${ms(pct(webhook, 50) - floorP50)} over floor at p50`,
        );
      }

      if (want("throughput")) {
        console.log(`\nThroughput, 20 connections, ${N.throughputSeconds} s each`);
        const splitTrivial = cpuByProcess(stack, 8797);
        const trivial = await load(20, N.throughputSeconds, async () => {
          const r = await fetch(`${base}/api/healthz`);
          await r.text();
          return r.ok;
        });
        const splitBetween = cpuByProcess(stack, 8797);
        const pids = stack.pids();
        const cpuBefore = cpuSeconds(pids);
        let i = 0;
        const webhook = await load(20, N.throughputSeconds, async () => {
          const req = inboundRequest(stack, customers[i++ % customers.length], ws.from, `load ${i}`);
          const res = await fetch(req.url, req.init);
          await res.text();
          return res.ok;
        });
        const cpu = cpuSeconds(stack.pids()) - cpuBefore;
        const splitAfter = cpuByProcess(stack, 8797);
        const ratio = webhook.perSecond / trivial.perSecond;
        results.figures.throughput = {
          trivialPerSecond: trivial.perSecond,
          webhookPerSecond: webhook.perSecond,
          ratio,
          errors: trivial.errors + webhook.errors,
          cpuMsPerInbound: (cpu * 1000) / webhook.done,
        };
        row("trivial route req/s", trivial.perSecond.toFixed(0), `errors ${trivial.errors}`);
        row("inbound webhook req/s", webhook.perSecond.toFixed(0), `errors ${webhook.errors}`);
        row("webhook throughput / trivial", `${(ratio * 100).toFixed(0)} %`, "target ≥ 50 %");
        row(
          "CPU per inbound message (all stack processes)",
          `${((cpu * 1000) / webhook.done).toFixed(2)} ms`,
          `${cpu.toFixed(1)} s CPU for ${webhook.done} texts`,
        );
        // Which process each costs (ms of CPU per request): the trivial route is bounded by the machine as a
        // whole, a heavier path by the app's workerd (one thread).
        console.log(`    trivial route, ms CPU a request: ${perUnitSplit(splitTrivial, splitBetween, trivial.done)}`);
        console.log(`    inbound text, ms CPU a request:  ${perUnitSplit(splitBetween, splitAfter, webhook.done)}`);
      }

      if (want("cpu")) {
        // CPU per request, by route, for the workerd processes only (the Worker, its Durable Objects and,
        // locally, Miniflare's D1 simulator): shows what each D1 query costs under wrangler dev.
        console.log("\nworkerd CPU per request, sequential (from /proc)");
        const workerdPids = () => stack.pids().filter((pid) => isWorkerd(pid));
        const perRequest = async (n, fn) => {
          const pids = workerdPids();
          const before = cpuSeconds(pids);
          for (let i = 0; i < n; i++) await fn(i);
          return ((cpuSeconds(pids) - before) * 1000) / n;
        };
        const n = QUICK ? 50 : 200;
        const sendAt = new Date(Date.now() + 3_600_000).toISOString();
        const cpu = {
          trivial: await perRequest(n, () => fetch(`${base}/api/healthz`).then((r) => r.text())),
          me: await perRequest(n, () => api(base, "GET", "/api/me", { key: ws.key })),
          contacts: await perRequest(n, () => api(base, "GET", "/api/contacts", { key: ws.key })),
          send: await perRequest(n, (i) =>
            api(base, "POST", "/api/messages", {
              key: ws.key,
              body: { to: customers[i % customers.length], body: `cpu ${i}`, sendAt },
            }),
          ),
        };
        results.figures.cpu = cpu;
        row("GET /api/healthz (no D1)", `${cpu.trivial.toFixed(1)} ms`);
        row(
          "GET /api/me (2 D1 reads)",
          `${cpu.me.toFixed(1)} ms`,
          `+${(cpu.me - cpu.trivial).toFixed(1)} ms over the trivial route`,
        );
        row(
          "GET /api/contacts (2 D1 reads)",
          `${cpu.contacts.toFixed(1)} ms`,
          `+${(cpu.contacts - cpu.trivial).toFixed(1)} ms`,
        );
        row(
          "POST /api/messages, scheduled (≈5 D1 calls + room)",
          `${cpu.send.toFixed(1)} ms`,
          `+${(cpu.send - cpu.trivial).toFixed(1)} ms`,
        );
      }

      if (want("fanout")) {
        console.log(`\nInbound webhook → frame at each of ${N.fanoutClients} clients in the room`);
        const customer = randomUs();
        await fetch(...Object.values(inboundRequest(stack, customer, ws.from, "open the room")));
        const conv = (await api(base, "POST", "/api/conversations", { key: ws.key, body: { phone: customer } })).json;
        /** `rounds` inbound texts, one at a time; per round, each socket's arrival time after the webhook was sent. */
        const fanRounds = async (sockets, rounds, tag) => {
          const perRound = [];
          for (let r = 0; r < rounds; r++) {
            const body = `fan ${tag} ${r}`;
            const arrivals = sockets.map(
              (s) =>
                new Promise((resolve) => {
                  const l = (frame, at) => {
                    if (frame.type === "message" && frame.message.body === body) {
                      s.listeners.delete(l);
                      resolve(at);
                    }
                  };
                  s.listeners.add(l);
                }),
            );
            const req = inboundRequest(stack, customer, ws.from, body);
            const t0 = now();
            await fetch(req.url, req.init).then((res) => res.text());
            perRound.push((await Promise.all(arrivals)).map((at) => at - t0).sort((a, b) => a - b));
          }
          return perRound;
        };
        const open = async (count) => {
          const sockets = Array.from({ length: count }, () =>
            openSocket(stack, `/api/conversations/${conv.id}/ws`, ws.key),
          );
          await Promise.all(sockets.map((s) => s.opened));
          await sleep(300);
          return sockets;
        };
        // One client first: the same path without the fan-out.
        const alone = await open(1);
        const aloneP50 = pct((await fanRounds(alone, N.fanoutRounds / 2, "alone")).flat(), 50);
        for (const s of alone) s.ws.close();
        const sockets = await open(N.fanoutClients);
        const perRound = await fanRounds(sockets, N.fanoutRounds, "all");
        for (const s of sockets) s.ws.close();
        const samples = perRound.flat();
        const p50 = pct(samples, 50);
        const p99 = pct(samples, 99);
        const firstP50 = pct(
          perRound.map((r) => r[0]),
          50,
        );
        const lastP50 = pct(
          perRound.map((r) => r[r.length - 1]),
          50,
        );
        results.figures.fanout = {
          clients: N.fanoutClients,
          rounds: N.fanoutRounds,
          p50,
          p99,
          floorP50,
          oneClientP50: aloneP50,
          firstP50,
          lastP50,
        };
        const over = (v) => (floorP50 ? ` (+${ms(v - floorP50)})` : "");
        row(
          "webhook → frame at 1 client p50",
          ms(aloneP50),
          floorP50 ? `floor ${ms(floorP50)}: +${ms(aloneP50 - floorP50)}` : "",
        );
        row(
          `webhook → frame at ${N.fanoutClients} clients p50 / p99`,
          `${ms(p50)} / ${ms(p99)}`,
          floorP50 ? `floor ${ms(floorP50)}: +${ms(p50 - floorP50)} / +${ms(p99 - floorP50)}` : "",
        );
        row(
          `  per text: first / last of the ${N.fanoutClients} frames, p50`,
          `${ms(firstP50)} / ${ms(lastP50)}`,
          `${over(firstP50)} /${over(lastP50)}`.trim(),
        );
      }

      if (want("resume")) {
        console.log(`\nResume of ${N.resume} missed events`);
        const customer = randomUs();
        let sentCount = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            while (sentCount < N.resume) {
              const i = sentCount++;
              const req = inboundRequest(stack, customer, ws.from, `missed ${i}`);
              await fetch(req.url, req.init).then((r) => r.text());
            }
          }),
        );
        const conv = (await api(base, "POST", "/api/conversations", { key: ws.key, body: { phone: customer } })).json;
        const s = openSocket(stack, `/api/conversations/${conv.id}/ws`, ws.key);
        const hello = await new Promise((resolve) => s.listeners.add((f) => f.type === "hello" && resolve(f)));
        const got = [];
        const t0 = now();
        const last = new Promise((resolve) =>
          s.listeners.add((f, at) => {
            if (f.type === "message") got.push(f.seq);
            if (f.seq === hello.lastSeq) resolve(at);
          }),
        );
        s.ws.send(JSON.stringify({ type: "resume", afterSeq: hello.lastSeq - N.resume }));
        const elapsed = (await last) - t0;
        s.ws.close();
        const inOrder = got.every((seq, i) => i === 0 || seq === got[i - 1] + 1);
        results.figures.resume = { events: got.length, ms: elapsed, inOrder };
        row(
          `resume of ${N.resume} missed events, time to last frame`,
          ms(elapsed),
          `${got.length} frames, in order: ${inOrder}`,
        );
      }

      if (want("outbound")) {
        console.log(`\n${N.outbound} outbound messages: API → queue → emulator → callbacks, no faults`);
        const workerd = stack.pids().filter((pid) => isWorkerd(pid));
        const cpuBefore = cpuSeconds(workerd);
        const splitBefore = cpuByProcess(stack, 8797);
        const r = await outboundRun(stack, "clean", N.outbound);
        r.workerdCpuSeconds = cpuSeconds(workerd) - cpuBefore;
        r.cpuSplit = perUnitSplit(splitBefore, cpuByProcess(stack, 8797), N.outbound);
        results.figures.outbound = r;
        const perSecond = r.count / r.totalSeconds;
        const trivial = results.figures.throughput?.trivialPerSecond;
        r.ratioToTrivial = trivial ? perSecond / trivial : null;
        row(
          "all terminal after",
          `${r.totalSeconds.toFixed(1)} s`,
          trivial
            ? `${perSecond.toFixed(0)} messages/s = ${(perSecond / trivial).toFixed(2)} × the trivial route (target ≥ 0.25)`
            : `${perSecond.toFixed(0)} messages/s (with --only=throughput,outbound: the ratio to the trivial route)`,
        );
        row(
          "duplicates / lost / status ≠ emulator",
          `${r.duplicates} / ${r.lost} / ${r.mismatched}`,
          `${r.atTwilio} at the emulator`,
        );
        row(
          "workerd CPU per message (from /proc)",
          `${((r.workerdCpuSeconds * 1000) / r.count).toFixed(1)} ms`,
          `${r.workerdCpuSeconds.toFixed(1)} s for ${r.count}, checking the results included${process.env.X_LOCAL_OBSERVABILITY === "true" ? " (trace collector on)" : ""}`,
        );
        console.log(`    ms CPU a message: ${r.cpuSplit}`);
      }

      if (want("faults")) {
        console.log(`\n${N.outbound} outbound messages with faults injected`);
        const faults = {
          rates: { error500: 0.05, error429: 0.05, error500AfterCreate: 0.03, hangAfterCreate: 0.005 },
          callbacks: { drop: 0.05, duplicate: 0.1, reorder: 0.1 },
        };
        await fetch(`${stack.emulatorUrl}/_control/faults`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(faults),
        });
        const before = (await (await fetch(`${stack.emulatorUrl}/_control/stats`)).json()).faults;
        const r = await outboundRun(stack, "faulty", N.outbound);
        const after = (await (await fetch(`${stack.emulatorUrl}/_control/stats`)).json()).faults;
        await fetch(`${stack.emulatorUrl}/_control/faults`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: "{}",
        });
        const injected = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
        results.figures.faults = { ...r, injected };
        row(
          "all terminal after",
          `${r.totalSeconds.toFixed(1)} s`,
          `${(r.count / r.totalSeconds).toFixed(0)} messages/s`,
        );
        row(
          "duplicates / lost / status ≠ emulator",
          `${r.duplicates} / ${r.lost} / ${r.mismatched}`,
          `${r.atTwilio} at the emulator`,
        );
        row(
          "faults injected",
          Object.values(injected).reduce((a, b) => a + b, 0),
          JSON.stringify(injected),
        );
      }
      if (want("import")) {
        const count = QUICK ? 5_000 : 50_000;
        console.log(`\nA CSV import of ${count.toLocaleString("en-US")} rows (R2, then the jobs queue chunk by chunk)`);
        const ws = await workspace(stack.appUrl);
        const lines = ["name,phone,email,plan"];
        for (let i = 0; i < count; i++) {
          lines.push(`"Imported ${i}",+1628${String(2000000 + i)},person${i}@example.com,${i % 3 ? "Free" : "Pro"}`);
        }
        const csv = `${lines.join("\n")}\n`;
        const started = performance.now();
        const res = await fetch(`${stack.appUrl}/api/imports?map=fields.plan:plan`, {
          method: "POST",
          headers: { Authorization: `Bearer ${ws.key}`, "Content-Type": "text/csv", Origin: stack.appUrl },
          body: csv,
        });
        const accepted = await res.json();
        if (res.status !== 202) throw new Error(`import refused: ${res.status} ${JSON.stringify(accepted)}`);
        const acceptedMs = performance.now() - started;
        let last = accepted;
        const deadline = Date.now() + 300_000;
        while (!["done", "failed"].includes(last.status) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          last = (await api(stack.appUrl, "GET", `/api/imports/${accepted.id}`, { key: ws.key })).json;
        }
        const seconds = (performance.now() - started) / 1000;
        results.figures.import = {
          rows: count,
          bytes: csv.length,
          acceptedMs,
          seconds,
          status: last.status,
          imported: last.imported,
        };
        row(
          "upload answered (202) after",
          `${acceptedMs.toFixed(0)} ms`,
          `${(csv.length / 1e6).toFixed(1)} MB streamed to R2`,
        );
        row(
          "all rows imported after",
          `${seconds.toFixed(1)} s`,
          `${last.status}: ${last.imported} new, ${last.errorCount} errors`,
        );
        if (last.status !== "done" || last.imported !== count)
          throw new Error(`import ended ${last.status} with ${last.imported}`);
      }
      if (want("rate")) {
        const rate = 5;
        const count = QUICK ? 20 : 60;
        console.log(`\n${count} messages from a number limited to ${rate} segments per second`);
        const ws = await workspace(stack.appUrl);
        const nums = (await api(stack.appUrl, "GET", "/api/numbers", { key: ws.key })).json.items;
        await api(stack.appUrl, "PATCH", `/api/numbers/${nums[0].id}`, {
          cookie: ws.cookie,
          body: { ratePerSecond: rate },
        });
        // One paced send first, so the pacer's first outbound connection (cold: up to ~0.7 s under
        // `wrangler dev` when this phase runs alone) is not counted as pacing.
        await api(stack.appUrl, "POST", "/api/messages", { key: ws.key, body: { to: randomUs(), body: "warm-up" } });
        await waitAllTerminal(stack, ws.key, 1);
        const customers = Array.from({ length: 6 }, randomUs);
        const t0 = now();
        await Promise.all(
          Array.from({ length: count }, (_, i) =>
            api(stack.appUrl, "POST", "/api/messages", {
              key: ws.key,
              body: { to: customers[i % customers.length], body: `rate ${i}` },
            }),
          ),
        );
        await waitAllTerminal(stack, ws.key, count + 1);
        const seconds = (now() - t0) / 1000;
        const sent = (await (await fetch(`${stack.emulatorUrl}/_control/messages`)).json()).messages
          .filter((m) => m.from === ws.from && m.direction === "outbound-api" && m.body.startsWith("rate "))
          .map((m) => m.created_ms)
          .sort((a, b) => a - b);
        let busiest = 0;
        for (let i = 0, j = 0; i < sent.length; i++) {
          while (sent[i] - sent[j] >= 1000) j++;
          busiest = Math.max(busiest, i - j + 1);
        }
        const achieved = (sent.length - 1) / ((sent.at(-1) - sent[0]) / 1000);
        const gaps = sent.slice(1).map((t, i) => t - sent[i]);
        results.figures.rate = {
          configured: rate,
          count,
          sent: sent.length,
          busiestSecond: busiest,
          achievedPerSecond: achieved,
          minGapMs: Math.min(...gaps),
          p50GapMs: pct(gaps, 50),
          seconds,
        };
        row(
          `busiest 1 s window at the emulator (limit ${rate}/s)`,
          `${busiest} sends`,
          busiest <= rate ? "honoured" : "over by arrival jitter",
        );
        row(
          "gap between sends at the emulator, min / p50",
          `${Math.min(...gaps)} / ${pct(gaps, 50)} ms`,
          `slots are ${1000 / rate} ms apart`,
        );
        row(
          "achieved send rate",
          `${achieved.toFixed(2)} /s`,
          `${sent.length} sent, all terminal after ${seconds.toFixed(1)} s`,
        );
      }
      if (want("campaign")) await campaignPhase(stack);
    } finally {
      await stack.stop();
    }
  }

  if (want("reads")) {
    console.log("\nConversation list, thread page and search over a seeded 100,000-message database");
    const key = `pk_bench_${randomBytes(12).toString("hex")}`;
    const keyHash = createHash("sha256").update(key).digest("hex");
    const seeded = await startStack({ port: 8797, emulatorPort: 8798, seedSql: seedSql(keyHash) });
    try {
      const base = seeded.appUrl;
      for (let i = 0; i < 10; i++) await fetch(`${base}/api/healthz`);
      const floor = [];
      const list = [];
      const thread = [];
      const search = [];
      const searchCommon = [];
      let cursor = null;
      for (let i = 0; i < N.reads; i++) {
        floor.push(await timed(() => fetch(`${base}/api/healthz`).then((r) => r.text())));
        list.push(
          await timed(async () => {
            const page = (
              await api(base, "GET", `/api/conversations?limit=30${cursor ? `&cursor=${cursor}` : ""}`, { key })
            ).json;
            cursor = page.nextCursor;
          }),
        );
        const conv = `cv_seed_${i % 2000}`;
        thread.push(await timed(() => api(base, "GET", `/api/conversations/${conv}/messages?limit=50`, { key })));
        // A word in 100 of the 100,000 messages, and a word in every one of them.
        search.push(await timed(() => expectHits(api(base, "GET", `/api/search?q=ref${(i * 37) % 1000}`, { key }))));
        searchCommon.push(await timed(() => expectHits(api(base, "GET", "/api/search?q=realistic", { key }))));
      }
      const f95 = pct(floor, 95);
      const f50 = pct(floor, 50);
      results.figures.reads = {
        n: N.reads,
        floorP95: f95,
        floorP50: f50,
        listP95: pct(list, 95),
        listP50: pct(list, 50),
        threadP95: pct(thread, 95),
        threadP50: pct(thread, 50),
        searchP95: pct(search, 95),
        searchCommonP95: pct(searchCommon, 95),
        messages: 100_000,
      };
      row("trivial route (floor) p95", ms(f95), `p50 ${ms(f50)}`);
      row(
        "conversation list page (30) p95",
        ms(pct(list, 95)),
        `+${ms(pct(list, 95) - f95)} over floor (p50 +${ms(pct(list, 50) - f50)})`,
      );
      row(
        "thread page (50 messages) p95",
        ms(pct(thread, 95)),
        `+${ms(pct(thread, 95) - f95)} over floor (p50 +${ms(pct(thread, 50) - f50)})`,
      );
      row("search, a word in 100 messages, p95", ms(pct(search, 95)), `+${ms(pct(search, 95) - f95)} over floor`);
      row(
        "search, a word in all 100,000, p95",
        ms(pct(searchCommon, 95)),
        `+${ms(pct(searchCommon, 95) - f95)} over floor`,
      );
    } finally {
      await seeded.stop();
    }
  }

  if (want("analytics")) {
    console.log("\nAnalytics: the 90-day dashboard over rollups of 1,000,000 messages");
    const key = `pk_bench_${randomBytes(12).toString("hex")}`;
    const keyHash = createHash("sha256").update(key).digest("hex");
    const seeded = await startStack({ port: 8797, emulatorPort: 8798, seedSql: analyticsSeedSql(keyHash) });
    try {
      const base = seeded.appUrl;
      for (let i = 0; i < 10; i++) await fetch(`${base}/api/healthz`);
      const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
      const from = new Date(to.getTime() - 90 * 86_400_000);
      const q = `from=${from.toISOString()}&to=${to.toISOString()}&granularity=day`;
      const check = (await api(base, "GET", `/api/analytics?${q}`, { key })).json;
      const total = check.totals.inbound + check.totals.outbound;
      const floor = [];
      const dash = [];
      const agent = [];
      for (let i = 0; i < N.reads; i++) {
        floor.push(await timed(() => fetch(`${base}/api/healthz`).then((r) => r.text())));
        dash.push(await timed(() => api(base, "GET", `/api/analytics?${q}`, { key })));
        agent.push(await timed(() => api(base, "GET", `/api/analytics?${q}&agent=usr_bench_1`, { key })));
      }
      const f95 = pct(floor, 95);
      results.figures.analytics = {
        n: N.reads,
        messages: total,
        floorP95: f95,
        dashboardP95: pct(dash, 95),
        agentP95: pct(agent, 95),
      };
      row("messages in the rollups", total.toLocaleString("en-US"), `${check.series.length} days`);
      row("trivial route (floor) p95", ms(f95));
      row("90-day dashboard p95", ms(pct(dash, 95)), `+${ms(pct(dash, 95) - f95)} over floor`);
      row("90-day dashboard, one agent, p95", ms(pct(agent, 95)), `+${ms(pct(agent, 95) - f95)} over floor`);
    } finally {
      await seeded.stop();
    }
  }

  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/latest.json", `${JSON.stringify(results, null, 2)}\n`);
  console.log("\nfigures written to bench/results/latest.json");
}

/**
 * A campaign to 2,000 contacts (imported with a label) over 4 numbers at 5 segments/s each: paced
 * ideal 100 s. Mid-way an agent replies from one of the numbers (how many campaign sends reach the
 * emulator from that number before the reply does), then the campaign is paused (nothing may reach the
 * emulator 2 s after) and resumed. Then: duplicates, lost, each number's busiest second, and the time
 * against the ideal (the pause not counted).
 */
async function campaignPhase(stack) {
  const total = QUICK ? 400 : 2000;
  const rate = 5;
  const numberCount = 4;
  const ideal = total / (rate * numberCount);
  console.log(
    `\nA campaign to ${total.toLocaleString("en-US")} contacts over ${numberCount} numbers at ${rate}/s each (ideal ${ideal} s)`,
  );
  const ws = await workspace(stack.appUrl);
  const who = { key: ws.key };
  const numbers = (await api(stack.appUrl, "GET", "/api/numbers", who)).json.items;
  for (let i = numbers.length; i < numberCount; i++) {
    numbers.push((await api(stack.appUrl, "POST", "/api/numbers", { ...who, body: { phoneNumber: randomUs() } })).json);
  }
  for (const n of numbers)
    await api(stack.appUrl, "PATCH", `/api/numbers/${n.id}`, { ...who, body: { ratePerSecond: rate } });
  const lines = ["name,phone"];
  for (let i = 0; i < total; i++) lines.push(`Customer ${i},+1628${String(3000000 + i)}`);
  const upload = await fetch(`${stack.appUrl}/api/imports?labels=Bench%20campaign`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ws.key}`, "Content-Type": "text/csv", Origin: stack.appUrl },
    body: `${lines.join("\n")}\n`,
  });
  let imported = await upload.json();
  while (!["done", "failed"].includes(imported.status)) {
    await sleep(200);
    imported = (await api(stack.appUrl, "GET", `/api/imports/${imported.id}`, who)).json;
  }
  if (imported.status !== "done" || imported.imported !== total) {
    throw new Error(
      `campaign bench: the import ended ${imported.status}, ${imported.imported} in, ${imported.errorCount} errors (${imported.errors?.[0]?.reason})`,
    );
  }
  const body = "Bench campaign: our opening hours change on Monday. Reply STOP to opt out.";
  const created = await api(stack.appUrl, "POST", "/api/campaigns", {
    ...who,
    body: { name: "Bench", audience: { labels: ["Bench campaign"] }, body, from: numbers.map((n) => n.id) },
  });
  if (created.status !== 201 || created.json.counts.audience !== total) {
    throw new Error(`campaign not created: ${created.status} ${JSON.stringify(created.json)}`);
  }
  const id = created.json.id;
  const emulatorSends = async () =>
    (await (await fetch(`${stack.emulatorUrl}/_control/messages`)).json()).messages.filter(
      (m) => m.direction === "outbound-api" && numbers.some((n) => n.phoneNumber === m.from),
    );
  const workerd = stack.pids().filter((pid) => isWorkerd(pid));
  const cpuBefore = cpuSeconds(workerd);
  const t0 = Date.now();
  await api(stack.appUrl, "POST", `/api/campaigns/${id}/start`, who);

  // An agent's reply from a busy number, a third of the way in.
  await sleep((ideal / 3) * 1000);
  const customer = randomUs();
  const busy = numbers[1].phoneNumber;
  const tReply = Date.now();
  await api(stack.appUrl, "POST", "/api/messages", {
    cookie: ws.cookie,
    body: { to: customer, from: busy, body: "An agent's reply" },
  });
  let replyAt = null;
  while (replyAt === null && Date.now() - tReply < 10_000) {
    await sleep(20);
    replyAt = (await emulatorSends()).find((m) => m.to === customer)?.created_ms ?? null;
  }
  const ahead = (await emulatorSends()).filter(
    (m) =>
      m.from === busy &&
      m.body === body &&
      m.created_ms > tReply &&
      m.created_ms < (replyAt ?? Number.POSITIVE_INFINITY),
  ).length;

  // Pause half way, hold 5 s, resume.
  await sleep(Math.max(0, t0 + (ideal / 2) * 1000 - Date.now()));
  const tPause = Date.now();
  await api(stack.appUrl, "POST", `/api/campaigns/${id}/pause`, who);
  await sleep(5000);
  const afterPause = (await emulatorSends()).filter((m) => m.body === body && m.created_ms > tPause + 2000).length;
  const lastBeforeResume = Math.max(...(await emulatorSends()).filter((m) => m.body === body).map((m) => m.created_ms));
  const tResume = Date.now();
  await api(stack.appUrl, "POST", `/api/campaigns/${id}/resume`, who);

  let campaign = null;
  while (Date.now() - t0 < ideal * 3000 + 60_000) {
    await sleep(500);
    campaign = (await api(stack.appUrl, "GET", `/api/campaigns/${id}`, who)).json;
    if (campaign.status === "completed") break;
  }
  // The dev runtime runs the Worker and every Durable Object on one thread: how busy it was.
  const cpuBusy = (cpuSeconds(workerd) - cpuBefore) / ((Date.now() - t0) / 1000);
  const sends = (await emulatorSends()).filter((m) => m.body === body);
  const perRecipient = new Map();
  for (const m of sends) perRecipient.set(m.to, (perRecipient.get(m.to) ?? 0) + 1);
  const duplicates = [...perRecipient.values()].filter((n) => n > 1).length;
  const lost = total - perRecipient.size;
  let busiest = 0;
  const gaps = [];
  for (const n of numbers) {
    const at = sends
      .filter((m) => m.from === n.phoneNumber)
      .map((m) => m.created_ms)
      .sort((a, b) => a - b);
    for (let i = 0, j = 0; i < at.length; i++) {
      while (at[i] - at[j] >= 1000) j++;
      busiest = Math.max(busiest, i - j + 1);
      if (i > 0 && !(at[i - 1] < tResume && at[i] >= tResume)) gaps.push(at[i] - at[i - 1]);
    }
  }
  // Where the time went at each number: the spacing itself, and stalls (gaps of more than two slots).
  const slotMs = 1000 / rate;
  const stallMs = gaps.filter((g) => g > 2 * slotMs).reduce((sum, g) => sum + g - slotMs, 0) / numberCount;
  const times = sends.map((m) => m.created_ms);
  const firstSend = Math.min(...times);
  const lastSend = Math.max(...times);
  const paused = Math.max(0, Math.min(...times.filter((t) => t >= tResume)) - lastBeforeResume);
  const sendingSeconds = (lastSend - firstSend - paused) / 1000;
  const wallSeconds = (lastSend - t0 - paused) / 1000;
  results.figures.campaign = {
    recipients: total,
    numbers: numberCount,
    ratePerNumber: rate,
    idealSeconds: ideal,
    status: campaign?.status,
    duplicates,
    lost,
    busiestSecondPerNumber: busiest,
    sendingSeconds,
    startToLastSendSeconds: wallSeconds,
    replySlotsBehind: ahead,
    replyMs: replyAt === null ? null : replyAt - tReply,
    sendsMoreThan2sAfterPause: afterPause,
    workerdCpuBusy: cpuBusy,
    gapP50Ms: pct(gaps, 50),
    gapP90Ms: pct(gaps, 90),
    stallSecondsPerNumber: stallMs / 1000,
    counts: campaign?.counts,
  };
  row(
    "campaign: duplicates / lost",
    `${duplicates} / ${lost}`,
    `${perRecipient.size} recipients texted, ${campaign?.status}`,
  );
  row(
    "campaign: busiest second at any number",
    `${busiest} sends`,
    busiest <= rate ? `limit ${rate}/s honoured` : `over the ${rate}/s limit`,
  );
  row(
    "campaign: first to last send (pause excluded)",
    `${sendingSeconds.toFixed(1)} s`,
    `${((sendingSeconds / ideal - 1) * 100).toFixed(1)} % over the ${ideal} s ideal; start → last ${wallSeconds.toFixed(1)} s`,
  );
  row(
    "campaign: an agent's reply from a busy number",
    `${ahead} slots`,
    `${ahead <= 2 ? "within 2 slots" : "behind the campaign"}; reached the emulator ${replyAt === null ? "never" : `${replyAt - tReply} ms`} after the POST`,
  );
  row(
    "campaign: gap between a number's sends, p50 / p90",
    `${pct(gaps, 50)} / ${pct(gaps, 90)} ms`,
    `slots are ${slotMs} ms; stalls (gaps over ${2 * slotMs} ms) ${(stallMs / 1000).toFixed(1)} s per number`,
  );
  row("campaign: sends more than 2 s after pause", `${afterPause}`, afterPause === 0 ? "held" : "not held");
  row(
    "campaign: workerd CPU busy during the campaign",
    `${(cpuBusy * 100).toFixed(0)} %`,
    "of one core (wrangler dev runs the Worker and all Durable Objects on one thread)",
  );
  if (duplicates > 0 || lost > 0 || campaign?.status !== "completed")
    throw new Error("campaign bench: messages lost or doubled");
}

/** A search that did not answer 200 with hits is a broken bench, not a fast one. */
async function expectHits(request) {
  const res = await request;
  if (res.status !== 200 || !(res.json?.items?.length > 0)) {
    throw new Error(`search answered ${res.status} with ${res.json?.items?.length ?? 0} hits`);
  }
  return res;
}

/**
 * D1 bytes per message and archive bytes per message, measured in SQLite itself (node:sqlite, the same
 * migrations and the same 100,000-message seed as the reads phase): the database's size and `dbstat` per
 * table and index, then one conversation's rows as the archive writes them (JSONL, gzip). docs/scale.md
 * quotes these figures.
 */
function sizePhase() {
  console.log("\nStorage: D1 bytes per message, archive bytes per message (node:sqlite, 100,000 seeded messages)");
  const dir = mkdtempSync(join(tmpdir(), "parley-size-"));
  const db = new DatabaseSync(join(dir, "size.db"));
  try {
    for (const file of readdirSync("migrations")
      .filter((f) => f.endsWith(".sql"))
      .sort()) {
      for (const statement of readFileSync(join("migrations", file), "utf8").split("--> statement-breakpoint")) {
        if (statement.trim()) db.exec(statement);
      }
    }
    db.exec(seedSql(createHash("sha256").update("size").digest("hex")));
    db.exec("VACUUM");
    const count = db.prepare("SELECT count(*) AS n FROM messages").get().n;
    const objects = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name").all();
    const of = (test) => objects.filter((o) => test(o.name)).reduce((a, o) => a + o.bytes, 0);
    const table = of((n) => n === "messages");
    const search = of((n) => n.startsWith("messages_fts"));
    const indexes =
      of((n) => n.startsWith("messages_") && !n.startsWith("messages_fts")) +
      of((n) => n === "sqlite_autoindex_messages_1");
    const total = table + search + indexes;
    const rows = db.prepare("SELECT * FROM messages WHERE conversation_id = 'cv_seed_7' ORDER BY seq").all();
    const jsonl = `${rows.map((r) => JSON.stringify({ ...r, events: [] })).join("\n")}\n`;
    const gz = gzipSync(jsonl).length;
    results.figures.size = {
      messages: count,
      bytesPerMessage: total / count,
      tableBytesPerMessage: table / count,
      searchBytesPerMessage: search / count,
      indexBytesPerMessage: indexes / count,
      archiveJsonlBytesPerMessage: jsonl.length / rows.length,
      archiveGzipBytesPerMessage: gz / rows.length,
    };
    row("messages", count.toLocaleString("en-US"));
    row(
      "D1 bytes per message",
      `${(total / count).toFixed(0)} B`,
      `row ${(table / count).toFixed(0)}, search ${(search / count).toFixed(0)}, indexes ${(indexes / count).toFixed(0)}`,
    );
    row(
      "archive bytes per message",
      `${(gz / rows.length).toFixed(0)} B gzip`,
      `${(jsonl.length / rows.length).toFixed(0)} B of JSONL before (the seed's text repeats; real text compresses less)`,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 90 days of hourly rollups (4 inboxes × 5 agents, 2,160 hours: 43,200 rows) and their day rows adding up
 * to 1,002,240 messages (36 in and 80 out per inbox and hour), as the rollup job would have written them for a workspace that sent and received that many.
 */
function analyticsSeedSql(keyHash) {
  const hourNow = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  return `
INSERT INTO workspaces (id, name, help_text) VALUES ('ws_bench', 'Bench', 'help');
INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, scopes) VALUES ('key_bench', 'ws_bench', 'bench', 'pk_bench', '${keyHash}', 'messages:send messages:read contacts:write admin');
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < 2159),
  x(inbox) AS (VALUES ('+15005550006'), ('+15005550007'), ('whatsapp:+15005550006'), ('help@bench.example')),
  a(agent) AS (VALUES (''), ('usr_bench_1'), ('usr_bench_2'), ('usr_bench_3'), ('usr_bench_4'))
INSERT INTO analytics_hourly (workspace_id, hour, inbox, agent_id, channel, inbound, outbound, delivered, failed, segments,
  first_responses, fr_0, fr_1, fr_2, resolutions, rs_3)
  SELECT 'ws_bench', ${hourNow} - (h.i + 1) * 3600000, x.inbox, a.agent,
    CASE WHEN x.inbox LIKE 'whatsapp:%' THEN 'whatsapp' WHEN x.inbox LIKE '%@%' THEN 'email' ELSE 'sms' END,
    CASE WHEN a.agent = '' THEN 36 ELSE 0 END, CASE WHEN a.agent = '' THEN 0 ELSE 20 END,
    CASE WHEN a.agent = '' THEN 0 ELSE 19 END, CASE WHEN a.agent = '' THEN 0 ELSE 1 END,
    CASE WHEN a.agent = '' THEN 0 ELSE 22 END,
    CASE WHEN a.agent = '' THEN 0 ELSE 3 END, CASE WHEN a.agent = '' THEN 0 ELSE 1 END,
    CASE WHEN a.agent = '' THEN 0 ELSE 1 END, CASE WHEN a.agent = '' THEN 0 ELSE 1 END,
    CASE WHEN a.agent = '' THEN 0 ELSE 1 END, CASE WHEN a.agent = '' THEN 0 ELSE 1 END
  FROM h, x, a;
INSERT INTO analytics_daily (workspace_id, day, inbox, agent_id, channel, inbound, outbound, delivered, failed, segments,
  first_responses, fr_0, fr_1, fr_2, resolutions, rs_3)
  SELECT workspace_id, (hour / 86400000) * 86400000, inbox, agent_id, channel, sum(inbound), sum(outbound), sum(delivered),
    sum(failed), sum(segments), sum(first_responses), sum(fr_0), sum(fr_1), sum(fr_2), sum(resolutions), sum(rs_3)
  FROM analytics_hourly GROUP BY workspace_id, (hour / 86400000) * 86400000, inbox, agent_id, channel;
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < 2159)
INSERT INTO analytics_errors (workspace_id, hour, inbox, error_code, count)
  SELECT 'ws_bench', ${hourNow} - (h.i + 1) * 3600000, '+15005550006', 30003, 3 FROM h;
`;
}

/** 1 workspace, 2,000 contacts and conversations, 100,000 messages, built inside SQLite. */
function seedSql(keyHash) {
  return `
INSERT INTO workspaces (id, name, help_text) VALUES ('ws_bench', 'Bench', 'help');
INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash) VALUES ('key_bench', 'ws_bench', 'bench', 'pk_bench', '${keyHash}');
INSERT INTO numbers (id, workspace_id, phone_number) VALUES ('num_bench', 'ws_bench', '+15005550006');
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
INSERT INTO contacts (id, workspace_id, name, phone) SELECT 'ct_seed_' || i, 'ws_bench', 'Customer ' || i, '+1415' || (2000000 + i) FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
INSERT INTO conversations (id, workspace_id, contact_id, from_number, last_seq, last_message_id, last_message_at, created_at)
  SELECT 'cv_seed_' || i, 'ws_bench', 'ct_seed_' || i, '+15005550006', 50, 'msg_seed_' || (i * 50 + 49), 1700000000000 + i * 60000, 1700000000000 FROM n;
WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < 99999)
INSERT INTO messages (id, workspace_id, conversation_id, seq, direction, from_number, to_number, body, status, segments, encoding, provider_sid, created_at, updated_at)
  SELECT 'msg_seed_' || i, 'ws_bench', 'cv_seed_' || (i / 50), (i % 50) + 1,
    CASE WHEN i % 2 = 0 THEN 'inbound' ELSE 'outbound' END,
    '+15005550006', '+1415' || (2000000 + i / 50),
    'Seeded message number ' || i || ' about ref' || (i % 1000) || ' with a realistic length of text for an SMS thread.',
    CASE WHEN i % 2 = 0 THEN 'received' ELSE 'delivered' END, 1, 'GSM-7',
    'SM' || printf('%032x', i), 1700000000000 + i * 1000, 1700000000000 + i * 1000 FROM m;
`;
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
