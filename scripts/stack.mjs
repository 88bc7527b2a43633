// A throwaway Parley stack for benchmarks and the chaos run: fresh local state, the Twilio emulator
// and `wrangler dev` on their own ports (so a running `npm run dev` is untouched), and the means to
// SIGKILL and restart the dev server mid-run. Every process is stopped by its own PID.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./http.mjs";
import { WRANGLER_BIN, wranglerEnv } from "./wrangler-env.mjs";

/** All descendants of `pid` (from /proc), for CPU accounting and cleanup. */
export function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // gone
    }
  }
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** user+system CPU seconds of the given processes so far (from the OS's accounting). */
export function cpuSeconds(pids) {
  const hz = 100;
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / hz;
}

const STACK_WEBHOOK_SECRET = "whsec_c3RhY2std2ViaG9vay1zZWNyZXQ=";

export async function startStack({
  port = 8797,
  emulatorPort = 8798,
  vars = {},
  emulatorEnv = {},
  quiet = true,
  seedSql,
  /** wrangler's inspector for the Worker (0: a free port); a fixed one lets a profiler attach. */
  inspectorPort = 0,
} = {}) {
  const stateDir = join(".wrangler", `stack-${port}`);
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  // wrangler dev refuses to start without the assets directory the web build produces.
  if (!existsSync(join("web", "dist", "index.html"))) {
    const built = spawnSync("npm", ["run", "-s", "build:web"], { stdio: quiet ? "ignore" : "inherit" });
    if (built.status !== 0) throw new Error("the web build failed (npm run build:web)");
  }
  const logFile = join(".wrangler", `stack-${port}.log`);
  const token = randomBytes(16).toString("hex");
  const appUrl = `http://127.0.0.1:${port}`;
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  // Without wrangler's local trace collector: it streams every invocation (each request, Durable Object
  // call and D1 query) to a collector Worker in the same workerd thread, a per-call tax production does
  // not pay in-process (~20 % of workerd's CPU on the outbound bench). `npm run dev` keeps it; so does a
  // stack started with X_LOCAL_OBSERVABILITY=true (to measure what it costs).
  const env = { ...wranglerEnv(), X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" };
  const migrate = spawnSync(WRANGLER_BIN, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
    env,
    stdio: quiet ? "ignore" : "inherit",
  });
  if (migrate.status !== 0) throw new Error("migrations failed");
  if (seedSql) {
    const dir = mkdtempSync(join(tmpdir(), "parley-stack-"));
    const file = join(dir, "seed.sql");
    writeFileSync(file, seedSql);
    const seeded = spawnSync(
      WRANGLER_BIN,
      ["d1", "execute", "DB", "--local", "--persist-to", stateDir, "--file", file],
      {
        env,
        stdio: quiet ? "ignore" : "inherit",
      },
    );
    if (seeded.status !== 0) throw new Error("seeding failed");
  }

  const log = openSync(logFile, "w");
  const stdio = quiet ? ["ignore", log, log] : ["ignore", "inherit", "inherit"];
  const emulator = spawn(process.execPath, ["--import", "tsx", "emulator/main.ts"], {
    env: {
      ...process.env,
      EMULATOR_PORT: String(emulatorPort),
      TWILIO_AUTH_TOKEN: token,
      PARLEY_URL: appUrl,
      RESEND_API_KEY: "re_stack_key",
      RESEND_WEBHOOK_SECRET: STACK_WEBHOOK_SECRET,
      ...emulatorEnv,
    },
    stdio,
    detached: true,
  });
  if (!(await waitFor(`${emulatorUrl}/healthz`, 15_000))) {
    try {
      process.kill(emulator.pid, "SIGKILL");
    } catch {
      // gone
    }
    throw new Error(`the emulator did not start (is port ${emulatorPort} taken?)`);
  }

  // Secrets as --var too: a fresh clone has no .dev.vars.
  const allVars = {
    TWILIO_API_BASE: emulatorUrl,
    PUBLIC_BASE_URL: appUrl,
    TWILIO_AUTH_TOKEN: token,
    CREDENTIALS_KEY: randomBytes(32).toString("base64"),
    RESEND_API_BASE: `${emulatorUrl}/resend`,
    RESEND_API_KEY: "re_stack_key",
    RESEND_WEBHOOK_SECRET: STACK_WEBHOOK_SECRET,
    ...vars,
  };
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    stateDir,
    "--show-interactive-dev-session=false",
    "--inspector-port",
    String(inspectorPort),
  ];
  for (const [k, v] of Object.entries(allVars)) args.push("--var", `${k}:${v}`);
  let wrangler = null;
  const startWrangler = async () => {
    wrangler = spawn(WRANGLER_BIN, args, { env, stdio, detached: true });
    if (!(await waitFor(`${appUrl}/api/healthz`, 60_000))) {
      const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n") : "";
      throw new Error(`wrangler dev did not start; the last lines of ${logFile}:\n${tail}`);
    }
  };
  const kill = (child, signal) => {
    if (!child) return;
    for (const pid of [...descendants(child.pid), child.pid]) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
  };
  try {
    await startWrangler();
  } catch (err) {
    // Never leave a half-started stack behind (it would hold the ports for the next run).
    kill(wrangler, "SIGKILL");
    kill(emulator, "SIGKILL");
    throw err;
  }
  return {
    appUrl,
    emulatorUrl,
    token,
    /** Every PID of the stack right now (wrangler, workerd, emulator). */
    pids: () => [emulator.pid, ...descendants(emulator.pid), wrangler.pid, ...descendants(wrangler.pid)],
    /** SIGKILLs the dev server (and its workerd) and starts it again on the same state. */
    async crashAndRestart() {
      kill(wrangler, "SIGKILL");
      await new Promise((r) => setTimeout(r, 500));
      await startWrangler();
    },
    async stop() {
      kill(wrangler, "SIGTERM");
      kill(emulator, "SIGTERM");
      await new Promise((r) => setTimeout(r, 500));
      kill(wrangler, "SIGKILL");
      kill(emulator, "SIGKILL");
    },
  };
}
