/** Each member's notification feed (mentions, assignments, customer replies on their conversations). */
import { and, desc, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../client";
import { notifications } from "../schema";

export type NotificationRow = typeof notifications.$inferSelect;

export async function listNotifications(
  db: Db,
  workspaceId: string,
  userId: string,
  opts: { limit: number; unread?: boolean; before?: { key: number; id: string } | null },
) {
  const conditions = [eq(notifications.workspaceId, workspaceId), eq(notifications.userId, userId)];
  if (opts.unread) conditions.push(isNull(notifications.readAt));
  if (opts.before) {
    const before = opts.before;
    const older = or(
      lt(notifications.createdAt, before.key),
      and(eq(notifications.createdAt, before.key), lt(notifications.id, before.id)),
    );
    if (older) conditions.push(older);
  }
  return db
    .select({
      row: notifications,
      unreadCount: sql<number>`(select count(*) from notifications n where n.workspace_id = ${workspaceId}
        and n.user_id = ${userId} and n.read_at is null)`.mapWith(Number),
    })
    .from(notifications)
    .where(and(...conditions))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(opts.limit + 1);
}

/** Marks the user's notifications read (these ids, or all); returns how many changed. */
export async function markNotificationsRead(
  db: Db,
  workspaceId: string,
  userId: string,
  ids: string[] | "all",
  now: number,
): Promise<number> {
  const conditions = [
    eq(notifications.workspaceId, workspaceId),
    eq(notifications.userId, userId),
    isNull(notifications.readAt),
  ];
  if (ids !== "all") conditions.push(inArray(notifications.id, ids.length > 0 ? ids : [""]));
  const rows = await db
    .update(notifications)
    .set({ readAt: now })
    .where(and(...conditions))
    .returning({ id: notifications.id });
  return rows.length;
}
