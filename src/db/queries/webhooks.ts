/** Integration webhooks: endpoints and their delivery log, always within a workspace. */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../client";
import { webhookDeliveries, webhookEndpoints } from "../schema";

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

export async function listEndpoints(db: Db, workspaceId: string) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.workspaceId, workspaceId))
    .orderBy(webhookEndpoints.createdAt);
}

export async function getEndpoint(db: Db, workspaceId: string, id: string) {
  return db.query.webhookEndpoints.findFirst({
    where: and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.workspaceId, workspaceId)),
  });
}

/** The enabled endpoints of these workspaces (one query for a batch of events). */
export async function enabledEndpointsOf(db: Db, workspaceIds: string[]) {
  return db
    .select({ id: webhookEndpoints.id, workspaceId: webhookEndpoints.workspaceId, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(
      and(
        sql`${webhookEndpoints.workspaceId} in (select value from json_each(${JSON.stringify(workspaceIds)}))`,
        eq(webhookEndpoints.enabled, true),
      ),
    );
}

/** One delivery row per event and endpoint (a repeated fan-out of the same event adds none). */
export async function insertDeliveries(db: Db, rows: (typeof webhookDeliveries.$inferInsert)[]) {
  if (rows.length === 0) return;
  // D1 binds at most 100 parameters per statement: 10 rows (9 columns each) per INSERT, one batch.
  const statements = [];
  for (let i = 0; i < rows.length; i += 10) {
    statements.push(
      db
        .insert(webhookDeliveries)
        .values(rows.slice(i, i + 10))
        .onConflictDoNothing(),
    );
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

export async function getDeliveryWithEndpoint(db: Db, id: string) {
  return db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, id))
    .get();
}

export async function listDeliveries(db: Db, workspaceId: string, endpointId: string, limit = 50) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.workspaceId, workspaceId), eq(webhookDeliveries.endpointId, endpointId)))
    .orderBy(desc(webhookDeliveries.createdAt))
    .limit(limit);
}

export async function getDelivery(db: Db, workspaceId: string, endpointId: string, id: string) {
  return db.query.webhookDeliveries.findFirst({
    where: and(
      eq(webhookDeliveries.id, id),
      eq(webhookDeliveries.endpointId, endpointId),
      eq(webhookDeliveries.workspaceId, workspaceId),
    ),
  });
}

/** Deliveries of these events that no attempt has taken yet. */
export async function unattemptedDeliveriesOf(db: Db, eventIds: string[]) {
  if (eventIds.length === 0) return [];
  return db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        sql`${webhookDeliveries.eventId} in (select value from json_each(${JSON.stringify(eventIds)}))`,
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
      ),
    );
}

/** What a batch that changed these messages needs to know of their workspaces afterwards (workspaceSignalsStatement). */
export interface WorkspaceSignals {
  /** Workspaces with an enabled integration endpoint: without one, no integration event is put on the queue. */
  integrations: Set<string>;
  /** Workspaces whose inbox stream may have a socket open: without one, the stream is not told (InboxStream). */
  listening: Set<string>;
}

/**
 * The workspaces of these messages (rows of `workspaceId`, `integrations`, `listening`), as a statement
 * to ride in the batch that changes them: read in the same transaction as the change, so a socket the
 * inbox stream accepts after it loads a list that already has the change.
 */
export function workspaceSignalsStatement(d1: D1Database, messageIds: string[]): D1PreparedStatement {
  return d1
    .prepare(
      `SELECT w.id AS workspaceId, w.inbox_listeners AS listening,
         EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.workspace_id = w.id AND e.enabled = 1) AS integrations
       FROM workspaces w
       WHERE w.id IN (SELECT m.workspace_id FROM messages m WHERE m.id IN (SELECT value FROM json_each(?1)))`,
    )
    .bind(JSON.stringify(messageIds));
}

/** Reads workspaceSignalsStatement's result. */
export function workspaceSignals(result: D1Result | undefined): WorkspaceSignals {
  const rows = (result?.results ?? []) as { workspaceId: string; listening: number; integrations: number }[];
  return {
    integrations: new Set(rows.filter((r) => r.integrations).map((r) => r.workspaceId)),
    listening: new Set(rows.filter((r) => r.listening).map((r) => r.workspaceId)),
  };
}
