/**
 * Workspaces mapped to D1 shards by a directory (the plan past one database: docs/scale.md).
 *
 * The primary database (`DB`) holds the directory, `workspace_shards`: which D1 binding holds each
 * workspace's rows. A workspace seen for the first time is placed on a shard by rendezvous hashing over
 * the configured shards (`D1_SHARDS`, binding names, default `DB` alone), written with INSERT OR IGNORE
 * so two isolates placing it at once agree; an operator can pin or move one with `placeWorkspace`
 * (after copying its rows). Lookups are cached per isolate for a minute: a move must stop the
 * workspace's writes for that long (docs/scale.md, "Moving a workspace").
 *
 * Every shard runs the same migrations, so any table can live anywhere; what stays in the primary
 * (users, sessions, API key hashes, the number → workspace routing of inbound webhooks) is global.
 */
import { createDb, type Db } from "./client";

const CACHE_MS = 60_000;
const cache = new Map<string, { shard: string; until: number }>();

/** The shard bindings this deployment has (`D1_SHARDS`, comma-separated; `DB` when unset). */
export function shardNames(env: Env): string[] {
  const configured = (env as unknown as { D1_SHARDS?: string }).D1_SHARDS;
  const names = (configured ?? "DB")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return names.length > 0 ? names : ["DB"];
}

function binding(env: Env, name: string): D1Database {
  const db = (env as unknown as Record<string, unknown>)[name] as D1Database | undefined;
  if (!db || typeof (db as { prepare?: unknown }).prepare !== "function") {
    throw new Error(`D1 shard ${name} is in the directory but not bound to this Worker`);
  }
  return db;
}

/** Rendezvous (highest random weight) hashing: adding a shard moves only the workspaces it wins. */
async function rendezvous(workspaceId: string, shards: string[]): Promise<string> {
  let best = shards[0] ?? "DB";
  let bestScore = -1;
  for (const shard of shards) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${shard}\u0000${workspaceId}`));
    const score = new DataView(digest).getUint32(0);
    if (score > bestScore) {
      bestScore = score;
      best = shard;
    }
  }
  return best;
}

/** The shard (binding name) holding a workspace, placing it on first sight. */
export async function shardOf(env: Env, workspaceId: string, now = Date.now()): Promise<string> {
  const hit = cache.get(workspaceId);
  if (hit && hit.until > now) return hit.shard;
  const primary = env.DB;
  const found = await primary
    .prepare("SELECT shard FROM workspace_shards WHERE workspace_id = ?1")
    .bind(workspaceId)
    .first<{ shard: string }>();
  let shard = found?.shard;
  if (!shard) {
    const chosen = await rendezvous(workspaceId, shardNames(env));
    // Whoever writes first wins; everyone reads the winner back.
    const [, row] = await primary.batch<{ shard: string }>([
      primary
        .prepare("INSERT OR IGNORE INTO workspace_shards (workspace_id, shard, placed_at) VALUES (?1, ?2, ?3)")
        .bind(workspaceId, chosen, now),
      primary.prepare("SELECT shard FROM workspace_shards WHERE workspace_id = ?1").bind(workspaceId),
    ]);
    shard = row?.results[0]?.shard ?? chosen;
  }
  cache.set(workspaceId, { shard, until: now + CACHE_MS });
  return shard;
}

/** The D1 database holding a workspace's rows. */
export async function d1ForWorkspace(env: Env, workspaceId: string): Promise<D1Database> {
  return binding(env, await shardOf(env, workspaceId));
}

export async function dbForWorkspace(env: Env, workspaceId: string): Promise<Db> {
  return createDb(await d1ForWorkspace(env, workspaceId));
}

/** Pins a workspace to a shard (a new placement, or the last step of a move once its rows are copied). */
export async function placeWorkspace(env: Env, workspaceId: string, shard: string, now = Date.now()) {
  if (!shardNames(env).includes(shard)) throw new Error(`unknown shard ${shard}; D1_SHARDS is ${shardNames(env)}`);
  binding(env, shard);
  await env.DB.prepare(
    `INSERT INTO workspace_shards (workspace_id, shard, placed_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (workspace_id) DO UPDATE SET shard = ?2, placed_at = ?3`,
  )
    .bind(workspaceId, shard, now)
    .run();
  cache.delete(workspaceId);
}

/** How many workspaces each shard holds (for placement decisions and docs/scale.md's figures). */
export async function shardCounts(env: Env): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare("SELECT shard, count(*) AS n FROM workspace_shards GROUP BY shard").all<{
    shard: string;
    n: number;
  }>();
  const out: Record<string, number> = Object.fromEntries(shardNames(env).map((s) => [s, 0]));
  for (const r of results) out[r.shard] = Number(r.n);
  return out;
}

/** Forgets cached placements (tests; an operator's move calls placeWorkspace, which does it for one). */
export function clearShardCache() {
  cache.clear();
}
