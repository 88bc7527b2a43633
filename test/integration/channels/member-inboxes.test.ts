/**
 * Members limited to some inboxes: they list, open, read, search, send in and hear live of only those
 * inboxes' conversations; owners and API keys see everything; the change is admin-only and audited.
 */
import { describe, expect, it } from "vitest";
import { addNumber, call, createKey, randomUsNumber, signup } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { openSocket, upgrade } from "../../helpers/sockets";
import { deliver, inboundText } from "../../helpers/twilio";

async function setup() {
  const owner = await signup();
  const key = await createKey(owner);
  const a = await addNumber({ key });
  const b = await addNumber({ key });
  const customer = randomUsNumber();
  const onA = await call(
    "POST",
    "/api/messages",
    { key },
    { body: { to: customer, from: a.phoneNumber, body: "line A pickup" } },
  );
  const onB = await call(
    "POST",
    "/api/messages",
    { key },
    { body: { to: customer, from: b.phoneNumber, body: "line B pickup" } },
  );
  const agent = await addMember(owner.workspaceId, "agent");
  return { owner, key, a, b, customer, agent, convA: onA.json.conversationId, convB: onB.json.conversationId };
}

describe("members limited to some inboxes", () => {
  it("see and work only in their inboxes' conversations", async () => {
    const s = await setup();
    const limited = await call("PATCH", `/api/members/${s.agent.memberId}`, s.owner, { body: { inboxIds: [s.a.id] } });
    expect(limited.status).toBe(200);
    expect(limited.json.inboxIds).toEqual([s.a.id]);
    const who = { cookie: s.agent.cookie };

    const list = await call("GET", "/api/conversations", who);
    expect(list.json.items.map((c: { id: string }) => c.id)).toEqual([s.convA]);
    expect((await call("GET", `/api/conversations/${s.convB}`, who)).status).toBe(404);
    expect((await call("GET", `/api/conversations/${s.convB}/messages`, who)).status).toBe(404);
    expect((await call("GET", `/api/conversations/${s.convB}/notes`, who)).status).toBe(404);
    expect((await call("POST", `/api/conversations/${s.convB}/messages`, who, { body: { body: "hi" } })).status).toBe(
      404,
    );
    expect((await call("PATCH", `/api/conversations/${s.convB}`, who, { body: { status: "resolved" } })).status).toBe(
      404,
    );
    expect((await upgrade(`/api/conversations/${s.convB}/ws`, who)).status).toBe(404);
    expect((await call("GET", `/api/conversations/${s.convA}/messages`, who)).json.items).toHaveLength(1);
    expect(
      (await call("POST", `/api/conversations/${s.convA}/messages`, who, { body: { body: "from A" } })).status,
    ).toBe(202);
    const search = await call("GET", "/api/search?q=pickup", who);
    const hits = JSON.stringify(search.json);
    expect(hits).toContain("line A pickup");
    expect(hits).not.toContain("line B pickup");

    // The owner and API keys still see both.
    expect((await call("GET", "/api/conversations", s.owner)).json.items).toHaveLength(2);
    expect((await call("GET", "/api/conversations", { key: s.key })).json.items).toHaveLength(2);

    // Live: a text on B reaches the owner's stream, not the agent's; a text on A reaches both.
    const agentStream = await openSocket("/api/ws", who);
    const ownerStream = await openSocket("/api/ws", s.owner);
    for (const req of (await inboundText({ from: s.customer, to: s.b.phoneNumber, body: "news on B" })).held)
      await deliver(req);
    for (const req of (await inboundText({ from: s.customer, to: s.a.phoneNumber, body: "news on A" })).held)
      await deliver(req);
    await ownerStream.next((f) => f.type === "conversation" && f.conversation.id === s.convB);
    await agentStream.next((f) => f.type === "conversation" && f.conversation.id === s.convA);
    expect(agentStream.frames.some((f) => f.type === "conversation" && f.conversation.id === s.convB)).toBe(false);
    agentStream.ws.close();
    ownerStream.ws.close();

    // Back to every inbox.
    const all = await call("PATCH", `/api/members/${s.agent.memberId}`, s.owner, { body: { inboxIds: null } });
    expect(all.json.inboxIds).toBeNull();
    expect((await call("GET", "/api/conversations", who)).json.items).toHaveLength(2);
    const audit = await call("GET", "/api/audit?action=member.inboxes_changed", s.owner);
    expect(audit.json.items).toHaveLength(2);
  });

  it("only admins set it, only to the workspace's own inboxes", async () => {
    const s = await setup();
    const other = await signup();
    const otherKey = await createKey(other);
    const foreign = await addNumber({ key: otherKey });
    const bad = await call("PATCH", `/api/members/${s.agent.memberId}`, s.owner, { body: { inboxIds: [foreign.id] } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.code).toBe("unknown_inbox");
    const self = await call(
      "PATCH",
      `/api/members/${s.agent.memberId}`,
      { cookie: s.agent.cookie },
      { body: { inboxIds: null } },
    );
    expect(self.status).toBe(403);
  });
});
