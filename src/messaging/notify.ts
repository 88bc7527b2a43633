/**
 * Notifications: stored in the member's feed, then pushed live to their open inboxes (`notification`
 * frames on /api/ws). Nobody is notified of their own action.
 */
import type { Db } from "../db/client";
import type { NotificationRow } from "../db/queries/notifications";
import { notifications } from "../db/schema";
import { newId } from "../domain/ids";
import type { Principal } from "../domain/principal";
import { iso } from "../domain/time";
import { log } from "../log";
import { inboxFor } from "../rooms/inbox-stream";
import type { NotificationJson } from "../shared/frames";

export interface Actor {
  type: "user" | "api_key" | "system" | "customer";
  id: string | null;
  name: string | null;
}

export interface NewNotification {
  workspaceId: string;
  userId: string;
  type: "mention" | "assigned" | "inbound_on_mine" | "campaign_paused" | "webhook_disabled";
  /** null for a notice about the workspace (a campaign paused: the actor is the campaign). */
  conversationId: string | null;
  actor: Actor;
}

export function presentNotification(row: NotificationRow): NotificationJson {
  return {
    id: row.id,
    type: row.type,
    conversationId: row.conversationId,
    actor: { type: row.actorType as Actor["type"], id: row.actorId, name: row.actorName },
    createdAt: iso(row.createdAt),
    readAt: iso(row.readAt),
  };
}

/** The acting principal as a notification's actor (a user's name, or the API key's name). */
export async function actorOf(db: Db, principal: Principal): Promise<Actor> {
  if (principal.kind === "session" && principal.userId) {
    const user = await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, principal.userId ?? "") });
    return { type: "user", id: principal.userId, name: user?.name ?? null };
  }
  const key = await db.query.apiKeys.findFirst({ where: (k, { eq }) => eq(k.id, principal.credentialId) });
  return { type: "api_key", id: principal.credentialId, name: key?.name ?? null };
}

/** Stores the notifications (one batch) and pushes each to its member's open inboxes. */
export async function notify(env: Env, db: Db, items: NewNotification | NewNotification[]): Promise<void> {
  const list = (Array.isArray(items) ? items : [items]).filter((n) => n.actor.id !== n.userId);
  if (list.length === 0) return;
  const now = Date.now();
  const rows: NotificationRow[] = list.map((n) => ({
    id: newId("ntf"),
    workspaceId: n.workspaceId,
    userId: n.userId,
    type: n.type,
    conversationId: n.conversationId,
    actorType: n.actor.type,
    actorId: n.actor.id,
    actorName: n.actor.name,
    createdAt: now,
    readAt: null,
  }));
  await db.insert(notifications).values(rows);
  await deliver(env, rows);
}

/** Pushes stored notifications to their members' open inboxes (best effort: the feed has them). */
export async function deliver(env: Env, rows: NotificationRow[]): Promise<void> {
  const byWorkspace = new Map<string, NotificationRow[]>();
  for (const row of rows) byWorkspace.set(row.workspaceId, [...(byWorkspace.get(row.workspaceId) ?? []), row]);
  await Promise.all(
    [...byWorkspace].map(([workspaceId, list]) =>
      inboxFor(env, workspaceId)
        .deliver(list.map((r) => ({ userId: r.userId, notification: presentNotification(r) })))
        .catch((err: unknown) => log("warn", "notification push failed", { workspaceId, error: String(err) })),
    ),
  );
}
