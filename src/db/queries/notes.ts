/** Internal notes: the team's comments in a conversation, in its event order, never sent to the customer. */
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../client";
import { notes, users } from "../schema";

export type NoteRow = typeof notes.$inferSelect & { authorName: string | null };

/**
 * A note's insert and its seq, in one batch for the room: insert, take the conversation's next seq
 * (see mirrorSeqStatement), stamp it on the note and return the note with its author's name.
 */
export function noteStatements(
  d1: D1Database,
  note: {
    id: string;
    workspaceId: string;
    conversationId: string;
    userId: string | null;
    body: string;
    mentions: string[];
  },
  proposedSeq: number,
  now: number,
): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `INSERT INTO notes (id, workspace_id, conversation_id, user_id, body, mentions, seq, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, 0, ?7
         WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.id = ?3 AND c.workspace_id = ?2)`,
      )
      .bind(note.id, note.workspaceId, note.conversationId, note.userId, note.body, JSON.stringify(note.mentions), now),
    d1
      .prepare(
        `UPDATE conversations SET last_seq = max(last_seq + 1, ?1,
           coalesce((SELECT max(seq) FROM messages WHERE conversation_id = ?2), 0) + 1)
         WHERE id = ?2 AND changes() > 0 RETURNING last_seq AS seq`,
      )
      .bind(proposedSeq, note.conversationId),
    d1
      .prepare(
        `UPDATE notes SET seq = (SELECT last_seq FROM conversations WHERE id = ?2) WHERE id = ?1
         RETURNING id, workspace_id AS workspaceId, conversation_id AS conversationId, user_id AS userId, body,
           mentions, seq, created_at AS createdAt,
           (SELECT u.name FROM users u WHERE u.id = notes.user_id) AS authorName`,
      )
      .bind(note.id, note.conversationId),
  ];
}

export async function listNotes(db: Db, workspaceId: string, conversationId: string) {
  return db
    .select({ note: notes, authorName: users.name })
    .from(notes)
    .leftJoin(users, eq(users.id, notes.userId))
    .where(and(eq(notes.workspaceId, workspaceId), eq(notes.conversationId, conversationId)))
    .orderBy(asc(notes.seq))
    .limit(500);
}
