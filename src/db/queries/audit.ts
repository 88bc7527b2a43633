/** The audit log: who did what to which row of a workspace. */
import type { Db } from "../client";
import { auditLog } from "../schema";

export interface Actor {
  kind: "session" | "api_key";
  workspaceId: string;
  userId: string | null;
  credentialId: string;
}

/** The audit row's actor: the signed-in user, or the API key (never a session's token hash). */
export function actorOf(actor: Actor): { actorType: string; actorId: string | null } {
  return actor.kind === "session"
    ? { actorType: "user", actorId: actor.userId }
    : { actorType: "api_key", actorId: actor.credentialId };
}

export function auditValues(
  actor: Actor,
  action: string,
  targetType: string,
  targetId: string,
  data?: Record<string, unknown>,
) {
  return { workspaceId: actor.workspaceId, ...actorOf(actor), action, targetType, targetId, data: data ?? null };
}

export async function audit(
  db: Db,
  actor: Actor,
  action: string,
  targetType: string,
  targetId: string,
  data?: Record<string, unknown>,
): Promise<void> {
  await db.insert(auditLog).values(auditValues(actor, action, targetType, targetId, data));
}
