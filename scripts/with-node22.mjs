#!/usr/bin/env node
// Runs a project script under Node ≥ 22.12, which wrangler requires. On a machine whose `node` is
// older (Node 20 is common), it installs Node 22 from the npm registry into .tools/node22 once
// (the `node` package ships the binary) and re-runs the script with it, that Node first on PATH.
//
//   node scripts/with-node22.mjs scripts/dev.mjs [args…]
//
// Written for Node 18+ syntax, since it is the one file the old Node runs.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const MIN = [22, 12];
const root = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
const toolsBin = join(root, ".tools", "node22", "node_modules", ".bin");

function recentEnough(version) {
  const [major, minor] = version.replace(/^v/, "").split(".").map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
}

const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error("usage: node scripts/with-node22.mjs <script> [args…]");
  process.exit(2);
}

if (recentEnough(process.versions.node)) {
  process.argv = [process.argv[0], resolve(script), ...args];
  await import(pathToFileURL(resolve(script)).href);
} else {
  const node = join(toolsBin, "node");
  if (!existsSync(node)) {
    console.log(`▸ node ${process.version} is older than ${MIN.join(".")}; installing node@22 into .tools/ (once)`);
    const r = spawnSync(
      "npm",
      ["install", "--prefix", join(root, ".tools", "node22"), "--no-audit", "--no-fund", "--loglevel=error", "node@22"],
      { stdio: "inherit" },
    );
    if (r.status !== 0 || !existsSync(node)) {
      console.error("✖ could not install node@22 from the npm registry; install Node ≥ 22.12 and run again");
      process.exit(1);
    }
  }
  const env = { ...process.env, PATH: `${toolsBin}${delimiter}${process.env.PATH ?? ""}` };
  const child = spawn(node, [resolve(script), ...args], { stdio: "inherit", env });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
