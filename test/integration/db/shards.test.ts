/**
 * The shard directory against two local D1 databases (DB and DB_SHARD_1): workspaces are placed once
 * and stay; placement spreads them over both; a workspace's rows go to and come from its shard only;
 * a pinned move takes effect; an unknown or unbound shard is refused.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import {
  clearShardCache,
  d1ForWorkspace,
  dbForWorkspace,
  placeWorkspace,
  shardCounts,
  shardOf,
} from "../../../src/db/shards";

const sharded = { ...env, D1_SHARDS: "DB,DB_SHARD_1" } as unknown as Env;
const shard1 = (env as unknown as { DB_SHARD_1: D1Database }).DB_SHARD_1;
const wsId = () => `ws_shard${crypto.randomUUID().replace(/-/g, "").slice(0, 14)}`;

async function seedWorkspace(d1: D1Database, id: string) {
  await d1.batch([
    d1
      .prepare("INSERT INTO workspaces (id, name, help_text, created_at) VALUES (?, ?, 'help', ?)")
      .bind(id, id, Date.now()),
    d1
      .prepare("INSERT INTO contacts (id, workspace_id, name, phone, created_at) VALUES (?, ?, 'Ada', ?, ?)")
      .bind(`ct_${id}`, id, `+1415${Math.floor(1_000_000 + Math.random() * 8_999_999)}`, Date.now()),
  ]);
}

async function count(d1: D1Database, id: string) {
  const row = await d1
    .prepare("SELECT count(*) AS n FROM contacts WHERE workspace_id = ?")
    .bind(id)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("shard directory over two D1 databases", () => {
  beforeEach(() => clearShardCache());

  it("places each workspace once, spreads them over both shards, and keeps the placement", async () => {
    const ids = Array.from({ length: 40 }, wsId);
    const placed = await Promise.all(ids.map((id) => shardOf(sharded, id)));
    expect(new Set(placed)).toEqual(new Set(["DB", "DB_SHARD_1"]));
    const onShard1 = placed.filter((s) => s === "DB_SHARD_1").length;
    expect(onShard1).toBeGreaterThan(5);
    expect(onShard1).toBeLessThan(35);
    // The directory row decides from now on, cached or not, even if the shard list changes.
    clearShardCache();
    const reordered = { ...sharded, D1_SHARDS: "DB_SHARD_1,DB,DB_SHARD_2" } as unknown as Env;
    expect(await Promise.all(ids.map((id) => shardOf(reordered, id)))).toEqual(placed);
    const rows = await env.DB.prepare(
      "SELECT count(*) AS n FROM workspace_shards WHERE workspace_id IN (SELECT value FROM json_each(?))",
    )
      .bind(JSON.stringify(ids))
      .first<{ n: number }>();
    expect(rows?.n).toBe(40);
    expect((await shardCounts(sharded)).DB_SHARD_1).toBeGreaterThanOrEqual(onShard1);
  });

  it("a workspace's rows live in its shard only, through drizzle and raw D1 alike", async () => {
    const a = wsId();
    const b = wsId();
    await placeWorkspace(sharded, a, "DB");
    await placeWorkspace(sharded, b, "DB_SHARD_1");
    await seedWorkspace(await d1ForWorkspace(sharded, a), a);
    await seedWorkspace(await d1ForWorkspace(sharded, b), b);
    expect([await count(env.DB, a), await count(shard1, a)]).toEqual([1, 0]);
    expect([await count(env.DB, b), await count(shard1, b)]).toEqual([0, 1]);
    const onB = await dbForWorkspace(sharded, b);
    expect((await onB.query.workspaces.findFirst({ where: (w, { eq }) => eq(w.id, b) }))?.id).toBe(b);
    const onA = await dbForWorkspace(sharded, a);
    expect(await onA.query.workspaces.findFirst({ where: (w, { eq }) => eq(w.id, b) })).toBeUndefined();
  });

  it("moves a workspace by copying its rows, then pinning it; refuses unknown or unbound shards", async () => {
    const id = wsId();
    await placeWorkspace(sharded, id, "DB");
    await seedWorkspace(env.DB, id);
    expect(await shardOf(sharded, id)).toBe("DB");
    // Copy, then pin: reads go to the new shard at once in this isolate.
    await seedWorkspace(shard1, id);
    await placeWorkspace(sharded, id, "DB_SHARD_1");
    expect(await shardOf(sharded, id)).toBe("DB_SHARD_1");
    expect(await count(await d1ForWorkspace(sharded, id), id)).toBe(1);
    await expect(placeWorkspace(sharded, id, "DB_SHARD_9")).rejects.toThrow(/unknown shard/);
    const unbound = { ...env, D1_SHARDS: "DB,DB_SHARD_2" } as unknown as Env;
    await expect(placeWorkspace(unbound, id, "DB_SHARD_2")).rejects.toThrow(/not bound/);
  });

  it("with one shard configured (the default), everything stays in DB", async () => {
    const id = wsId();
    expect(await shardOf(env, id)).toBe("DB");
    expect(await d1ForWorkspace(env, id)).toBe(env.DB);
  });
});
