/** Users, memberships, sessions and API keys. */
import { and, eq, isNull, type Placeholder, type SQL, sql } from "drizzle-orm";
import type { Db } from "../client";
import { compiled, type Placeholders } from "../compiled";
import { apiKeys, memberships, sessions, users, workspaces } from "../schema";

export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export async function findUserByEmail(db: Db, email: string) {
  return db.query.users.findFirst({ where: eq(users.email, email.toLowerCase()) });
}

/** The first workspace a user belongs to (Parley signs a user into one workspace per session). */
export async function findPrimaryMembership(db: Db, userId: string) {
  return db.query.memberships.findFirst({
    where: eq(memberships.userId, userId),
    orderBy: memberships.createdAt,
  });
}

/** The live session with this token hash (not expired, membership still there), with the member's role. Compiled: every request with a cookie asks. */
export async function findSession(db: Db, tokenHash: string, now: number) {
  return sessionQuery.get(db.$client, { tokenHash, now });
}

const sessionQuery = compiled((db, p: Placeholders<"tokenHash" | "now">) =>
  db
    .select({
      tokenHash: sessions.tokenHash,
      userId: sessions.userId,
      workspaceId: sessions.workspaceId,
      role: memberships.role,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .innerJoin(
      memberships,
      and(eq(memberships.userId, sessions.userId), eq(memberships.workspaceId, sessions.workspaceId)),
    )
    .where(and(eq(sessions.tokenHash, p.tokenHash), sql`${sessions.expiresAt} > ${p.now}`))
    .limit(1),
);

/** The API key with this hash, unless revoked. Compiled: every request with a key asks. */
export async function findActiveApiKey(db: Db, keyHash: string) {
  return apiKeyQuery.get(db.$client, { keyHash });
}

const apiKeyQuery = compiled((db, p: Placeholders<"keyHash">) =>
  db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, p.keyHash), isNull(apiKeys.revokedAt)))
    .limit(1),
);

export async function deleteSession(db: Db, tokenHash: string) {
  await db.delete(sessions).where(eq(sessions.tokenHash, tokenHash));
}

export async function getMe(db: Db, userId: string, workspaceId: string) {
  const rows = await db
    .select({
      userId: users.id,
      email: users.email,
      name: users.name,
      role: memberships.role,
      workspaceId: workspaces.id,
      workspaceName: workspaces.name,
      helpText: workspaces.helpText,
      retentionDays: workspaces.retentionDays,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
    .where(and(eq(memberships.userId, userId), eq(memberships.workspaceId, workspaceId)))
    .limit(1);
  return rows[0];
}

/** Notes that a key was used (advisory; callers write it at most once a minute per key). */
export async function touchApiKey(d1: D1Database, id: string, at: number): Promise<void> {
  await d1.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").bind(at, id).run();
}

/**
 * Which of these credentials still hold, in one query: sessions that exist, have not expired and
 * still have their membership; API keys not revoked.
 */
export async function liveCredentials(d1: D1Database, sessionIds: string[], keyIds: string[], now: number) {
  const { results } = await d1
    .prepare(
      `SELECT s.token_hash AS id FROM sessions s
         JOIN memberships m ON m.user_id = s.user_id AND m.workspace_id = s.workspace_id
       WHERE s.token_hash IN (SELECT value FROM json_each(?1)) AND s.expires_at > ?3
       UNION ALL
       SELECT id FROM api_keys WHERE id IN (SELECT value FROM json_each(?2)) AND revoked_at IS NULL`,
    )
    .bind(JSON.stringify(sessionIds), JSON.stringify(keyIds), now)
    .all<{ id: string }>();
  return new Set(results.map((r) => r.id));
}

/** A credential as presented (cookie or bearer), hashed but not yet looked up. */
export interface PresentedCredential {
  kind: "session" | "api_key";
  hash: string;
}

/**
 * SQL for the workspace and user a presented credential stands for, to fold the credential check
 * into a read's own query: the same rules as the lookup (a session not expired and still a member; a
 * key not revoked and holding `scope`), evaluated in the same statement, so revocation stays immediate.
 * Both are NULL for a credential that does not hold, and a query filtered on them finds nothing.
 */
export function credentialSql(
  credential: { kind: PresentedCredential["kind"]; hash: string | Placeholder },
  now: number | Placeholder,
  scope: string | Placeholder,
): { workspaceId: SQL; userId: SQL } {
  if (credential.kind === "session") {
    const live = sql`from sessions s join memberships m on m.user_id = s.user_id and m.workspace_id = s.workspace_id
      where s.token_hash = ${credential.hash} and s.expires_at > ${now}`;
    return { workspaceId: sql`(select s.workspace_id ${live})`, userId: sql`(select s.user_id ${live})` };
  }
  return {
    workspaceId: sql`(select k.workspace_id from api_keys k where k.key_hash = ${credential.hash} and k.revoked_at is null
      and (' ' || k.scopes || ' ') like ('% ' || ${scope} || ' %'))`,
    userId: sql`null`,
  };
}
