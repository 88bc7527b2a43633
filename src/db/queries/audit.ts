/** The audit log: who did what to which row of a workspace. */
import { and, desc, eq, gte, like, lt, sql } from "drizzle-orm";
import type { Db } from "../client";
import { auditLog } from "../schema";

export interface Actor {
  kind: "session" | "api_key";
  workspaceId: string;
  userId: string | null;
  credentialId: string;
  /** The client's address, when a request did it. */
  clientIp?: string | null;
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
  return {
    workspaceId: actor.workspaceId,
    ...actorOf(actor),
    action,
    targetType,
    targetId,
    data: data ?? null,
    clientIp: actor.clientIp ?? null,
  };
}

/** The audit row as a raw statement, for a D1 batch that must record it in the same write. */
export function auditStatement(
  d1: D1Database,
  actor: Actor,
  action: string,
  targetType: string,
  targetId: string,
  data?: Record<string, unknown>,
): D1PreparedStatement {
  const v = auditValues(actor, action, targetType, targetId, data);
  return d1
    .prepare(
      `INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, target_type, target_id, data, client_ip)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      v.workspaceId,
      v.actorType,
      v.actorId,
      v.action,
      v.targetType,
      v.targetId,
      JSON.stringify(v.data),
      v.clientIp,
    );
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

/** A page of the audit log, newest first, with each actor's name (a member's or an API key's). */
export async function listAudit(
  db: Db,
  workspaceId: string,
  opts: { actor?: string; action?: string; from?: number; to?: number; limit: number; beforeId?: number },
) {
  const conditions = [eq(auditLog.workspaceId, workspaceId)];
  if (opts.actor) conditions.push(eq(auditLog.actorId, opts.actor));
  if (opts.action) {
    // `member` matches member.*; `member.removed` matches exactly.
    const prefix = opts.action.includes(".") ? opts.action : `${opts.action}.%`;
    conditions.push(like(auditLog.action, prefix));
  }
  if (opts.from !== undefined) conditions.push(gte(auditLog.at, opts.from));
  if (opts.to !== undefined) conditions.push(lt(auditLog.at, opts.to));
  if (opts.beforeId !== undefined) conditions.push(lt(auditLog.id, opts.beforeId));
  return db
    .select({
      row: auditLog,
      actorName: sql<string | null>`case ${auditLog.actorType}
        when 'user' then (select u.name from users u where u.id = ${auditLog.actorId})
        when 'api_key' then (select k.name from api_keys k where k.id = ${auditLog.actorId})
        else null end`,
    })
    .from(auditLog)
    .where(and(...conditions))
    .orderBy(desc(auditLog.id))
    .limit(opts.limit + 1);
}
