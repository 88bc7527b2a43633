// Applies the same migrations/ files that wrangler applies, before each test file.
import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";

const testEnv = env as unknown as Env & { TEST_MIGRATIONS: D1Migration[]; DB_SHARD_1: D1Database };
await applyD1Migrations(testEnv.DB, testEnv.TEST_MIGRATIONS);
// The second local D1 (shard tests) runs the same migrations, as every shard does.
await applyD1Migrations(testEnv.DB_SHARD_1, testEnv.TEST_MIGRATIONS);
