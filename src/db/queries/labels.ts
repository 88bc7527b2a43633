/** Labels: a workspace's named colors, applied to conversations. */
import { and, asc, eq, inArray, or } from "drizzle-orm";
import type { Db } from "../client";
import { labels } from "../schema";

export async function listLabels(db: Db, workspaceId: string) {
  return db.select().from(labels).where(eq(labels.workspaceId, workspaceId)).orderBy(asc(labels.name));
}

/** The workspace's labels among `idsOrNames` (each entry may be an id or a name). */
export async function findLabels(db: Db, workspaceId: string, idsOrNames: string[]) {
  if (idsOrNames.length === 0) return [];
  return db
    .select()
    .from(labels)
    .where(
      and(eq(labels.workspaceId, workspaceId), or(inArray(labels.id, idsOrNames), inArray(labels.name, idsOrNames))),
    );
}

export async function getLabel(db: Db, workspaceId: string, id: string) {
  return db.query.labels.findFirst({ where: and(eq(labels.workspaceId, workspaceId), eq(labels.id, id)) });
}
