#!/usr/bin/env node
// `npm run dev`: the whole product on one machine. Builds the web app, applies local D1 migrations,
// seeds the demo workspace, starts the Twilio emulator and `wrangler dev` pointed at it, and prints
// the demo login. Ctrl-C stops everything it started.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { waitFor } from "./http.mjs";
import { DEMO, DEMO_TEAM, seedLocalDb } from "./seed.mjs";
import { WRANGLER_BIN, wranglerEnv } from "./wrangler-env.mjs";

const PORT = Number(process.env.PARLEY_PORT ?? 8787);
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 8788);
const APP_URL = `http://127.0.0.1:${PORT}`;
const EMULATOR_URL = `http://127.0.0.1:${EMULATOR_PORT}`;
const children = [];

function step(text) {
  console.log(`\x1b[36m▸\x1b[0m ${text}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"], env: wranglerEnv(), ...opts });
  if (r.status !== 0) {
    console.error(`\n✖ ${cmd} ${args.join(" ")} failed (exit ${r.status})`);
    process.exit(1);
  }
}

/** The local email provider's key and webhook secret, shared by the Worker and the emulator. */
export const DEV_RESEND_KEY = "re_dev_key";
export const DEV_RESEND_WEBHOOK_SECRET = "whsec_ZGV2LXdlYmhvb2stc2VjcmV0";

/**
 * The Auth Token shared by the Worker (verifies signatures) and the emulator (signs callbacks). A
 * .dev.vars written by an older version gets the secrets added since (credentials key, email).
 */
export function devAuthToken() {
  if (!existsSync(".dev.vars")) {
    const token = randomBytes(16).toString("hex");
    writeFileSync(".dev.vars", `# written by npm run dev; see .dev.vars.example\nTWILIO_AUTH_TOKEN=${token}\n`);
  }
  let text = readFileSync(".dev.vars", "utf8");
  const missing = {
    CREDENTIALS_KEY: randomBytes(32).toString("base64"),
    RESEND_API_KEY: DEV_RESEND_KEY,
    RESEND_WEBHOOK_SECRET: DEV_RESEND_WEBHOOK_SECRET,
  };
  for (const [name, value] of Object.entries(missing)) {
    if (!new RegExp(`^${name}=`, "m").test(text)) text += `${text.endsWith("\n") ? "" : "\n"}${name}=${value}\n`;
  }
  writeFileSync(".dev.vars", text);
  const match = /^TWILIO_AUTH_TOKEN=(.+)$/m.exec(text);
  if (!match?.[1]) throw new Error(".dev.vars has no TWILIO_AUTH_TOKEN");
  return match[1].trim();
}

function start(name, cmd, args, env) {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const prefix = `\x1b[90m[${name}]\x1b[0m `;
  const forward = (stream, out) => {
    let buffer = "";
    stream.on("data", (chunk) => {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) out.write(`${prefix}${line}\n`);
    });
  };
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  child.on("exit", (code, signal) => {
    if (!shuttingDown) {
      console.error(`\n✖ ${name} exited (${signal ?? code}); stopping.`);
      shutdown(1);
    }
  });
  children.push(child);
  return child;
}

let shuttingDown = false;
function shutdown(code = 0) {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  setTimeout(() => {
    for (const child of children) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    process.exit(code);
  }, 1500);
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));
process.on("SIGHUP", () => shutdown(0));
// If whatever started us (npm, a terminal) goes away without signalling, do not leave servers behind.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown(0);
}, 1000).unref();

async function main() {
  const token = devAuthToken();
  step("building the web app");
  run("npm", ["run", "-s", "build:web"], { stdio: ["ignore", "ignore", "inherit"] });
  step("applying local D1 migrations");
  run(WRANGLER_BIN, ["d1", "migrations", "apply", "DB", "--local"]);
  step("seeding the demo workspace");
  seedLocalDb({ quiet: true });
  step(`starting the Twilio emulator on ${EMULATOR_URL}`);
  start("emulator", process.execPath, ["--import", "tsx", "emulator/main.ts"], {
    ...process.env,
    EMULATOR_PORT: String(EMULATOR_PORT),
    TWILIO_AUTH_TOKEN: token,
    PARLEY_URL: APP_URL,
    RESEND_API_KEY: DEV_RESEND_KEY,
    RESEND_WEBHOOK_SECRET: DEV_RESEND_WEBHOOK_SECRET,
  });
  if (!(await waitFor(`${EMULATOR_URL}/healthz`, 15_000))) throw new Error("the emulator did not start");
  // The demo's approved WhatsApp template, as Twilio would know it.
  await fetch(`${EMULATOR_URL}/_control/whatsapp/templates`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ contentSid: DEMO.whatsappTemplate, body: "Hi {{1}}, your order is ready for pickup." }),
  });

  step(`starting wrangler dev on ${APP_URL}`);
  start(
    "wrangler",
    WRANGLER_BIN,
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(PORT),
      "--show-interactive-dev-session=false",
      "--var",
      `TWILIO_API_BASE:${EMULATOR_URL}`,
      "--var",
      `PUBLIC_BASE_URL:${APP_URL}`,
      "--var",
      `RESEND_API_BASE:${EMULATOR_URL}/resend`,
    ],
    wranglerEnv(),
  );
  if (!(await waitFor(`${APP_URL}/api/openapi.json`, 60_000))) throw new Error("wrangler dev did not answer in 60 s");

  console.log(`
\x1b[32m✔ Parley is running\x1b[0m
  inbox       ${APP_URL}
  API docs    ${APP_URL}/api/docs
  emulator    ${EMULATOR_URL}   (a phone to text the demo number from; WhatsApp: whatsapp:${DEMO.number})
  mailbox     ${EMULATOR_URL}/mailbox   (email ${DEMO.emailInbox} as a customer)
  sign in     ${DEMO.email} / ${DEMO.password}   (owner)
  teammates   ${DEMO_TEAM.slice(1)
    .map((u) => `${u.email} (${u.role})`)
    .join(", ")}, same password
  demo number ${DEMO.number}
  password reset links are printed here (not emailed yet)
  auth token  ${token}   (TWILIO_AUTH_TOKEN, in .dev.vars)
Ctrl-C stops everything.
`);
}

main().catch((err) => {
  console.error(`\n✖ ${err instanceof Error ? err.message : err}`);
  shutdown(1);
});
