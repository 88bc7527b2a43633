#!/usr/bin/env node
// `npm run bench:profile -- <outbound|inbound|list>`: a V8 CPU profile of the Worker (and its Durable
// Objects) under one workload, on a throwaway stack (scripts/stack.mjs) on 127.0.0.1. Attaches to
// wrangler's inspector, samples while the workload runs, writes bench/results/<workload>.cpuprofile
// (open it in Chrome DevTools' Performance panel) and prints the functions with the most self time.
// This is how the drizzle, time-zone and schema costs in issue 10's notes were found.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, signupWorkspace } from "../scripts/http.mjs";
import { startStack } from "../scripts/stack.mjs";
import { inboundRequest, randomUs } from "./twilio-requests.mjs";

const workload = process.argv[2] ?? "outbound";
const WORKLOADS = ["outbound", "inbound", "list"];
if (!WORKLOADS.includes(workload)) {
  console.error(`usage: npm run bench:profile -- <${WORKLOADS.join("|")}>`);
  process.exit(2);
}
const INSPECTOR_PORT = 9239;

/**
 * A CDP session over wrangler's inspector proxy (it accepts a localhost Origin only). The proxy echoes
 * each command back and does not always pass the runtime's plain acknowledgements on, so commands are
 * sent without waiting, and only the profile — the one answer that matters — is awaited.
 */
async function inspector() {
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl, { headers: { Origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let id = 0;
  let onProfile = () => {};
  ws.addEventListener("message", async (e) => {
    const text = typeof e.data === "string" ? e.data : Buffer.from(await e.data.arrayBuffer()).toString();
    const msg = JSON.parse(text);
    if (msg.result?.profile) onProfile(msg.result.profile);
  });
  const send = (method, params = {}) => ws.send(JSON.stringify({ id: ++id, method, params }));
  return {
    async start() {
      send("Profiler.enable");
      send("Profiler.setSamplingInterval", { interval: 200 });
      send("Profiler.start");
      await new Promise((r) => setTimeout(r, 500));
    },
    stop() {
      const profile = new Promise((resolve) => {
        onProfile = resolve;
      });
      send("Profiler.stop");
      return profile;
    },
    close: () => ws.close(),
  };
}

/**
 * Inclusive time by function (the function and everything it called; each function counted once per
 * sample), weighted by the samples' time deltas, idle excluded: where a whole path's CPU goes.
 */
function inclusive(profile, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (f) => `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-1)[0]}:${f.lineNumber + 1}`;
  const total = new Map();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const weight = profile.timeDeltas[i + 1] ?? 0;
    if (byId.get(id).callFrame.functionName === "(idle)") return;
    busy += weight;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = key(byId.get(at).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + weight);
    }
  });
  console.log("\ninclusive time (a function and what it called):");
  for (const [k, t] of [...total].sort((a, b) => b[1] - a[1]).slice(1, top + 1)) {
    console.log(`  ${((100 * t) / busy).toFixed(1).padStart(5)} %  ${k}`);
  }
}

/** Self time by function, from a V8 CPU profile (idle excluded). */
function summarize(profile, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let busy = 0;
  for (const sample of profile.samples) {
    const frame = byId.get(sample).callFrame;
    if (frame.functionName === "(idle)") continue;
    busy++;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-1)[0]}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  console.log(`\n${busy} busy samples; self time:`);
  for (const [key, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * n) / busy).toFixed(1).padStart(5)} %  ${key}`);
  }
}

const stack = await startStack({
  port: 8797,
  emulatorPort: 8798,
  inspectorPort: INSPECTOR_PORT,
  emulatorEnv: { EMULATOR_SENT_MS: "50", EMULATOR_FINAL_MS: "100" },
});
try {
  const ws = await signupWorkspace(stack.appUrl, "profile", randomUs());
  const customers = Array.from({ length: 20 }, randomUs);
  const inbound = (from, body) => {
    const { url, init } = inboundRequest(stack, from, ws.from, body);
    return fetch(url, init).then((r) => r.text());
  };
  // Warm up: compile, create the rooms.
  for (const c of customers) await inbound(c, "warm up");
  const cdp = await inspector();
  await cdp.start();
  const t0 = performance.now();
  let count = 0;
  if (workload === "outbound") {
    count = 500;
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < count) {
          const i = next++;
          await api(stack.appUrl, "POST", "/api/messages", {
            key: ws.key,
            body: { to: customers[i % customers.length], body: `profile ${i}` },
          });
        }
      }),
    );
    for (;;) {
      const s = (await api(stack.appUrl, "GET", "/api/ops/delivery", { key: ws.key })).json.byStatus;
      if (s.pending + s.queued + s.sending + s.sent === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } else if (workload === "inbound") {
    const deadline = Date.now() + 8000;
    let i = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (Date.now() < deadline) {
          await inbound(customers[i++ % customers.length], `profile ${i}`);
          count++;
        }
      }),
    );
  } else {
    count = 1000;
    for (let i = 0; i < count; i++) await api(stack.appUrl, "GET", "/api/conversations", { key: ws.key });
  }
  const seconds = (performance.now() - t0) / 1000;
  const profile = await cdp.stop();
  cdp.close();
  mkdirSync(join("bench", "results"), { recursive: true });
  const file = join("bench", "results", `${workload}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  console.log(`${workload}: ${count} in ${seconds.toFixed(1)} s; profile written to ${file}`);
  summarize(profile);
  inclusive(profile);
} finally {
  await stack.stop();
}
