/** Users, memberships, sessions and API keys. */
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../client";
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

export async function findSession(db: Db, tokenHash: string, now: number) {
  const rows = await db
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
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)))
    .limit(1);
  return rows[0];
}

export async function findActiveApiKey(db: Db, keyHash: string) {
  return db.query.apiKeys.findFirst({ where: and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)) });
}

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
