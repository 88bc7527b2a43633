/**
 * Archive to R2: messages older than the workspace's threshold leave D1 for R2 as gzip JSONL per
 * conversation and month (rows and their events), a stub per object staying in D1; thread pages (also
 * paged and resumed across archived ranges) read them transparently, search by metadata still finds the
 * conversation, stubs are listed by conversation, contact and time; a second run archives nothing twice;
 * restore brings rows and events back and deletes the objects; retention erases archived contents as it
 * does in D1; tenant-safe, admin-only and audited.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DAILY } from "../../../src/cron";
import { createDb } from "../../../src/db/client";
import { attachmentsOfMessages, deleteAttachments } from "../../../src/db/queries/attachments";
import worker from "../../../src/index";
import { archiveDue } from "../../../src/messaging/archive";
import { purgeExpired } from "../../../src/messaging/retention";
import { addContact, addNumber, call, createKey, signup } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { eventually } from "../../helpers/twilio";

const DAY = 24 * 3_600_000;

/** A conversation with 3 messages 100 days old, 2 that are 40 days old, and one from now (its last). */
async function oldConversation() {
  const account = await signup();
  const key = await createKey(account);
  const number = await addNumber({ key });
  const contact = await addContact({ key }, { name: "Archibald Oldham" });
  const conv = `cv_arch${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`;
  const now = Date.now();
  const rows = [
    [1, now - 100 * DAY, "inbound", "Do you still have the blue teapot?"],
    [2, now - 100 * DAY + 60_000, "outbound", "We do! Shall I hold it for you?"],
    [3, now - 100 * DAY + 120_000, "inbound", "Yes please, until Friday."],
    [4, now - 40 * DAY, "inbound", "Is my teapot order ready?"],
    [5, now - 40 * DAY + 60_000, "outbound", "Ready for pickup at the counter."],
    [6, now, "inbound", "Thanks, picked it up today."],
  ] as const;
  const ids = rows.map(([seq]) => `msg_${conv}_${seq}`);
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO conversations (id, workspace_id, contact_id, from_number, last_seq, last_message_id, last_message_at, created_at)
       VALUES (?, ?, ?, ?, 6, ?, ?, ?)`,
    ).bind(conv, account.workspaceId, contact.id, number.phoneNumber, ids[5], now, now - 100 * DAY),
    ...rows.map(([seq, at, direction, body], i) =>
      env.DB.prepare(
        `INSERT INTO messages (id, workspace_id, conversation_id, seq, direction, from_number, to_number, body, status,
           segments, encoding, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'GSM-7', ?, ?)`,
      ).bind(
        ids[i],
        account.workspaceId,
        conv,
        seq,
        direction,
        direction === "inbound" ? contact.phone : number.phoneNumber,
        direction === "inbound" ? number.phoneNumber : contact.phone,
        body,
        direction === "inbound" ? "received" : "delivered",
        at,
        at,
      ),
    ),
    // Each outbound message has its status history.
    ...[1, 4].map((i) =>
      env.DB.prepare(
        "INSERT INTO message_events (workspace_id, message_id, status, at, source, applied) VALUES (?, ?, 'delivered', ?, 'callback', 1)",
      ).bind(account.workspaceId, ids[i], rows[i]?.[1] ?? 0),
    ),
  ]);
  return { account, key, conv, ids, contactId: contact.id, bodies: rows.map((r) => r[3] as string) };
}

async function gunzipLines(key: string): Promise<Record<string, any>[]> {
  const object = await env.FILES.get(key);
  if (!object) throw new Error(`no object ${key}`);
  const text = await new Response(object.body.pipeThrough(new DecompressionStream("gzip"))).text();
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

async function inD1(conv: string) {
  const { results } = await env.DB.prepare("SELECT id, seq, body FROM messages WHERE conversation_id = ? ORDER BY seq")
    .bind(conv)
    .all<{ id: string; seq: number; body: string }>();
  return results;
}

async function stubRows(conv: string) {
  const { results } = await env.DB.prepare(
    "SELECT first_seq AS firstSeq, last_seq AS lastSeq, messages, key FROM message_archives WHERE conversation_id = ? ORDER BY first_seq",
  )
    .bind(conv)
    .all<{ firstSeq: number; lastSeq: number; messages: number; key: string }>();
  return results;
}

const bodies = (page: { items: { body: string }[] }) => page.items.map((m) => m.body);
const seqs = (page: { items: { seq: number }[] }) => page.items.map((m) => m.seq);

describe("archive to R2", () => {
  it("moves old messages to R2 per conversation and month, reads them back transparently, and restores them", async () => {
    const ws = await oldConversation();
    const thread = async (q = "") =>
      (await call("GET", `/api/conversations/${ws.conv}/messages${q}`, { key: ws.key })).json;
    expect(bodies(await thread())).toEqual(ws.bodies);

    // Nothing is archived without a threshold; the threshold has a floor.
    expect((await call("POST", "/api/archive/run", { key: ws.key })).json).toMatchObject({ objects: 0, messages: 0 });
    const set = await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 30 } });
    expect(set.json.archiveAfterDays).toBe(30);
    const low = await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 1 } });
    expect(low.status).toBe(422);

    const run = await call("POST", "/api/archive/run", { key: ws.key });
    expect(run.status).toBe(200);
    expect(run.json).toMatchObject({
      objects: 2,
      messages: 5,
      more: false,
      summary: { archivedMessages: 5, objects: 2 },
    });

    // D1 keeps the last message and one stub per conversation-month; the rest and their events are gone.
    expect((await inD1(ws.conv)).map((r) => r.seq)).toEqual([6]);
    const events = await env.DB.prepare("SELECT count(*) AS n FROM message_events WHERE message_id IN (?, ?)")
      .bind(ws.ids[1], ws.ids[4])
      .first<{ n: number }>();
    expect(events?.n).toBe(0);
    const stubs = await stubRows(ws.conv);
    expect(stubs.map((s) => [s.firstSeq, s.lastSeq, s.messages])).toEqual([
      [1, 3, 3],
      [4, 5, 2],
    ]);
    expect(stubs[0]?.key).toMatch(
      new RegExp(`^archive/${ws.account.workspaceId}/${ws.conv}/\\d{4}-\\d{2}\\.1-3\\.jsonl\\.gz$`),
    );
    // Each object: gzip JSONL, one whole message per line with its events.
    const lines = await gunzipLines(stubs[0]?.key ?? "");
    expect(lines.map((l) => l.body)).toEqual(ws.bodies.slice(0, 3));
    expect(lines[1]).toMatchObject({ id: ws.ids[1], seq: 2, direction: "outbound", status: "delivered" });
    expect(lines[1]?.events).toMatchObject([{ status: "delivered", source: "callback" }]);

    // Reads are transparent: the whole thread, pages across both objects, and a resume from inside one.
    expect(bodies(await thread())).toEqual(ws.bodies);
    const latest = await thread("?limit=2");
    expect([seqs(latest), latest.nextCursor]).toEqual([[5, 6], "5"]);
    const middle = await thread("?before=5&limit=2");
    expect([seqs(middle), middle.nextCursor]).toEqual([[3, 4], "3"]);
    const oldest = await thread("?before=3&limit=2");
    expect([bodies(oldest), oldest.nextCursor]).toEqual([ws.bodies.slice(0, 2), null]);
    expect(seqs(await thread("?after=1&limit=10"))).toEqual([2, 3, 4, 5, 6]);
    expect(seqs(await thread("?after=2&limit=2"))).toEqual([3, 4]);
    // Search by metadata still finds the conversation; its archived months are listed by metadata.
    expect(JSON.stringify((await call("GET", "/api/search?q=Archibald", { key: ws.key })).json)).toContain(ws.conv);
    const entries = async (q: string) => (await call("GET", `/api/archive/entries?${q}`, { key: ws.key })).json.items;
    expect(await entries(`conversationId=${ws.conv}`)).toHaveLength(2);
    expect(await entries(`contactId=${ws.contactId}`)).toMatchObject([
      { month: expect.any(String), messages: 2 },
      { messages: 3 },
    ]);
    const recent = new Date(Date.now() - 50 * DAY).toISOString();
    expect(await entries(`conversationId=${ws.conv}&from=${recent}`)).toMatchObject([{ firstSeq: 4, lastSeq: 5 }]);

    // The contact's history still counts them.
    const history = (await call("GET", `/api/contacts/${ws.contactId}/history`, { key: ws.key })).json;
    expect(history).toMatchObject({ inbound: 4, outbound: 2 });
    expect(Date.parse(history.firstMessageAt)).toBeLessThan(Date.now() - 99 * DAY);

    // Archived hours are not rebuilt from D1 (they would lose the archived messages).
    const recompute = await call(
      "POST",
      "/api/analytics/recompute",
      { key: ws.key },
      {
        body: {
          from: new Date(Date.now() - 40 * DAY).toISOString(),
          to: new Date(Date.now() - 39 * DAY).toISOString(),
        },
      },
    );
    expect([recompute.status, recompute.json.error.code]).toEqual([422, "range_archived"]);

    // A second run archives nothing twice.
    expect((await call("POST", "/api/archive/run", { key: ws.key })).json).toMatchObject({ objects: 0, messages: 0 });

    // Restore: rows and events back in D1, stubs and objects gone, the words searchable again.
    const restored = await call("POST", "/api/archive/restore", { key: ws.key }, { body: { conversationId: ws.conv } });
    expect(restored.json).toMatchObject({ objects: 2, messages: 5, more: false, summary: { archivedMessages: 0 } });
    expect((await inD1(ws.conv)).map((r) => r.body)).toEqual(ws.bodies);
    const back = await env.DB.prepare("SELECT count(*) AS n FROM message_events WHERE message_id IN (?, ?)")
      .bind(ws.ids[1], ws.ids[4])
      .first<{ n: number }>();
    expect(back?.n).toBe(2);
    expect(await stubRows(ws.conv)).toEqual([]);
    for (const s of stubs) expect(await env.FILES.get(s.key)).toBeNull();
    expect(JSON.stringify((await call("GET", "/api/search?q=teapot", { key: ws.key })).json)).toContain(ws.ids[0]);
    expect(bodies(await thread())).toEqual(ws.bodies);

    const audit = (await call("GET", "/api/audit", ws.account)).json.items.map((a: { action: string }) => a.action);
    expect(audit).toEqual(expect.arrayContaining(["archive.run", "archive.restored", "workspace.updated"]));
  });

  it("a crash between writing the object and committing the stub loses nothing; the next run finishes the job", async () => {
    const ws = await oldConversation();
    await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 30 } });
    // D1 fails the commit (the stub and the deletion) after the object was written to R2.
    const failingDb = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            const sqlOf = (s: D1PreparedStatement) => String((s as unknown as { statement?: string }).statement);
            if (statements.some((s) => sqlOf(s).includes("INTO message_archives"))) throw new Error("D1 went away");
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const crashing = { ...env, DB: failingDb } as Env;
    await expect(archiveDue(crashing, Date.now(), ws.account.workspaceId)).rejects.toThrow(/went away/);
    // The rows are all still in D1 and readable; an object was written but no stub points at it.
    expect((await inD1(ws.conv)).map((r) => r.body)).toEqual(ws.bodies);
    expect(await stubRows(ws.conv)).toEqual([]);
    const orphan = (await env.FILES.list({ prefix: `archive/${ws.account.workspaceId}/` })).objects.map((o) => o.key);
    expect(orphan.length).toBeGreaterThan(0);
    // The next run writes the same keys again and commits: each message once, in exactly one object.
    const run = await call("POST", "/api/archive/run", { key: ws.key });
    expect(run.json).toMatchObject({ objects: 2, messages: 5 });
    const keys = (await env.FILES.list({ prefix: `archive/${ws.account.workspaceId}/` })).objects.map((o) => o.key);
    expect(keys.sort()).toEqual((await stubRows(ws.conv)).map((s) => s.key).sort());
    expect(bodies((await call("GET", `/api/conversations/${ws.conv}/messages`, { key: ws.key })).json)).toEqual(
      ws.bodies,
    );
  });

  it("the daily cron archives through one job per workspace on the jobs queue", async () => {
    const ws = await oldConversation();
    await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 30 } });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: DAILY, scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    await eventually(async () => (await stubRows(ws.conv)).length === 2);
    expect((await inD1(ws.conv)).map((r) => r.seq)).toEqual([6]);
    expect(bodies((await call("GET", `/api/conversations/${ws.conv}/messages`, { key: ws.key })).json)).toEqual(
      ws.bodies,
    );
  });

  it("retention erases archived contents as it does in D1: the messages keep their place, not their words", async () => {
    const ws = await oldConversation();
    await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 30 } });
    await call("POST", "/api/archive/run", { key: ws.key });
    const [old, recent] = await stubRows(ws.conv);
    await call("PATCH", "/api/workspace", { key: ws.key }, { body: { retentionDays: 60 } });
    await purgeExpired(env, Date.now());
    expect((await gunzipLines(old?.key ?? "")).map((l) => [l.seq, l.body, l.events.length])).toEqual([
      [1, "", 0],
      [2, "", 0],
      [3, "", 0],
    ]);
    expect((await gunzipLines(recent?.key ?? "")).map((l) => l.body)).toEqual(ws.bodies.slice(3, 5));
    const thread = (await call("GET", `/api/conversations/${ws.conv}/messages`, { key: ws.key })).json;
    expect(bodies(thread)).toEqual(["", "", "", ...ws.bodies.slice(3)]);
    const entries = (await call("GET", `/api/archive/entries?conversationId=${ws.conv}`, { key: ws.key })).json.items;
    expect(entries.find((e: { firstSeq: number }) => e.firstSeq === 1).erasedBefore).not.toBeNull();
    // The next day's run has nothing new to erase in that object.
    const audit = (await call("GET", "/api/audit?action=retention.purged", ws.account)).json.items;
    expect(audit[0].data).toMatchObject({ archives: 1 });
  });

  it("freezes a finished campaign's counts before archiving its messages, and leaves a running campaign's alone", async () => {
    const ws = await oldConversation();
    const campaign = async (id: string, status: string, messageId: string) => {
      await env.DB.batch([
        env.DB.prepare(
          `INSERT INTO campaigns (id, workspace_id, name, status, audience, number_ids, audience_count, started_at, created_at)
           VALUES (?, ?, ?, ?, '{"labels":[]}', '[]', 1, ?, ?)`,
        ).bind(id, ws.account.workspaceId, id, status, Date.now() - 101 * DAY, Date.now() - 101 * DAY),
        env.DB.prepare(
          `INSERT INTO campaign_recipients (campaign_id, contact_id, workspace_id, phone, message_id, outcome, created_at)
           VALUES (?, ?, ?, '+14155550100', ?, 'message', ?)`,
        ).bind(id, ws.contactId, ws.account.workspaceId, messageId, Date.now() - 100 * DAY),
        env.DB.prepare("UPDATE messages SET campaign_id = ? WHERE id = ?").bind(id, messageId),
      ]);
    };
    const done = `cmp_done${crypto.randomUUID().slice(0, 8)}`;
    const going = `cmp_going${crypto.randomUUID().slice(0, 8)}`;
    await campaign(done, "completed", ws.ids[4] ?? "");
    await campaign(going, "running", ws.ids[1] ?? "");
    const counts = async (id: string) => (await call("GET", `/api/campaigns/${id}`, { key: ws.key })).json.counts;
    const before = await counts(done);
    expect(before).toMatchObject({ sent: 1, delivered: 1, replied: 1 });
    await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 30 } });
    const run = await call("POST", "/api/archive/run", { key: ws.key });
    // The running campaign's message (seq 2) stays in D1; the rest of its month goes around it.
    expect(run.json.messages).toBe(4);
    expect((await inD1(ws.conv)).map((r) => r.seq)).toEqual([2, 6]);
    expect(await counts(done)).toEqual(before);
    expect((await counts(going)).sent).toBe(1);
    // Pages merge D1's rows and the archive's where their seqs interleave.
    const thread = async (q = "") =>
      (await call("GET", `/api/conversations/${ws.conv}/messages${q}`, { key: ws.key })).json;
    expect(bodies(await thread())).toEqual(ws.bodies);
    const page = await thread("?before=4&limit=2");
    expect([seqs(page), page.nextCursor]).toEqual([[2, 3], "2"]);
    expect(seqs(await thread("?before=2&limit=5"))).toEqual([1]);
    expect(seqs(await thread("?after=1&limit=3"))).toEqual([2, 3, 4]);
    expect(seqs(await thread("?limit=3"))).toEqual([4, 5, 6]);
  });

  it("deleting the contact deletes its archives and their attachments; deleting the workspace deletes all its files", async () => {
    const ws = await oldConversation();
    // An archived message with a picture.
    const attachmentKey = `attachments/${ws.account.workspaceId}/att_archived1`;
    await env.FILES.put(attachmentKey, new Uint8Array([1, 2, 3]));
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO attachments (id, workspace_id, message_id, key, name, content_type, size, created_at) VALUES ('att_archived1', ?, ?, ?, 'p.jpg', 'image/jpeg', 3, ?)",
      ).bind(ws.account.workspaceId, ws.ids[1], attachmentKey, Date.now()),
      env.DB.prepare(
        `UPDATE messages SET media = '[{"url":"x","contentType":"image/jpeg","attachmentId":"att_archived1","name":"p.jpg","size":3}]' WHERE id = ?`,
      ).bind(ws.ids[1]),
    ]);
    await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 30 } });
    await call("POST", "/api/archive/run", { key: ws.key });
    const keys = (await stubRows(ws.conv)).map((s) => s.key);
    expect(keys).toHaveLength(2);
    expect((await call("DELETE", `/api/contacts/${ws.contactId}`, { key: ws.key })).status).toBe(204);
    for (const k of [...keys, attachmentKey]) expect(await env.FILES.get(k)).toBeNull();
    expect(await stubRows(ws.conv)).toEqual([]);
    expect(await env.DB.prepare("SELECT id FROM attachments WHERE id = 'att_archived1'").first()).toBeNull();

    // The workspace's other files go with the workspace.
    const other = await oldConversation();
    await call("PATCH", "/api/workspace", { key: other.key }, { body: { archiveAfterDays: 30 } });
    await call("POST", "/api/archive/run", { key: other.key });
    const files = [...(await stubRows(other.conv)).map((s) => s.key), `imports/${other.account.workspaceId}/x.csv`];
    await env.FILES.put(files.at(-1) ?? "", "phone\n");
    const name = (await call("GET", "/api/workspace", other.account)).json.name;
    expect((await call("DELETE", "/api/workspace", other.account, { body: { confirm: name } })).status).toBe(204);
    await eventually(async () => {
      for (const k of files) if (await env.FILES.get(k)) return false;
      return true;
    });
  });

  it("looks up the attachments of hundreds of messages at once (D1 binds at most 100 parameters)", async () => {
    const ids = Array.from({ length: 250 }, (_, i) => `msg_many_${i}`);
    await expect(attachmentsOfMessages(createDb(env.DB), ids)).resolves.toEqual([]);
    await expect(deleteAttachments(createDb(env.DB), ids)).resolves.toBeUndefined();
  });

  it("is admin-only and tenant-safe", async () => {
    const ws = await oldConversation();
    const other = await signup();
    const otherKey = await createKey(other);
    await call("PATCH", "/api/workspace", { key: ws.key }, { body: { archiveAfterDays: 30 } });
    await call("POST", "/api/archive/run", { key: ws.key });
    // Another workspace's admin cannot restore, list or read this conversation's archive: 404 or nothing.
    const cross = await call("POST", "/api/archive/restore", { key: otherKey }, { body: { conversationId: ws.conv } });
    expect(cross.status).toBe(404);
    expect(await stubRows(ws.conv)).toHaveLength(2);
    const listed = await call("GET", `/api/archive/entries?conversationId=${ws.conv}`, { key: otherKey });
    expect(listed.json.items).toEqual([]);
    expect((await call("GET", "/api/archive", { key: otherKey })).json.archivedMessages).toBe(0);
    const page = await call("GET", `/api/conversations/${ws.conv}/messages?before=4`, { key: otherKey });
    expect(page.status).toBe(404);
    // Agents and keys without the admin scope may not.
    const agent = await addMember(ws.account.workspaceId, "agent");
    for (const [method, path] of [
      ["POST", "/api/archive/run"],
      ["GET", "/api/archive"],
      ["GET", "/api/archive/entries"],
    ] as const) {
      expect((await call(method, path, agent)).status).toBe(403);
    }
    const readKey = await createKey(ws.account, "read", ["messages:read"]);
    expect((await call("POST", "/api/archive/restore", { key: readKey }, { body: {} })).status).toBe(403);
    // Agents still read archived pages of their threads.
    const agentPage = await call("GET", `/api/conversations/${ws.conv}/messages`, agent);
    expect(bodies(agentPage.json)).toEqual(ws.bodies);
    const summary = await call("GET", "/api/archive", { key: ws.key });
    expect(summary.json).toMatchObject({ archiveAfterDays: 30, archivedMessages: 5, objects: 2 });
    expect(summary.json.bytes).toBeGreaterThan(0);
  });
});
