import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * All tests run inside workerd through the Workers Vitest integration, against the same
 * wrangler.toml, the same migrations and real D1, Durable Objects and Queues (Miniflare).
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            TWILIO_AUTH_TOKEN: "test-auth-token-0123456789abcdef",
            PUBLIC_BASE_URL: "https://parley.test",
          },
        },
      }),
    ],
    test: {
      include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
      setupFiles: ["./test/helpers/apply-migrations.ts"],
      testTimeout: 20_000,
      hookTimeout: 30_000,
    },
  };
});
