import { createServer } from "node:net";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** A free loopback port for the Twilio emulator, known before the Worker's bindings are set. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef";
export const TEST_ACCOUNT_SID = "AC00000000000000000000000000000000";
export const TEST_PUBLIC_BASE_URL = "https://parley.test";
export const TEST_CREDENTIALS_KEY = "dGVzdC1jcmVkZW50aWFscy1rZXktMzItYnl0ZXMtbG9uZyE=";
export const TEST_RESEND_KEY = "re_test_key";
export const TEST_RESEND_WEBHOOK_SECRET = "whsec_dGVzdC13ZWJob29rLXNlY3JldA==";

/**
 * Two projects. `workers`: everything about the Worker, inside workerd through the Workers Vitest
 * integration, against the same wrangler.toml and migrations, real D1, Durable Objects and Queues,
 * with the Twilio emulator (a real HTTP server started in globalSetup) as TWILIO_API_BASE.
 * `node`: the emulator's own tests, checked against the official twilio SDK.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  const port = Number(process.env.PARLEY_TEST_EMULATOR_PORT ?? (await freePort()));
  process.env.PARLEY_TEST_EMULATOR_PORT = String(port);
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                // A second local D1 beside DB, for the shard directory's tests (src/db/shards.ts).
                d1Databases: { DB: "00000000-0000-0000-0000-000000000000", DB_SHARD_1: "parley-shard-1" },
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  TEST_EMULATOR_URL: `http://127.0.0.1:${port}`,
                  TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
                  TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
                  TWILIO_API_BASE: `http://127.0.0.1:${port}`,
                  PUBLIC_BASE_URL: TEST_PUBLIC_BASE_URL,
                  CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
                  RESEND_API_KEY: TEST_RESEND_KEY,
                  RESEND_API_BASE: `http://127.0.0.1:${port}/resend`,
                  RESEND_WEBHOOK_SECRET: TEST_RESEND_WEBHOOK_SECRET,
                },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
            setupFiles: ["./test/helpers/apply-migrations.ts"],
            globalSetup: ["./test/helpers/emulator-global-setup.ts"],
            testTimeout: 30_000,
            hookTimeout: 30_000,
          },
        },
        {
          test: {
            name: "node",
            include: ["emulator/**/*.test.ts", "test/node/**/*.test.ts"],
            environment: "node",
            testTimeout: 20_000,
          },
        },
        {
          // The inbox in Debian Chromium against `wrangler dev` + the emulator (a throwaway stack).
          test: {
            name: "browser",
            include: ["test/e2e/**/*.test.ts"],
            environment: "node",
            // Live updates arrive in ~100 ms; allow a loaded CI machine ten times more.
            expect: { poll: { timeout: 10_000, interval: 100 } },
            testTimeout: 90_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
