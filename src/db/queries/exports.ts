/** Pages of rows for exports, by rowid (stable while new rows arrive). */

export async function contactsPage(d1: D1Database, workspaceId: string, afterRowid: number, limit: number) {
  const { results } = await d1
    .prepare(
      `SELECT rowid AS r, id, name, phone, email, timezone, fields, opted_out AS optedOut, created_at AS createdAt,
         merged_into AS mergedInto
       FROM contacts WHERE workspace_id = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3`,
    )
    .bind(workspaceId, afterRowid, limit)
    .all<{
      r: number;
      id: string;
      name: string | null;
      phone: string;
      email: string | null;
      timezone: string | null;
      fields: string;
      optedOut: number;
      createdAt: number;
      mergedInto: string | null;
    }>();
  return results;
}

export async function transcriptPage(
  d1: D1Database,
  workspaceId: string,
  range: { from: number; to: number },
  afterRowid: number,
  limit: number,
) {
  const { results } = await d1
    .prepare(
      `SELECT m.rowid AS r, m.conversation_id AS conversationId, m.seq, m.direction, m.from_number AS "from",
         m.to_number AS "to", m.body, m.status, m.sent_by_name AS sentBy, m.created_at AS createdAt,
         ct.name AS contactName
       FROM messages m JOIN conversations c ON c.id = m.conversation_id LEFT JOIN contacts ct ON ct.id = c.contact_id
       WHERE m.workspace_id = ?1 AND m.created_at >= ?2 AND m.created_at < ?3 AND m.rowid > ?4
       ORDER BY m.rowid LIMIT ?5`,
    )
    .bind(workspaceId, range.from, range.to, afterRowid, limit)
    .all<{
      r: number;
      conversationId: string;
      seq: number;
      direction: string;
      from: string;
      to: string;
      body: string;
      status: string;
      sentBy: string | null;
      createdAt: number;
      contactName: string | null;
    }>();
  return results;
}
