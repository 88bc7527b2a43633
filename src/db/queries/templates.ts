/** Templates (saved replies) of a workspace. */
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client";
import { templates } from "../schema";

export type TemplateRow = typeof templates.$inferSelect;

export async function listTemplates(db: Db, workspaceId: string) {
  return db.select().from(templates).where(eq(templates.workspaceId, workspaceId)).orderBy(asc(templates.name));
}

export async function getTemplate(db: Db, workspaceId: string, id: string) {
  return db.query.templates.findFirst({ where: and(eq(templates.workspaceId, workspaceId), eq(templates.id, id)) });
}

/**
 * What rendering needs, in one query: the template, the workspace's name and the acting user's name
 * (null for API keys).
 */
export async function templateWithNames(db: Db, workspaceId: string, id: string, userId: string | null) {
  return db
    .select({
      template: templates,
      workspaceName: sql<string>`(select w.name from workspaces w where w.id = ${workspaceId})`,
      agentName: sql<string | null>`(select u.name from users u where u.id = ${userId})`,
    })
    .from(templates)
    .where(and(eq(templates.workspaceId, workspaceId), eq(templates.id, id)))
    .get();
}
