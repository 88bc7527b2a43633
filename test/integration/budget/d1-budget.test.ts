/**
 * The D1 budget per operation, read from the Server-Timing header every API response carries
 * (`d1;desc="round-trips=R statements=S"`, the Worker's work plus the rooms' share). A change that adds a
 * round trip to one of these paths fails here.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { computeSignature } from "../../../src/channels/twilio/signature";
import { inboxFor } from "../../../src/rooms/inbox-stream";
import { call } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { textingWorkspace } from "../../helpers/pipeline";
import { openSocket } from "../../helpers/sockets";
import { deliver, inboundText, takeHeld } from "../../helpers/twilio";

function d1(res: { headers: Headers }) {
  const match = /^d1;desc="round-trips=(\d+) statements=(\d+)"$/.exec(res.headers.get("Server-Timing") ?? "");
  if (!match) throw new Error(`no D1 Server-Timing: ${res.headers.get("Server-Timing")}`);
  return { roundTrips: Number(match[1]), statements: Number(match[2]) };
}

async function thread(ws: Awaited<ReturnType<typeof textingWorkspace>>) {
  return (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json as {
    id: string;
  };
}

describe("D1 budget per operation", () => {
  it("every API response says what it cost D1", async () => {
    const ws = await textingWorkspace();
    expect(d1(await call("GET", "/api/me", ws.account)).roundTrips).toBeGreaterThan(0);
    expect(d1(await call("GET", "/api/healthz"))).toEqual({ roundTrips: 0, statements: 0 });
    expect(d1(await call("GET", "/api/nope", ws.account)).roundTrips).toBeGreaterThanOrEqual(0);
  });

  it("a send in a conversation costs at most 3 round trips before the 202 (auth included), cold room or warm, with or without an Idempotency-Key", async () => {
    const ws = await textingWorkspace();
    const conv = await thread(ws);
    const path = `/api/conversations/${conv.id}/messages`;
    const cold = await call("POST", path, ws.account, { body: { body: "first (a room that never ran)" } });
    expect(cold.status).toBe(202);
    expect(d1(cold).roundTrips).toBeLessThanOrEqual(3);
    const warm = await call("POST", path, { key: ws.key }, { body: { body: "second" } });
    expect(d1(warm).roundTrips).toBeLessThanOrEqual(3);
    const keyed = await call("POST", path, ws.account, {
      body: { body: "keyed" },
      headers: { "Idempotency-Key": "k1" },
    });
    expect(keyed.status).toBe(202);
    expect(d1(keyed).roundTrips).toBeLessThanOrEqual(3);
    const replay = await call("POST", path, ws.account, {
      body: { body: "keyed" },
      headers: { "Idempotency-Key": "k1" },
    });
    expect(replay.json.id).toBe(keyed.json.id);
    expect(d1(replay).roundTrips).toBeLessThanOrEqual(3);
  });

  it("a send to a number with a thread costs 3 round trips before the 202 (auth, one lookup, the room), keyed or not", async () => {
    const ws = await textingWorkspace();
    const first = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "first" } });
    expect(first.status).toBe(202);
    const again = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "again" } });
    expect(again.status).toBe(202);
    expect(again.json.conversationId).toBe(first.json.conversationId);
    expect(d1(again).roundTrips).toBe(3);
    const keyed = await call("POST", "/api/messages", ws.account, {
      body: { to: ws.customer, body: "keyed" },
      headers: { "Idempotency-Key": "direct-1" },
    });
    expect(keyed.status).toBe(202);
    expect(d1(keyed).roundTrips).toBe(3);
    // The repeat answers the stored message (one more read, for the key's request hash).
    const replay = await call("POST", "/api/messages", ws.account, {
      body: { to: ws.customer, body: "keyed" },
      headers: { "Idempotency-Key": "direct-1" },
    });
    expect(replay.json.id).toBe(keyed.json.id);
    expect(d1(replay).roundTrips).toBeLessThanOrEqual(3);
  });

  it("a status callback costs 1 round trip (at most 2 on a callback URL without the conversation)", async () => {
    const ws = await textingWorkspace();
    const sent = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "track me" } });
    const held = await (async () => {
      for (let i = 0; i < 100; i++) {
        const requests = await takeHeld(ws.customer);
        if (requests.length > 0) return requests;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("no callbacks");
    })();
    expect(sent.status).toBe(202);
    expect(held.map((req) => new URL(req.url).searchParams.get("cid"))).toEqual([
      sent.json.conversationId,
      sent.json.conversationId,
    ]);
    for (const req of held) expect(d1(await deliver(req))).toEqual({ roundTrips: 1, statements: 6 });
    // A callback URL from before callbacks named the conversation: looked up first, then recorded.
    const [first] = held;
    if (!first) throw new Error("no callback");
    const url = first.url.replace(/&cid=[^&]+/, "");
    const params = [...new URLSearchParams(first.body)];
    const old = await deliver(
      { ...first, url },
      { signature: await computeSignature(env.TWILIO_AUTH_TOKEN, url, params) },
    );
    expect(d1(old).roundTrips).toBeLessThanOrEqual(2);
  });

  it("an inbound text (not a keyword) to an existing thread costs 1 round trip: the route and the message in one batch", async () => {
    const ws = await textingWorkspace();
    const first = await inboundText({ from: ws.customer, to: ws.from, body: "hello" });
    await deliver(first.held[0]!);
    const next = await inboundText({ from: ws.customer, to: ws.from, body: "are you there?" });
    const res = await deliver(next.held[0]!);
    expect(res.status).toBe(200);
    expect(d1(res)).toEqual({ roundTrips: 1, statements: 4 });
    // Twilio's retry of it: the same one round trip, and nothing stored twice.
    expect(d1(await deliver(next.held[0]!))).toEqual({ roundTrips: 1, statements: 4 });
    const [conversation] = (await call("GET", "/api/conversations", { key: ws.key })).json.items;
    const thread = (await call("GET", `/api/conversations/${conversation.id}/messages`, { key: ws.key })).json;
    expect(thread.items.filter((m: { body: string }) => m.body === "are you there?")).toHaveLength(1);
  });

  it("the conversation list and a thread page cost 1 round trip each, the credential check folded into the page's query", async () => {
    const ws = await textingWorkspace();
    const conv = await thread(ws);
    await call("POST", `/api/conversations/${conv.id}/messages`, ws.account, { body: { body: "x" } });
    for (const who of [ws.account, { key: ws.key }]) {
      expect(d1(await call("GET", "/api/conversations", who))).toEqual({ roundTrips: 1, statements: 1 });
      expect(d1(await call("GET", `/api/conversations/${conv.id}/messages`, who))).toEqual({
        roundTrips: 1,
        statements: 1,
      });
    }
  });

  it("a campaign's progress (GET /api/campaigns/:id) costs 3 round trips: the credential, the row, one aggregate over its recipients", async () => {
    const ws = await textingWorkspace();
    const numbers = (await call("GET", "/api/numbers", { key: ws.key })).json.items;
    await call("POST", "/api/contacts", ws.account, { body: { phone: ws.customer, name: "Budget" } });
    const created = (
      await call("POST", "/api/campaigns", ws.account, {
        body: { name: "Budget", audience: { filter: {} }, body: "Hello", from: numbers[0].id },
      })
    ).json;
    await call("POST", `/api/campaigns/${created.id}/start`, ws.account);
    for (const who of [ws.account, { key: ws.key }]) {
      expect(d1(await call("GET", `/api/campaigns/${created.id}`, who)).roundTrips).toBeLessThanOrEqual(3);
    }
  });

  it("a search costs 2 parallel round trips (messages and contacts, the credential and the conversations folded into each)", async () => {
    const ws = await textingWorkspace();
    const conv = await thread(ws);
    await call("POST", `/api/conversations/${conv.id}/messages`, ws.account, { body: { body: "budgeted words" } });
    for (const who of [ws.account, { key: ws.key }]) {
      const res = await call("GET", "/api/search?q=budgeted", who);
      expect(res.json.items.length).toBeGreaterThan(0);
      expect(d1(res)).toEqual({ roundTrips: 2, statements: 2 });
    }
  });

  it("a folded credential check is as strict as the lookup: revoked, expired, unscoped and foreign callers get 401/403/404 at once", async () => {
    const ws = await textingWorkspace();
    const conv = await thread(ws);
    await call("POST", `/api/conversations/${conv.id}/messages`, ws.account, { body: { body: "x" } });
    const reads = ["/api/conversations", `/api/conversations/${conv.id}/messages`, "/api/search?q=x"];
    // A key without messages:read.
    const sender = (await call("POST", "/api/api-keys", ws.account, { body: { name: "s", scopes: ["messages:send"] } }))
      .json.key;
    for (const path of reads)
      expect((await call("GET", path, { key: sender })).json.error.code).toBe("insufficient_scope");
    // Another workspace: its own (empty) list, and 404 for this thread.
    const other = await textingWorkspace();
    expect((await call("GET", "/api/conversations", other.account)).json.items).toEqual([]);
    expect((await call("GET", reads[1]!, other.account)).status).toBe(404);
    // Revoked: refused on the very next read.
    const doomed = (await call("POST", "/api/api-keys", ws.account, { body: { name: "d" } })).json;
    expect((await call("GET", reads[0]!, { key: doomed.key })).status).toBe(200);
    await call("DELETE", `/api/api-keys/${doomed.id}`, ws.account);
    for (const path of reads) expect((await call("GET", path, { key: doomed.key })).status).toBe(401);
    // Expired or signed out: the same.
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() - 1, ws.account.userId)
      .run();
    for (const path of reads) expect((await call("GET", path, ws.account)).status).toBe(401);
    expect((await call("GET", reads[0]!, {}, { headers: { Authorization: "Basic x" } })).status).toBe(401);
  });

  it("an inbox-stream publish reads D1 once however many users are connected, and not at all when nobody is", async () => {
    const ws = await textingWorkspace();
    const conv = await thread(ws);
    const stream = inboxFor(env, ws.account.workspaceId);
    expect((await stream.publish(conv.id)).d1).toEqual({ roundTrips: 0, statements: 0 });
    const colleague = await addMember(ws.account.workspaceId, "agent");
    const other = await addMember(ws.account.workspaceId, "admin");
    const sockets = await Promise.all([
      openSocket("/api/ws", ws.account),
      openSocket("/api/ws", colleague),
      openSocket("/api/ws", other),
      openSocket("/api/ws", { key: ws.key }),
    ]);
    const result = await stream.publish(conv.id);
    expect(result.sent).toBe(4);
    expect(result.d1).toEqual({ roundTrips: 1, statements: 1 });
    for (const s of sockets) expect((await s.next((f) => f.type === "conversation")).conversation.id).toBe(conv.id);
  });
});
