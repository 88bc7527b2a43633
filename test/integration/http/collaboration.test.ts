/**
 * Working a conversation as a team: assignment and states (with the `conversation` frame in the
 * room's order), filters, labels, snoozes that wake, internal notes with @mentions, notifications
 * (feed and live), who sent which message, and the audit log as an API.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runMinuteJobs } from "../../../src/cron";
import { findMentions } from "../../../src/domain/mentions";
import { call, createKey, signup } from "../../helpers/api";
import { addMember, countRows } from "../../helpers/db";
import { type TextingWorkspace, textingWorkspace } from "../../helpers/pipeline";
import { openSocket } from "../../helpers/sockets";
import { deliver, eventually, inboundText } from "../../helpers/twilio";

async function textIn(ws: TextingWorkspace, body: string) {
  const { held } = await inboundText({ from: ws.customer, to: ws.from, body });
  for (const req of held) expect((await deliver(req)).status).toBe(200);
}

async function conversationOf(ws: TextingWorkspace) {
  const list = await call("GET", "/api/conversations", { key: ws.key });
  const conv = list.json.items.find((c: { contact: { phone: string } }) => c.contact.phone === ws.customer);
  if (!conv) throw new Error("no conversation");
  return conv as { id: string; status: string };
}

describe("assignment, states and labels", () => {
  let ws: TextingWorkspace;
  let agent: { cookie: string; userId: string };
  let convId: string;

  beforeAll(async () => {
    ws = await textingWorkspace();
    agent = await addMember(ws.account.workspaceId, "agent");
    await textIn(ws, "hi, is my order shipped?");
    convId = (await conversationOf(ws)).id;
  });

  it("assigning is an ordered event: the room sends a `conversation` frame at the next seq; the assignee is notified live", async () => {
    const room = await openSocket(`/api/conversations/${convId}/ws`, ws.account);
    const hello = await room.next((f) => f.type === "hello");
    const agentInbox = await openSocket("/api/ws", agent);
    const res = await call("PATCH", `/api/conversations/${convId}`, ws.account, { body: { assignee: agent.userId } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.assignee).toEqual({ id: agent.userId, name: "Member agent" });
    const frame = await room.next((f) => f.type === "conversation");
    expect(frame.seq).toBe(hello.lastSeq + 1);
    expect(frame.conversation).toMatchObject({ id: convId, status: "open", assignee: { id: agent.userId } });
    const pushed = await agentInbox.next((f) => f.type === "notification");
    expect(pushed.notification).toMatchObject({
      type: "assigned",
      conversationId: convId,
      actor: { type: "user", id: ws.account.userId },
      readAt: null,
    });
    const feed = await call("GET", "/api/notifications", agent);
    expect(feed.json.unreadCount).toBe(1);
    expect(feed.json.items[0].id).toBe(pushed.notification.id);
    expect((await call("POST", "/api/notifications/read", agent, { body: { all: true } })).json.updated).toBe(1);
    expect((await call("GET", "/api/notifications", agent)).json.unreadCount).toBe(0);
    // A resume replays the frame from the log.
    const late = await openSocket(`/api/conversations/${convId}/ws`, ws.account);
    await late.next((f) => f.type === "hello");
    late.send({ type: "resume", afterSeq: hello.lastSeq });
    expect((await late.next((f) => f.type === "conversation")).seq).toBe(frame.seq);
  });

  it("filters: assignee=me|none|<id>, status, label", async () => {
    const mine = await call("GET", "/api/conversations?assignee=me", agent);
    expect(mine.json.items.map((c: { id: string }) => c.id)).toEqual([convId]);
    expect((await call("GET", "/api/conversations?assignee=me", ws.account)).json.items).toEqual([]);
    expect((await call("GET", `/api/conversations?assignee=${agent.userId}`, { key: ws.key })).json.items).toHaveLength(
      1,
    );
    expect((await call("GET", "/api/conversations?assignee=none", ws.account)).json.items).toEqual([]);
    expect((await call("GET", "/api/conversations?status=pending", ws.account)).json.items).toEqual([]);
    expect((await call("GET", "/api/conversations?status=bogus", ws.account)).status).toBe(422);

    const vip = await call("POST", "/api/labels", agent, { body: { name: "VIP", color: "#D97706" } });
    expect(vip.status).toBe(201);
    expect(vip.json.color).toBe("#d97706");
    expect((await call("POST", "/api/labels", agent, { body: { name: "VIP" } })).status).toBe(409);
    const labeled = await call("PATCH", `/api/conversations/${convId}`, agent, {
      body: { labels: ["VIP"], status: "pending" },
    });
    expect(labeled.status, labeled.text).toBe(200);
    expect(labeled.json).toMatchObject({
      status: "pending",
      labels: [{ id: vip.json.id, name: "VIP", color: "#d97706" }],
    });
    expect((await call("GET", "/api/conversations?label=VIP", ws.account)).json.items).toHaveLength(1);
    expect(
      (await call("GET", `/api/conversations?label=${vip.json.id}&status=pending`, ws.account)).json.items,
    ).toHaveLength(1);
    // Unknown labels and non-members are refused, and nothing changes.
    const bad = await call("PATCH", `/api/conversations/${convId}`, agent, { body: { labels: ["nope"] } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.code).toBe("unknown_label");
    const stranger = await signup();
    const notMember = await call("PATCH", `/api/conversations/${convId}`, agent, {
      body: { assignee: stranger.userId },
    });
    expect(notMember.status).toBe(422);
    expect(notMember.json.error.code).toBe("unknown_member");
    const after = await call("GET", `/api/conversations/${convId}`, agent);
    expect(after.json).toMatchObject({ status: "pending", assignee: { id: agent.userId }, labels: [{ name: "VIP" }] });
    // Deleting the label takes it off the conversation.
    expect((await call("DELETE", `/api/labels/${vip.json.id}`, agent)).status).toBe(204);
    expect((await call("GET", `/api/conversations/${convId}`, agent)).json.labels).toEqual([]);
  });

  it("a snoozed conversation wakes at its time (cron), and a resolved one reopens when the customer writes", async () => {
    const bad = await call("PATCH", `/api/conversations/${convId}`, agent, { body: { status: "snoozed" } });
    expect(bad.status).toBe(422);
    const until = new Date(Date.now() + 60_000).toISOString();
    const snoozed = await call("PATCH", `/api/conversations/${convId}`, agent, {
      body: { status: "snoozed", snoozedUntil: until },
    });
    expect(snoozed.json).toMatchObject({ status: "snoozed", snoozedUntil: until });
    await runMinuteJobs(env, Date.now());
    expect((await call("GET", `/api/conversations/${convId}`, agent)).json.status).toBe("snoozed");
    await runMinuteJobs(env, Date.now() + 61_000);
    const woke = await call("GET", `/api/conversations/${convId}`, agent);
    expect(woke.json).toMatchObject({ status: "open", snoozedUntil: null });

    await call("PATCH", `/api/conversations/${convId}`, agent, { body: { status: "resolved" } });
    const room = await openSocket(`/api/conversations/${convId}/ws`, agent);
    await room.next((f) => f.type === "hello");
    await textIn(ws, "one more question");
    const message = await room.next((f) => f.type === "message" && f.message.body === "one more question");
    const reopened = await room.next((f) => f.type === "conversation" && f.conversation.status === "open");
    expect(reopened.seq).toBe(message.seq + 1);
    expect((await call("GET", `/api/conversations/${convId}`, agent)).json.status).toBe("open");
    // The assignee hears of the reply.
    const feed = await call("GET", "/api/notifications?unread=true", agent);
    expect(feed.json.items.map((n: { type: string }) => n.type)).toContain("inbound_on_mine");
  });

  it("a snoozed conversation wakes when the customer writes, before its time", async () => {
    await call("PATCH", `/api/conversations/${convId}`, agent, {
      body: { status: "snoozed", snoozedUntil: new Date(Date.now() + 3_600_000).toISOString() },
    });
    await textIn(ws, "hello again");
    expect((await call("GET", `/api/conversations/${convId}`, agent)).json).toMatchObject({
      status: "open",
      snoozedUntil: null,
    });
  });
});

describe("internal notes and @mentions", () => {
  it("finds mentions by full name, unique first name or email; not by a prefix of a longer word", () => {
    const members = [
      { userId: "u1", name: "Sam Lee", email: "sam@x.co" },
      { userId: "u2", name: "Ana Ruiz", email: "ana@x.co" },
      { userId: "u3", name: "Ana Bell", email: "abell@x.co" },
    ];
    expect(findMentions("@Sam Lee can you check?", members)).toEqual(["u1"]);
    expect(findMentions("ping @sam", members)).toEqual(["u1"]);
    expect(findMentions("ping @Ana", members)).toEqual([]);
    expect(findMentions("ping @ana bell and @ana@x.co", members)).toEqual(["u2", "u3"]);
    expect(findMentions("email me at sam@x.co", members)).toEqual([]);
    expect(findMentions("@samuel", members)).toEqual([]);
  });

  it("a note is an ordered event (note frame), never goes to the customer, and notifies who it mentions", async () => {
    const ws = await textingWorkspace();
    const sam = await addMember(ws.account.workspaceId, "agent");
    await env.DB.prepare("UPDATE users SET name = 'Sam Lee' WHERE id = ?").bind(sam.userId).run();
    await textIn(ws, "my package is late");
    const conv = await conversationOf(ws);
    const room = await openSocket(`/api/conversations/${conv.id}/ws`, ws.account);
    const hello = await room.next((f) => f.type === "hello");
    const samInbox = await openSocket("/api/ws", sam);
    const outboundBefore = await countRows("messages", "conversation_id = ? AND direction = 'outbound'", conv.id);

    const res = await call("POST", `/api/conversations/${conv.id}/notes`, ws.account, {
      body: { body: "@Sam Lee can you look at the tracking?" },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      body: "@Sam Lee can you look at the tracking?",
      author: { id: ws.account.userId },
      mentions: [sam.userId],
      seq: hello.lastSeq + 1,
    });
    const frame = await room.next((f) => f.type === "note");
    expect(frame).toMatchObject({ seq: res.json.seq, note: { id: res.json.id } });
    const pushed = await samInbox.next((f) => f.type === "notification");
    expect(pushed.notification).toMatchObject({ type: "mention", conversationId: conv.id });
    expect(await countRows("messages", "conversation_id = ? AND direction = 'outbound'", conv.id)).toBe(outboundBefore);

    // Notes and messages share the conversation's order: the next message takes the seq after the note.
    await textIn(ws, "thanks");
    const next = await room.next((f) => f.type === "message" && f.message.body === "thanks");
    expect(next.seq).toBe(res.json.seq + 1);
    const notes = await call("GET", `/api/conversations/${conv.id}/notes`, { key: ws.key });
    expect(notes.json.items.map((n: { id: string }) => n.id)).toEqual([res.json.id]);

    // Bad input stores nothing; viewers cannot write notes.
    expect(
      (await call("POST", `/api/conversations/${conv.id}/notes`, ws.account, { body: { body: "  " } })).status,
    ).toBe(422);
    const viewer = await addMember(ws.account.workspaceId, "viewer");
    expect((await call("POST", `/api/conversations/${conv.id}/notes`, viewer, { body: { body: "hi" } })).status).toBe(
      403,
    );
    expect(await countRows("notes", "conversation_id = ?", conv.id)).toBe(1);
  });
});

describe("who did it", () => {
  it("outbound messages carry sentBy (user or API key, with the name at the time)", async () => {
    const ws = await textingWorkspace();
    const conv = await call("POST", "/api/conversations", ws.account, { body: { phone: ws.customer } });
    const byUser = await call("POST", `/api/conversations/${conv.json.id}/messages`, ws.account, {
      body: { body: "hi" },
    });
    expect(byUser.status, byUser.text).toBe(202);
    expect(byUser.json.sentBy).toEqual({ type: "user", id: ws.account.userId, name: "Test User" });
    const byKey = await call(
      "POST",
      `/api/conversations/${conv.json.id}/messages`,
      { key: ws.key },
      { body: { body: "yo" } },
    );
    expect(byKey.json.sentBy).toMatchObject({ type: "api_key", name: "test" });
    // A send through an API key is an audit event too (written after the 202).
    await eventually(
      async () =>
        (await countRows("audit_log", "action = 'message.sent_by_api_key' AND target_id = ?", byKey.json.id)) === 1,
      5_000,
      "the API-key send's audit row",
    );
    expect(await countRows("audit_log", "action = 'message.sent_by_api_key' AND target_id = ?", byUser.json.id)).toBe(
      0,
    );
    const thread = await call("GET", `/api/conversations/${conv.json.id}/messages`, ws.account);
    expect(thread.json.items.map((m: { sentBy: unknown }) => m.sentBy)).toEqual([
      byUser.json.sentBy,
      byKey.json.sentBy,
    ]);
  });

  it("GET /api/audit lists member, invitation, label and settings events with actor, before/after and client address, filtered", async () => {
    const owner = await signup({ name: "Audrey Admin" });
    const key = await createKey(owner);
    const agent = await addMember(owner.workspaceId, "agent");
    await call("PATCH", `/api/members/mem_${agent.userId}`, owner, {
      body: { role: "viewer" },
      headers: { "CF-Connecting-IP": "203.0.113.7" },
    });
    await call("POST", "/api/invitations", owner, { body: { email: "new@example.com" } });
    await call("PATCH", "/api/workspace", { key }, { body: { retentionDays: 30 } });
    const all = await call("GET", "/api/audit", owner);
    expect(all.status).toBe(200);
    const actions = all.json.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["member.role_changed", "invitation.created", "workspace.updated"]));
    const role = all.json.items.find((e: { action: string }) => e.action === "member.role_changed");
    expect(role).toMatchObject({
      actor: { type: "user", id: owner.userId, name: "Audrey Admin" },
      target: { type: "member" },
      data: { before: "agent", after: "viewer" },
      clientIp: "203.0.113.7",
    });
    const settings = all.json.items.find((e: { action: string }) => e.action === "workspace.updated");
    expect(settings).toMatchObject({
      actor: { type: "api_key", name: "test" },
      data: { before: { retentionDays: null }, after: { retentionDays: 30 } },
    });
    const members = await call("GET", "/api/audit?action=member", owner);
    expect(members.json.items.every((e: { action: string }) => e.action.startsWith("member."))).toBe(true);
    const byActor = await call("GET", `/api/audit?actor=${owner.userId}&limit=1`, owner);
    expect(byActor.json.items).toHaveLength(1);
    expect(byActor.json.nextCursor).not.toBeNull();
    const page2 = await call(
      "GET",
      `/api/audit?actor=${owner.userId}&limit=1&cursor=${byActor.json.nextCursor}`,
      owner,
    );
    expect(page2.json.items[0].id).not.toBe(byActor.json.items[0].id);
    const future = await call(
      "GET",
      `/api/audit?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      owner,
    );
    expect(future.json.items).toEqual([]);
    // Another workspace's owner sees none of it.
    const other = await signup();
    expect(
      (await call("GET", "/api/audit", other)).json.items.every(
        (e: { actor: { id: string } }) => e.actor.id !== owner.userId,
      ),
    ).toBe(true);
  });
});

describe("auto-assignment", () => {
  it("round-robins new inbound conversations among the agents online, when the setting is on", async () => {
    const ws = await textingWorkspace();
    const a1 = await addMember(ws.account.workspaceId, "agent");
    const a2 = await addMember(ws.account.workspaceId, "agent");
    const offline = await addMember(ws.account.workspaceId, "agent");
    void offline;
    await openSocket("/api/ws", a1);
    await openSocket("/api/ws", a2);
    await openSocket("/api/ws", ws.account); // an owner online is not an agent
    expect((await call("PATCH", "/api/workspace", ws.account, { body: { autoAssign: true } })).json.autoAssign).toBe(
      true,
    );
    const assignees: string[] = [];
    for (let i = 0; i < 4; i++) {
      const customer = `+1415777${String(1000 + i + Math.floor(Math.random() * 8000)).slice(0, 4)}`;
      const { held } = await inboundText({ from: customer, to: ws.from, body: `new ${i}` });
      for (const req of held) await deliver(req);
      const list = await call("GET", "/api/conversations", ws.account);
      const conv = list.json.items.find((c: { contact: { phone: string } }) => c.contact.phone === customer);
      assignees.push(conv.assignee?.id);
    }
    expect(new Set(assignees)).toEqual(new Set([a1.userId, a2.userId]));
    expect(assignees[0]).not.toBe(assignees[1]);
    expect(assignees[2]).toBe(assignees[0]);
  });
});

describe("presence and read markers", () => {
  it("the room says who is viewing, and GET /reads gives each member's marker for Seen by", async () => {
    const ws = await textingWorkspace();
    const sam = await addMember(ws.account.workspaceId, "agent");
    await textIn(ws, "anyone there?");
    const conv = await conversationOf(ws);
    const mine = await openSocket(`/api/conversations/${conv.id}/ws`, ws.account);
    await mine.next((f) => f.type === "hello");
    const theirs = await openSocket(`/api/conversations/${conv.id}/ws`, sam);
    const hello = await theirs.next((f) => f.type === "hello");
    const both = await mine.next((f) => f.type === "presence" && f.viewers.length === 2, 5_000);
    expect(both.viewers.map((v: { userId: string }) => v.userId).sort()).toEqual(
      [ws.account.userId, sam.userId].sort(),
    );
    theirs.send({ type: "read", seq: hello.lastSeq });
    await mine.next((f) => f.type === "read" && f.userId === sam.userId);
    const reads = await call("GET", `/api/conversations/${conv.id}/reads`, ws.account);
    expect(reads.json.items).toEqual([{ userId: sam.userId, name: "Member agent", seq: hello.lastSeq }]);
    theirs.ws.close(1000, "bye");
    const one = await mine.next((f) => f.type === "presence" && f.viewers.length === 1);
    expect(one.viewers[0].userId).toBe(ws.account.userId);
    const other = await signup();
    expect((await call("GET", `/api/conversations/${conv.id}/reads`, other)).status).toBe(404);
  });
});
