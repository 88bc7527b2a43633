/** The team: members of a workspace, invitations, password resets, and a user's workspaces. */
import { and, asc, desc, eq, gt, isNull, ne, sql } from "drizzle-orm";
import type { Role } from "../../shared/status";
import type { Db } from "../client";
import { conversations, invitations, memberships, passwordResets, sessions, users, workspaces } from "../schema";

/** A member as the API shows them. */
const memberColumns = {
  id: memberships.id,
  userId: users.id,
  name: users.name,
  email: users.email,
  role: memberships.role,
  inboxIds: memberships.inboxIds,
  joinedAt: memberships.createdAt,
};

/** Limits a member to these inboxes (null: all), keeping only ids of the workspace's own inboxes. */
export async function setMemberInboxes(db: Db, workspaceId: string, memberId: string, inboxIds: string[] | null) {
  await db
    .update(memberships)
    .set({ inboxIds })
    .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.id, memberId)));
}

export async function listMembers(db: Db, workspaceId: string) {
  return db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.workspaceId, workspaceId))
    .orderBy(asc(memberships.createdAt), asc(users.name));
}

export async function getMember(db: Db, workspaceId: string, memberId: string) {
  return db
    .select({
      ...memberColumns,
      owners: sql<number>`(select count(*) from memberships o where o.workspace_id = ${workspaceId} and o.role = 'owner')`,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.id, memberId)))
    .get();
}

/**
 * Changes a member's role, unless that would leave the workspace without an owner: the guard is in
 * the statement, so two demotions at once cannot both pass. Returns whether it changed.
 */
export async function setMemberRole(db: Db, workspaceId: string, memberId: string, role: Role): Promise<boolean> {
  const rows = await db
    .update(memberships)
    .set({ role })
    .where(
      and(
        eq(memberships.workspaceId, workspaceId),
        eq(memberships.id, memberId),
        sql`(${role} = 'owner' or ${memberships.role} <> 'owner' or
          (select count(*) from memberships o where o.workspace_id = ${workspaceId} and o.role = 'owner') > 1)`,
      ),
    )
    .returning({ id: memberships.id });
  return rows.length > 0;
}

/**
 * Removes a member (never the last owner, guarded in the statement), ends their sessions in this
 * workspace and unassigns their conversations, in one batch. Returns whether the member was removed.
 */
export async function removeMember(db: Db, workspaceId: string, memberId: string, userId: string) {
  const [removed, , unassigned] = await db.batch([
    db
      .delete(memberships)
      .where(
        and(
          eq(memberships.workspaceId, workspaceId),
          eq(memberships.id, memberId),
          sql`(${memberships.role} <> 'owner' or
            (select count(*) from memberships o where o.workspace_id = ${workspaceId} and o.role = 'owner') > 1)`,
        ),
      )
      .returning({ id: memberships.id }),
    db
      .delete(sessions)
      .where(
        and(
          eq(sessions.workspaceId, workspaceId),
          eq(sessions.userId, userId),
          sql`not exists (select 1 from memberships m where m.workspace_id = ${workspaceId} and m.user_id = ${userId})`,
        ),
      ),
    db
      .update(conversations)
      .set({ assignedUserId: null })
      .where(
        and(
          eq(conversations.workspaceId, workspaceId),
          eq(conversations.assignedUserId, userId),
          sql`not exists (select 1 from memberships m where m.workspace_id = ${workspaceId} and m.user_id = ${userId})`,
        ),
      )
      .returning({ id: conversations.id }),
  ]);
  return removed.length > 0 ? { unassigned: unassigned.map((r) => r.id) } : null;
}

export async function workspacesOf(db: Db, userId: string) {
  return db
    .select({ id: workspaces.id, name: workspaces.name, role: memberships.role })
    .from(memberships)
    .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.createdAt));
}

export async function findMembership(db: Db, workspaceId: string, userId: string) {
  return db.query.memberships.findFirst({
    where: and(eq(memberships.workspaceId, workspaceId), eq(memberships.userId, userId)),
  });
}

export function presentInvitation(row: typeof invitations.$inferSelect, now = Date.now()) {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    status: (row.acceptedAt ? "accepted" : row.expiresAt <= now ? "expired" : "pending") as
      | "accepted"
      | "expired"
      | "pending",
    expiresAt: new Date(row.expiresAt).toISOString(),
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

export async function listInvitations(db: Db, workspaceId: string) {
  return db
    .select()
    .from(invitations)
    .where(and(eq(invitations.workspaceId, workspaceId), isNull(invitations.acceptedAt)))
    .orderBy(desc(invitations.createdAt));
}

export async function deleteInvitation(db: Db, workspaceId: string, id: string) {
  const rows = await db
    .delete(invitations)
    .where(and(eq(invitations.workspaceId, workspaceId), eq(invitations.id, id), isNull(invitations.acceptedAt)))
    .returning();
  return rows[0];
}

/** A pending invitation by its token's hash, with its workspace's name. */
export async function findOpenInvitation(db: Db, tokenHash: string, now: number) {
  return db
    .select({ invitation: invitations, workspaceName: workspaces.name })
    .from(invitations)
    .innerJoin(workspaces, eq(workspaces.id, invitations.workspaceId))
    .where(and(eq(invitations.tokenHash, tokenHash), isNull(invitations.acceptedAt), gt(invitations.expiresAt, now)))
    .get();
}

/**
 * Statements that spend an invitation and make `userId` a member with its role, in one batch: the
 * UPDATE takes the invitation only while it is open (one use even when two accept at once), and the
 * membership is inserted only if that UPDATE took it. An existing member keeps their membership.
 */
export function acceptInvitationStatements(
  d1: D1Database,
  invitation: typeof invitations.$inferSelect,
  userId: string,
  memberId: string,
  now: number,
): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `UPDATE invitations SET accepted_at = ?2, accepted_by = ?3
         WHERE id = ?1 AND accepted_at IS NULL AND expires_at > ?2 RETURNING id`,
      )
      .bind(invitation.id, now, userId),
    d1
      .prepare(
        `INSERT OR IGNORE INTO memberships (id, workspace_id, user_id, role, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE changes() > 0`,
      )
      .bind(memberId, invitation.workspaceId, userId, invitation.role, now),
  ];
}

/** Statements that set a user's password and end their sessions (all but `keepSession`, if given). */
export function setPasswordStatements(db: Db, userId: string, passwordHash: string, keepSession?: string) {
  return [
    db.update(users).set({ passwordHash }).where(eq(users.id, userId)),
    db
      .delete(sessions)
      .where(
        keepSession
          ? and(eq(sessions.userId, userId), ne(sessions.tokenHash, keepSession))
          : eq(sessions.userId, userId),
      ),
  ] as const;
}

export async function createPasswordReset(db: Db, userId: string, tokenHash: string, expiresAt: number) {
  await db.insert(passwordResets).values({ tokenHash, userId, expiresAt });
}

/** Spends a reset token (one use, guarded in the statement); returns its user. */
export async function spendPasswordReset(db: Db, tokenHash: string, now: number) {
  const rows = await db
    .update(passwordResets)
    .set({ usedAt: now })
    .where(
      and(eq(passwordResets.tokenHash, tokenHash), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, now)),
    )
    .returning({ userId: passwordResets.userId });
  return rows[0];
}

/** Sets or clears a workspace's inbox-stream presence flag (see src/rooms/presence.ts). */
export function setInboxListeners(d1: D1Database, workspaceId: string, on: boolean) {
  return d1
    .prepare("UPDATE workspaces SET inbox_listeners = ?1 WHERE id = ?2")
    .bind(on ? 1 : 0, workspaceId)
    .run();
}

/** Of `userIds`, the workspace's agents (ids in order): who round-robin assignment may pick. */
export async function agentsAmong(d1: D1Database, workspaceId: string, userIds: string[]): Promise<string[]> {
  const { results } = await d1
    .prepare(
      `SELECT user_id AS id FROM memberships WHERE workspace_id = ?1 AND role = 'agent'
         AND user_id IN (SELECT value FROM json_each(?2)) ORDER BY user_id`,
    )
    .bind(workspaceId, JSON.stringify(userIds))
    .all<{ id: string }>();
  return results.map((r) => r.id);
}
