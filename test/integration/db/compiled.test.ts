/**
 * Compiled statements (src/db/compiled.ts) give exactly what the same drizzle query gives with its
 * values in it: nested objects, columns decoded by type (JSON, booleans), SQL fields through their
 * mapWith, a left-joined table's object null when it found no row; an insert's omitted columns take
 * their defaults, as drizzle's own insert gives them.
 */
import { env } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../../../src/db/client";
import { compiled, compiledShapes, type Placeholders } from "../../../src/db/compiled";
import { contacts, conversations, messages, workspaces } from "../../../src/db/schema";
import { call } from "../../helpers/api";
import { pendingMessage, textingWorkspace } from "../../helpers/pipeline";

describe("compiled statements", () => {
  it("map wide joined rows exactly as drizzle does, a conversation without messages included", async () => {
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
    const query = (workspaceId: string | ReturnType<typeof sql.placeholder>) =>
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
        .where(and(eq(conversations.workspaceId, workspaceId as string)))
        .orderBy(conversations.id);
    const expected = await query(ws.account.workspaceId);
    expect(expected).toHaveLength(2);
    expect(expected.filter((r) => r.lastMessage === null)).toHaveLength(1);
    const statement = compiled((_db, p: Placeholders<"workspaceId">) => query(p.workspaceId));
    expect(await statement.all(env.DB, { workspaceId: ws.account.workspaceId })).toEqual(expected);
    expect(await statement.get(env.DB, { workspaceId: ws.account.workspaceId })).toEqual(expected[0]);
    // The same rows from a batch (objects keyed by column, as D1 gives them).
    const [batched] = await env.DB.batch([statement.statement(env.DB, { workspaceId: ws.account.workspaceId })]);
    const flat = compiled((d, p: Placeholders<"workspaceId">) =>
      d
        .select({ id: conversations.id, count: sql<number>`1 + 1`.mapWith(Number) })
        .from(conversations)
        .where(eq(conversations.workspaceId, p.workspaceId))
        .orderBy(conversations.id),
    );
    expect(batched?.results).toHaveLength(2);
    const [flatBatch] = await env.DB.batch([flat.statement(env.DB, { workspaceId: ws.account.workspaceId })]);
    expect(flat.fromBatch(flatBatch)).toEqual(expected.map((r) => ({ id: r.conversation.id, count: 2 })));
    // A batch row is read by column name, whatever order the statement that made it returns them in
    // (RETURNING * gives the database's order, where columns added by later migrations come last).
    const named = compiled((d, p: Placeholders<"workspaceId">) =>
      d
        .select({ id: conversations.id, status: conversations.status, count: sql<number>`1`.mapWith(Number).as("n") })
        .from(conversations)
        .where(eq(conversations.workspaceId, p.workspaceId)),
    );
    const [reversed] = await env.DB.batch([
      env.DB.prepare("SELECT 1 AS n, status, id FROM conversations WHERE workspace_id = ? ORDER BY id").bind(
        ws.account.workspaceId,
      ),
    ]);
    expect(named.fromBatch(reversed)).toEqual(
      expected.map((r) => ({ id: r.conversation.id, status: r.conversation.status, count: 1 })),
    );
  });

  it("fill an insert's omitted columns with their defaults and encode the given ones by column", async () => {
    const ws = await textingWorkspace();
    const conversation = (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } }))
      .json;
    const base = {
      workspaceId: ws.account.workspaceId,
      conversationId: conversation.id as string,
      direction: "outbound" as const,
      fromNumber: ws.from,
      toNumber: "+14155550100",
      body: "hi",
      status: "pending" as const,
      segments: 1,
      encoding: "GSM-7" as const,
      createdAt: 1,
      updatedAt: 1,
    };
    type Column = keyof typeof messages.$inferInsert;
    const insert = compiled((db, p: Placeholders<Column>) =>
      db
        .insert(messages)
        .values(
          Object.fromEntries(
            [...Object.keys(base), "id", "seq", "media", "channel", "attempts", "contentVariables"].map((k) => [
              k,
              p[k as Column],
            ]),
          ) as unknown as typeof messages.$inferInsert,
        )
        .returning(),
    );
    const [viaCompiled] = await insert.all(env.DB, { ...base, id: "msg_compiled_1", seq: 900 });
    const [viaDrizzle] = await createDb(env.DB)
      .insert(messages)
      .values({ ...base, id: "msg_compiled_2", seq: 901 })
      .returning();
    expect(viaCompiled).toEqual({ ...viaDrizzle, id: "msg_compiled_1", seq: 900 });
    expect(viaCompiled).toMatchObject({ media: [], channel: "sms", attempts: 0, contentVariables: null });
    // Given values are encoded by their column (JSON here), and null stays null.
    const [withMedia] = await insert.all(env.DB, {
      ...base,
      id: "msg_compiled_3",
      seq: 902,
      media: [{ url: "https://example.com/a.png", contentType: "image/png" }],
      contentVariables: null,
    });
    expect(withMedia?.media).toEqual([{ url: "https://example.com/a.png", contentType: "image/png" }]);
    expect(withMedia?.contentVariables).toBeNull();
  });

  it("build one statement per shape and reuse it", async () => {
    const built: string[] = [];
    const byShape = compiledShapes((db, p: Placeholders<"id">, shape: "one" | "two") => {
      built.push(shape);
      return db
        .select({ n: sql<number>`${shape === "one" ? sql`1` : sql`2`}`.mapWith(Number), id: sql<string>`${p.id}` })
        .from(workspaces)
        .limit(1);
    });
    await textingWorkspace();
    expect(await byShape("one").get(env.DB, { id: "a" })).toEqual({ n: 1, id: "a" });
    expect(await byShape("two").get(env.DB, { id: "b" })).toEqual({ n: 2, id: "b" });
    expect(await byShape("one").get(env.DB, { id: "c" })).toEqual({ n: 1, id: "c" });
    expect(built).toEqual(["one", "two"]);
  });
});
