/** Direct D1 access for tests that need rows no public route creates (e.g. an agent member). */
import { env } from "cloudflare:workers";
import { randomToken, sha256Hex } from "../../src/security/crypto";

/** Adds a user with `role` to a workspace and returns a session cookie for them. */
export async function addMember(
  workspaceId: string,
  role: "owner" | "admin" | "agent" | "viewer",
): Promise<{ cookie: string; userId: string; memberId: string }> {
  const userId = `usr_test${Math.random().toString(36).slice(2, 12)}`;
  const token = randomToken();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO users (id, email, name, password_hash) VALUES (?, ?, ?, 'x')").bind(
      userId,
      `${userId}@example.com`,
      `Member ${role}`,
    ),
    env.DB.prepare("INSERT INTO memberships (id, workspace_id, user_id, role) VALUES (?, ?, ?, ?)").bind(
      `mem_${userId}`,
      workspaceId,
      userId,
      role,
    ),
    env.DB.prepare("INSERT INTO sessions (token_hash, user_id, workspace_id, expires_at) VALUES (?, ?, ?, ?)").bind(
      await sha256Hex(token),
      userId,
      workspaceId,
      Date.now() + 3_600_000,
    ),
  ]);
  return { cookie: `parley_session=${token}`, userId, memberId: `mem_${userId}` };
}

export async function countRows(table: string, where = "1=1", ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
