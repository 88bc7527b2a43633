/** Attachments: files kept in R2 (FILES) for messages, one row each, always within a workspace. */
import { and, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../client";
import { attachments } from "../schema";

export type AttachmentRow = typeof attachments.$inferSelect;

export async function insertAttachment(db: Db, row: typeof attachments.$inferInsert) {
  await db.insert(attachments).values(row);
}

export async function getAttachment(db: Db, workspaceId: string, id: string) {
  return db.query.attachments.findFirst({
    where: and(eq(attachments.id, id), eq(attachments.workspaceId, workspaceId)),
  });
}

/** For the signed media link: the attachment by id alone (the signature is the authority). */
export async function getAttachmentById(db: Db, id: string) {
  return db.query.attachments.findFirst({ where: eq(attachments.id, id) });
}

export async function getAttachments(db: Db, workspaceId: string, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(attachments)
    .where(and(eq(attachments.workspaceId, workspaceId), inArray(attachments.id, ids)));
}

export async function linkAttachments(db: Db, workspaceId: string, ids: string[], messageId: string) {
  if (ids.length === 0) return;
  await db
    .update(attachments)
    .set({ messageId })
    .where(and(eq(attachments.workspaceId, workspaceId), inArray(attachments.id, ids), isNull(attachments.messageId)));
}

/** Uploads nobody sent within a day: their objects and rows go. */
export async function unusedBefore(db: Db, before: number, limit: number) {
  return db
    .select({ id: attachments.id, key: attachments.key })
    .from(attachments)
    .where(and(isNull(attachments.messageId), lt(attachments.createdAt, before)))
    .limit(limit);
}

/**
 * The attachments of erased messages (retention), to delete with their objects. The ids go in as one
 * JSON parameter: a retention batch has hundreds, and D1 binds at most 100 parameters.
 */
export async function attachmentsOfMessages(db: Db, messageIds: string[]) {
  if (messageIds.length === 0) return [];
  return db
    .select({ id: attachments.id, key: attachments.key })
    .from(attachments)
    .where(sql`${attachments.messageId} IN (SELECT value FROM json_each(${JSON.stringify(messageIds)}))`);
}

/** The attachments of some conversations' messages still in D1 (a contact's, before it is deleted). */
export async function attachmentsOfConversations(db: Db, workspaceId: string, conversationIds: string[]) {
  if (conversationIds.length === 0) return [];
  return db
    .select({ id: attachments.id, key: attachments.key })
    .from(attachments)
    .where(
      sql`${attachments.workspaceId} = ${workspaceId} AND ${attachments.messageId} IN (SELECT id FROM messages
        WHERE conversation_id IN (SELECT value FROM json_each(${JSON.stringify(conversationIds)})))`,
    );
}

/** Attachments of a workspace by id (those an archived message used). */
export async function attachmentsByIds(db: Db, workspaceId: string, ids: string[]) {
  return db
    .select({ id: attachments.id, key: attachments.key })
    .from(attachments)
    .where(
      sql`${attachments.workspaceId} = ${workspaceId} AND ${attachments.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
    );
}

export async function deleteAttachments(db: Db, ids: string[]) {
  if (ids.length === 0) return;
  await db.delete(attachments).where(sql`${attachments.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
}
