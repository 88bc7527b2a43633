// Seeds the local D1 with an idempotent demo workspace: owner login, sender number, a sample contact.
// Fixed ids plus INSERT OR IGNORE make a re-run a no-op. Hashing matches src/security/crypto.ts.
import { execFileSync } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRANGLER_BIN, wranglerEnv } from "./wrangler-env.mjs";

export const DEMO = {
  email: "demo@parley.local",
  password: "parley-demo-2026",
  workspace: "Parley Demo",
  number: "+15005550006",
  customer: "+14155552671",
};

const sqlText = (value) => `'${String(value).replaceAll("'", "''")}'`;

export function seedSql() {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(DEMO.password, salt, 100_000, 32, "sha256");
  const passwordHash = `pbkdf2-sha256$100000$${salt.toString("base64")}$${hash.toString("base64")}`;
  return [
    `INSERT OR IGNORE INTO workspaces (id, name, help_text) VALUES ('ws_demo', ${sqlText(DEMO.workspace)}, ${sqlText("Parley Demo: reply STOP to opt out. Msg&data rates may apply.")});`,
    `INSERT OR IGNORE INTO users (id, email, name, password_hash) VALUES ('usr_demo', ${sqlText(DEMO.email)}, 'Demo Owner', ${sqlText(passwordHash)});`,
    `INSERT OR IGNORE INTO memberships (id, workspace_id, user_id, role) VALUES ('mem_demo', 'ws_demo', 'usr_demo', 'owner');`,
    `INSERT OR IGNORE INTO numbers (id, workspace_id, phone_number, label) VALUES ('num_demo', 'ws_demo', ${sqlText(DEMO.number)}, 'Demo line');`,
    `INSERT OR IGNORE INTO contacts (id, workspace_id, name, phone) VALUES ('ct_demo', 'ws_demo', 'Casey Customer', ${sqlText(DEMO.customer)});`,
    `INSERT OR IGNORE INTO conversations (id, workspace_id, contact_id, from_number, last_message_at) VALUES ('cv_demo', 'ws_demo', 'ct_demo', ${sqlText(DEMO.number)}, ${Date.now()});`,
  ].join("\n");
}

export function seedLocalDb({ quiet = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "parley-seed-"));
  const file = join(dir, "seed.sql");
  writeFileSync(file, seedSql());
  execFileSync(WRANGLER_BIN, ["d1", "execute", "DB", "--local", "--file", file], {
    env: wranglerEnv(),
    stdio: quiet ? "ignore" : ["ignore", "ignore", "inherit"],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  seedLocalDb();
  console.log(`seeded: ${DEMO.email} / ${DEMO.password}`);
}
