#!/usr/bin/env node
// `npm test`: everything the suite needs, then vitest. Run through scripts/with-node22.mjs, so Node 22
// is there. Provisions Debian's chromium for the browser tests when it is missing (as root; otherwise
// it names the command), builds the web app the browser tests serve, runs vitest with any extra
// arguments (`npm test -- test/unit`), and ends with each failing test's name and error, so a red run
// says what failed in its last lines.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const RESULTS = join("test-results", "vitest.json");

function run(cmd, cmdArgs, opts = {}) {
  return spawnSync(cmd, cmdArgs, { stdio: "inherit", ...opts }).status ?? 1;
}

/** Whether this run includes the browser project (all projects, unless --project names others). */
function wantsBrowser() {
  const named = args.flatMap((a, i) =>
    a === "--project" ? [args[i + 1]] : a.startsWith("--project=") ? [a.slice(10)] : [],
  );
  const paths = args.filter((a) => !a.startsWith("-") && !named.includes(a));
  if (named.length > 0) return named.includes("browser");
  return paths.length === 0 || paths.some((p) => p.includes("e2e"));
}

function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot) {
    console.error(
      `✖ the browser tests need Chromium at ${CHROMIUM}: run \`sudo apt-get install -y chromium\` (or set CHROMIUM_PATH), then npm test again`,
    );
    process.exit(1);
  }
  console.log("▸ installing Debian's chromium for the browser tests (once, ~1 min)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (
    run("apt-get", ["update", "-qq"], { env }) !== 0 ||
    run("apt-get", ["install", "-y", "-qq", "chromium"], { env }) !== 0
  ) {
    console.error("✖ apt-get could not install chromium; install it by hand: apt-get install -y chromium");
    process.exit(1);
  }
}

if (wantsBrowser()) ensureChromium();

if (run("npx", ["vite", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"]) !== 0) {
  console.error("✖ the web app did not build");
  process.exit(1);
}

mkdirSync("test-results", { recursive: true });
const status = run("npx", [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${RESULTS}`,
  ...args,
]);

if (status !== 0 && existsSync(RESULTS)) {
  try {
    const report = JSON.parse(readFileSync(RESULTS, "utf8"));
    const failed = [];
    for (const file of report.testResults ?? []) {
      const tests = (file.assertionResults ?? []).filter((t) => t.status === "failed");
      for (const t of tests) failed.push({ file: file.name, name: t.fullName, messages: t.failureMessages ?? [] });
      if (tests.length === 0 && file.status === "failed") {
        failed.push({ file: file.name, name: "(the file itself)", messages: [file.message ?? ""] });
      }
    }
    if (failed.length > 0) {
      console.error(`\n✖ ${failed.length} failing test(s):`);
      for (const f of failed) {
        console.error(`\n● ${f.file.replace(`${process.cwd()}/`, "")} › ${f.name}`);
        for (const m of f.messages) console.error(String(m).split("\n").slice(0, 12).join("\n"));
      }
    }
  } catch (err) {
    console.error(`(could not read ${RESULTS}: ${String(err)})`);
  }
}
process.exit(status);
