/**
 * selectRows (src/db/rows.ts) gives exactly what awaiting the drizzle query gives: nested objects,
 * columns decoded by type (JSON, booleans), SQL fields through their mapWith, and a left-joined table's
 * object null when it found no row.
 */
import { env } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../../../src/db/client";
import { selectRows } from "../../../src/db/rows";
import { contacts, conversations, messages, workspaces } from "../../../src/db/schema";
import { call } from "../../helpers/api";
import { pendingMessage, textingWorkspace } from "../../helpers/pipeline";

describe("selectRows", () => {
  it("maps wide joined rows exactly as drizzle does, a conversation without messages included", async () => {
    const ws = await textingWorkspace();
    await pendingMessage(ws, "with a message");
    // A second conversation with no message yet: its left-joined last message is null.
    const other = await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: "+14155550199" } });
    expect(other.status).toBeLessThan(300);
    await call(
      "PATCH",
      `/api/contacts/${other.json.contactId}`,
      { key: ws.key },
      { body: { fields: { plan: "gold" } } },
    );
    const db = createDb(env.DB);
    const query = () =>
      db
        .select({
          conversation: conversations,
          contact: contacts,
          lastMessage: messages,
          workspace: { autoAssign: workspaces.autoAssign, quietHours: workspaces.quietHours },
          count: sql<number>`(select count(*) from messages m where m.conversation_id = ${conversations.id})`.mapWith(
            Number,
          ),
          flag: sql<boolean>`1`.mapWith(Boolean),
        })
        .from(conversations)
        .innerJoin(contacts, eq(contacts.id, conversations.contactId))
        .innerJoin(workspaces, eq(workspaces.id, conversations.workspaceId))
        .leftJoin(messages, eq(messages.id, conversations.lastMessageId))
        .where(and(eq(conversations.workspaceId, ws.account.workspaceId)))
        .orderBy(conversations.id);
    const expected = await query();
    expect(expected).toHaveLength(2);
    expect(expected.filter((r) => r.lastMessage === null)).toHaveLength(1);
    expect(await selectRows(db, query())).toEqual(expected);
  });
});
