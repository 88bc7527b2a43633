import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { recordStatusChanges, statusChangeStatements } from "../../../src/db/queries/messages";
import { GAP_WAIT_MS, ROOM_GRACE_MS, roomFor } from "../../../src/rooms/conversation-room";
import { inboxFor } from "../../../src/rooms/inbox-stream";
import { CREDENTIAL_CHECK_MS } from "../../../src/rooms/sockets";
import { call, createKey, signup } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { pendingMessage, settle, textingWorkspace } from "../../helpers/pipeline";
import { collect, openSocket, type TestSocket, upgrade } from "../../helpers/sockets";
import { deliver, eventually, inboundText, takeHeld } from "../../helpers/twilio";

type Ws = Awaited<ReturnType<typeof textingWorkspace>>;

const sid = () => `SM${crypto.randomUUID().replaceAll("-", "")}`;

async function conversationOf(ws: Ws) {
  return (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json as {
    id: string;
  };
}

async function textIn(ws: Ws, body: string) {
  const { held } = await inboundText({ from: ws.customer, to: ws.from, body });
  expect((await deliver(held[0]!)).status).toBe(200);
}

describe("room WebSocket: upgrade (invariant 5)", () => {
  it("refuses no credentials (401), another workspace (404), a plain GET (426), a cross-origin cookie (403)", async () => {
    const a = await textingWorkspace();
    const b = await textingWorkspace();
    const conv = await conversationOf(a);
    expect((await upgrade(`/api/conversations/${conv.id}/ws`, {})).status).toBe(401);
    expect((await upgrade("/api/ws", {})).status).toBe(401);
    expect((await upgrade(`/api/conversations/${conv.id}/ws`, { key: b.key })).status).toBe(404);
    expect((await upgrade(`/api/conversations/${conv.id}/ws`, b.account)).status).toBe(404);
    const plain = await call("GET", `/api/conversations/${conv.id}/ws`, { key: a.key });
    expect(plain.status).toBe(426);
    expect(plain.json.error.code).toBe("upgrade_required");
    const evil = await upgrade(`/api/conversations/${conv.id}/ws`, a.account, { Origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    // A forged identity header from the client is overwritten by the Worker.
    const forged = await openSocket(`/api/conversations/${conv.id}/ws`, { key: a.key });
    expect((await forged.next((f) => f.type === "hello")).conversationId).toBe(conv.id);
  });

  it("greets with hello {conversationId, lastSeq}", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    await textIn(ws, "before connect");
    const socket = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect(await socket.next((f) => f.type === "hello")).toEqual({
      type: "hello",
      conversationId: conv.id,
      lastSeq: 1,
    });
  });
});

describe("room WebSocket: order and resume (invariant 4)", () => {
  it("two clients receive identical, gap-free, increasing seqs for a burst of inbound texts and status callbacks", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const alice = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    const bob = await openSocket(`/api/conversations/${conv.id}/ws`, ws.account);
    await alice.next((f) => f.type === "hello");
    await bob.next((f) => f.type === "hello");
    const sent = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "out" } },
    );
    const inbound = await Promise.all(
      Array.from({ length: 8 }, (_, i) => inboundText({ from: ws.customer, to: ws.from, body: `in ${i}` })),
    );
    await Promise.all(inbound.map((t) => deliver(t.held[0]!)));
    const callbacks = await eventually(async () => {
      const h = await takeHeld(ws.customer);
      return h.filter((r) => r.kind === "status").length ? h.filter((r) => r.kind === "status") : undefined;
    });
    await Promise.all(callbacks.map((r) => deliver(r)));
    const final = await eventually(async () => {
      const m = (await call("GET", `/api/messages/${sent.json.id}`, { key: ws.key })).json;
      return m.status === "delivered" ? m : undefined;
    });
    expect(final.status).toBe("delivered");
    const logged = (f: any) => f.type === "message" || f.type === "status";
    const expected = (await roomFor(env, conv.id).getLastSeq()) as number;
    const a = await collect(alice, logged, expected);
    const b = await collect(bob, logged, expected);
    expect(a.map((f) => f.seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    expect(b).toEqual(a);
  });

  it("a client that drops out and resumes gets exactly what it missed, in order", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const first = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await first.next((f) => f.type === "hello");
    await textIn(ws, "seen 1");
    await textIn(ws, "seen 2");
    await collect(first, (f) => f.type === "message", 2);
    first.ws.close(1000, "bye");
    await textIn(ws, "missed 3");
    await textIn(ws, "missed 4");
    await textIn(ws, "missed 5");
    const again = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect((await again.next((f) => f.type === "hello")).lastSeq).toBe(5);
    again.send({ type: "resume", afterSeq: 2 });
    const replay = await collect(again, (f) => f.type === "message", 3);
    expect(replay.map((f) => [f.seq, f.message.body])).toEqual([
      [3, "missed 3"],
      [4, "missed 4"],
      [5, "missed 5"],
    ]);
    await new Promise((r) => setTimeout(r, 100));
    expect(again.frames.filter((f) => f.type === "message")).toHaveLength(3);
  });

  it("answers reset to a resume from the future, nothing to one from the last seq, and reset to one from before the log", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    // Someone has the room open, so it logs what follows (a room nobody has open is left out).
    const watching = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await watching.next((f) => f.type === "hello");
    await textIn(ws, "one");
    await textIn(ws, "two");
    const socket = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await socket.next((f) => f.type === "hello");
    socket.send({ type: "resume", afterSeq: 99 });
    expect(await socket.next((f) => f.type === "reset")).toEqual({ type: "reset" });
    // Up to date: nothing is replayed. Frames are handled in order, so once the resume from 1 has
    // replayed seq 2, the resume from 2 before it has been answered — with nothing.
    socket.send({ type: "resume", afterSeq: 2 });
    socket.send({ type: "resume", afterSeq: 1 });
    await socket.next((f) => f.type === "message");
    expect(socket.frames.filter((f) => f.type === "message").map((f) => f.seq)).toEqual([2]);
    // The log no longer reaches back to seq 1: a resume from 0 is told to reload; from 1 it still replays 2.
    await roomFor(env, conv.id).forget(1, []);
    socket.send({ type: "resume", afterSeq: 0 });
    await collect(socket, (f) => f.type === "reset", 2);
    socket.send({ type: "resume", afterSeq: 1 });
    await collect(socket, (f) => f.type === "message", 2);
    expect(socket.frames.filter((f) => f.type === "message").map((f) => f.seq)).toEqual([2, 2]);
  });

  it("after the room is evicted, sockets keep working and seq continues without a gap", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const socket = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await socket.next((f) => f.type === "hello");
    await textIn(ws, "before eviction");
    await socket.next((f) => f.type === "message" && f.seq === 1);
    await evictDurableObject(roomFor(env, conv.id));
    await textIn(ws, "after eviction");
    expect((await socket.next((f) => f.type === "message" && f.seq === 2)).message.body).toBe("after eviction");
    socket.send({ type: "resume", afterSeq: 0 });
    await collect(socket, (f) => f.type === "message", 4);
    expect(socket.frames.filter((f) => f.type === "message").map((f) => f.seq)).toEqual([1, 2, 1, 2]);
  });

  it("50 clients all receive a broadcast", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const sockets = await Promise.all(
      Array.from({ length: 50 }, () => openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key })),
    );
    await Promise.all(sockets.map((s) => s.next((f) => f.type === "hello")));
    await textIn(ws, "to everyone");
    const got = await Promise.all(sockets.map((s) => s.next((f) => f.type === "message")));
    expect(got.every((f) => f.message.body === "to everyone" && f.seq === 1)).toBe(true);
  });
});

describe("room WebSocket: frames of events written outside the room (the consumer's batch write)", () => {
  const logged = (f: any) => f.type === "message" || f.type === "status";

  /** What the consumer's batch write does for one verdict: D1 records it and numbers its event (the room is told later). */
  async function writtenOutside(conversationId: string, messageId: string) {
    const at = Date.now();
    const change = { messageId, status: "queued" as const, providerSid: sid(), source: "queue" as const, at };
    const { results } = await recordStatusChanges(env.DB, [
      { conversationId, messageId, statements: statusChangeStatements(env.DB, change) },
    ]);
    const recorded = results[0];
    if (!recorded) throw new Error("the status change did not apply");
    return { seq: recorded.seq, change: { recorded, at, integrations: false, inbox: true } };
  }

  it("a frame D1 numbered past the room's next waits for the earlier one: clients get each seq once, in order, and the log stays whole", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "batched");
    const conv = await conversationOf(ws);
    const socket = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect((await socket.next((f) => f.type === "hello")).lastSeq).toBe(1);
    // The consumer's batch took seq 2 in D1; its frame is still on the way to the room …
    const early = await writtenOutside(conv.id, id);
    expect(early.seq).toBe(2);
    // … when a text arrives: D1 gives it seq 3, and the room holds its frame back.
    await textIn(ws, "reply");
    await new Promise((r) => setTimeout(r, 300));
    expect(socket.frames.filter(logged)).toEqual([]);
    await roomFor(env, conv.id).deliverCommitted([early.change]);
    const got = await collect(socket, logged, 2);
    expect(got.map((f) => [f.seq, f.type])).toEqual([
      [2, "status"],
      [3, "message"],
    ]);
    // Delivered again (a redelivered call): nothing is logged or sent twice.
    await roomFor(env, conv.id).deliverCommitted([early.change]);
    const late = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect((await late.next((f) => f.type === "hello")).lastSeq).toBe(3);
    late.send({ type: "resume", afterSeq: 0 });
    expect((await collect(late, logged, 3)).map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(socket.frames.filter(logged)).toHaveLength(2);
  });

  it(`a frame that never comes (a crash after the batch's D1 commit) holds the next one for at most ${GAP_WAIT_MS} ms; then the room skips the hole and clients resuming across it reload`, async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "lost frame");
    const conv = await conversationOf(ws);
    const socket = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await socket.next((f) => f.type === "hello");
    expect((await writtenOutside(conv.id, id)).seq).toBe(2);
    const t0 = Date.now();
    await textIn(ws, "after the hole");
    const [three] = await collect(socket, logged, 1, GAP_WAIT_MS + 5000);
    expect(three).toMatchObject({ seq: 3, type: "message" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(GAP_WAIT_MS - 200);
    // D1 has the event; the room's log has a hole at 2, so a resume across it gets reset.
    expect((await call("GET", `/api/messages/${id}`, { key: ws.key })).json.status).toBe("queued");
    const again = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect((await again.next((f) => f.type === "hello")).lastSeq).toBe(3);
    again.send({ type: "resume", afterSeq: 1 });
    expect(await again.next((f) => f.type === "reset")).toEqual({ type: "reset" });
    again.send({ type: "resume", afterSeq: 2 });
    expect((await again.next((f) => f.type === "message")).seq).toBe(3);
  }, 20_000);

  it("a room starting up while a batch's frames are on their way waits for them instead of skipping them: the log stays whole", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "in flight at start");
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    // A client has the room open (its socket outlives the eviction): its log matters.
    const watching = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await watching.next((f) => f.type === "hello");
    await evictDurableObject(room);
    const inFlight = await writtenOutside(conv.id, id);
    expect(inFlight.seq).toBe(2);
    // The first read finds D1 at seq 2 and the room at 1; the frame arrives while it waits.
    const reading = room.getLastSeq();
    await new Promise((r) => setTimeout(r, 200));
    await room.deliverCommitted([inFlight.change]);
    expect(await reading).toBe(2);
    expect((await room.eventsAfter(0))?.map((f) => f.seq)).toEqual([1, 2]);
  });

  it("a new room for a conversation D1 already numbered takes its first frame at once (nobody can be waiting for a log)", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "before the new room");
    const conv = await conversationOf(ws);
    const fresh = env.CONVERSATION_ROOM.get(env.CONVERSATION_ROOM.idFromName(`${conv.id}#fresh`));
    const t0 = Date.now();
    await fresh.deliverCommitted([(await writtenOutside(conv.id, id)).change]);
    expect((await fresh.eventsAfter(1))?.map((f) => f.seq)).toEqual([2]);
    expect(Date.now() - t0).toBeLessThan(GAP_WAIT_MS);
  });
});

describe("room WebSocket: typing and read receipts", () => {
  it("broadcasts typing to the others, and it lapses after ~5 s without refresh", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const colleague = await addMember(ws.account.workspaceId, "agent");
    const me = await openSocket(`/api/conversations/${conv.id}/ws`, ws.account);
    const them = await openSocket(`/api/conversations/${conv.id}/ws`, colleague);
    await me.next((f) => f.type === "hello");
    await them.next((f) => f.type === "hello");
    me.send({ type: "typing", active: true });
    expect(await them.next((f) => f.type === "typing")).toEqual({
      type: "typing",
      userId: ws.account.userId,
      name: "Test User",
      active: true,
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(me.frames.some((f) => f.type === "typing")).toBe(false);
    // Not yet lapsed: the alarm finds nothing to end.
    await runDurableObjectAlarm(roomFor(env, conv.id));
    expect(them.frames.filter((f) => f.type === "typing")).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 5100));
    await runDurableObjectAlarm(roomFor(env, conv.id));
    expect(await them.next((f) => f.type === "typing" && f.active === false)).toMatchObject({
      userId: ws.account.userId,
    });
  }, 20_000);

  it("rate-limits typing floods per socket without affecting others", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const colleague = await addMember(ws.account.workspaceId, "agent");
    const flooder = await openSocket(`/api/conversations/${conv.id}/ws`, ws.account);
    const watcher = await openSocket(`/api/conversations/${conv.id}/ws`, colleague);
    await watcher.next((f) => f.type === "hello");
    for (let i = 0; i < 25; i++) flooder.send({ type: "typing", active: true });
    // Wait for the ten allowed (not a fixed sleep: a loaded machine is slower), then for the room to
    // have handled all 25 (a read marker sent after them is broadcast only after them), and count again.
    await collect(watcher, (f) => f.type === "typing", 10);
    flooder.send({ type: "read", seq: 0 });
    await watcher.next((f) => f.type === "read");
    expect(watcher.frames.filter((f) => f.type === "typing").length).toBe(10);
    watcher.send({ type: "typing", active: true });
    expect(await flooder.next((f) => f.type === "typing")).toMatchObject({ userId: colleague.userId });
  });

  it("stores read markers per user, broadcasts them, and uses them for unread counts", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    await textIn(ws, "one");
    await textIn(ws, "two");
    expect((await call("GET", `/api/conversations/${conv.id}`, ws.account)).json.unreadCount).toBe(2);
    const me = await openSocket(`/api/conversations/${conv.id}/ws`, ws.account);
    const other = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await other.next((f) => f.type === "hello");
    me.send({ type: "read", seq: 1 });
    expect(await other.next((f) => f.type === "read")).toEqual({ type: "read", userId: ws.account.userId, seq: 1 });
    expect((await call("GET", `/api/conversations/${conv.id}`, ws.account)).json.unreadCount).toBe(1);
    const http = await call("POST", `/api/conversations/${conv.id}/read`, ws.account, { body: { seq: 99 } });
    expect(http.json).toEqual({ conversationId: conv.id, seq: 2 });
    expect((await call("GET", `/api/conversations/${conv.id}`, ws.account)).json.unreadCount).toBe(0);
    // Markers only move forward: a later, lower marker is answered with the stored one, over HTTP and
    // on the socket (each waited for by what is new, not by a frame that was already there).
    const back = await call("POST", `/api/conversations/${conv.id}/read`, ws.account, { body: { seq: 1 } });
    expect(back.json).toEqual({ conversationId: conv.id, seq: 2 });
    const readsBefore = other.frames.filter((f) => f.type === "read").length;
    me.send({ type: "read", seq: 1 });
    await collect(other, (f) => f.type === "read", readsBefore + 1);
    expect(other.frames.filter((f) => f.type === "read").at(-1)).toEqual({
      type: "read",
      userId: ws.account.userId,
      seq: 2,
    });
    expect((await call("GET", `/api/conversations/${conv.id}`, ws.account)).json.unreadCount).toBe(0);
    const stored = await env.DB.prepare(
      "SELECT last_read_seq AS seq FROM conversation_reads WHERE conversation_id = ? AND user_id = ?",
    )
      .bind(conv.id, ws.account.userId)
      .first<{ seq: number }>();
    expect(stored?.seq).toBe(2);
  });
});

describe("room WebSocket: bad input", () => {
  it("answers non-JSON, unknown, oversized and binary frames with error frames, then closes with 1008", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const bad = await openSocket(`/api/conversations/${conv.id}/ws`, ws.account);
    const good = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await bad.next((f) => f.type === "hello");
    bad.send("not json");
    expect(await bad.next((f) => f.type === "error")).toMatchObject({ code: "invalid_json" });
    bad.send({ type: "launch", missiles: true });
    expect(await bad.next((f) => f.code === "invalid_frame")).toMatchObject({ type: "error" });
    bad.send({ type: "typing", active: "yes" });
    bad.send("x".repeat(5000));
    expect(await bad.next((f) => f.code === "frame_too_large")).toMatchObject({ type: "error" });
    bad.ws.send(new Uint8Array([1, 2, 3]));
    expect(await bad.closed).toMatchObject({ code: 1008 });
    // The room and the other socket are fine.
    await textIn(ws, "still here");
    expect((await good.next((f) => f.type === "message")).message.body).toBe("still here");
  });
});

describe("inbox stream (GET /api/ws)", () => {
  it("reports a new inbound conversation and status changes to the workspace, and nothing to others", async () => {
    const ws = await textingWorkspace();
    const other = await signup();
    const inbox = await openSocket("/api/ws", ws.account);
    const outsider = await openSocket("/api/ws", other);
    await textIn(ws, "hello inbox");
    const frame = await inbox.next((f) => f.type === "conversation");
    expect(frame.conversation).toMatchObject({
      contact: { phone: ws.customer },
      unreadCount: 1,
      lastMessage: { body: "hello inbox", direction: "inbound" },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(outsider.frames.filter((f) => f.type === "conversation")).toHaveLength(0);
    inbox.send({ type: "read", seq: 1 });
    expect(await inbox.next((f) => f.type === "error")).toMatchObject({ code: "read_only" });
    // Closing a conversation is a list change too.
    await call(
      "PATCH",
      `/api/conversations/${frame.conversation.id}`,
      { key: ws.key },
      { body: { status: "resolved" } },
    );
    expect(
      (await inbox.next((f) => f.type === "conversation" && f.conversation.status === "resolved")).conversation.id,
    ).toBe(frame.conversation.id);
  });
});

/** Sends a message in a conversation through the API (202). */
async function sendIn(ws: Ws, conversationId: string, body: string) {
  const sent = await call("POST", `/api/conversations/${conversationId}/messages`, { key: ws.key }, { body: { body } });
  expect(sent.status).toBe(202);
  return sent.json as { id: string; seq: number };
}

/**
 * The calls `methods` of a Durable Object class get while `during` runs, on the instances `mine` picks
 * (patched on the class's prototype, reached through `stub`'s instance, and restored after).
 */
async function callsDuring(
  stub: DurableObjectStub<Rpc.DurableObjectBranded>,
  methods: string[],
  mine: (instance: Record<string, unknown>, args: unknown[]) => boolean,
  during: () => Promise<void>,
): Promise<string[]> {
  const calls: string[] = [];
  const proto = await runInDurableObject(stub, (instance) => Object.getPrototypeOf(instance));
  const originals = Object.fromEntries(methods.map((name) => [name, proto[name]]));
  for (const name of methods) {
    proto[name] = function (this: Record<string, unknown>, ...args: unknown[]) {
      if (mine(this, args)) calls.push(name);
      return Reflect.apply(originals[name], this, args);
    };
  }
  try {
    await during();
  } finally {
    Object.assign(proto, originals);
  }
  return calls;
}

describe("inbox stream presence: nobody listening, nothing told", () => {
  const listeners = async (workspaceId: string) =>
    (
      await env.DB.prepare("SELECT inbox_listeners AS n FROM workspaces WHERE id = ?")
        .bind(workspaceId)
        .first<{ n: number }>()
    )?.n;

  /** The conversations the workspace's stream is asked to publish while `during` runs. */
  async function publishesDuring(workspaceId: string, during: () => Promise<void>): Promise<string[]> {
    const asked: string[] = [];
    await callsDuring(
      inboxFor(env, workspaceId),
      ["publish"],
      (_stream, [conversationId]) => asked.push(String(conversationId)) > 0,
      during,
    );
    return asked;
  }

  it("writers skip the stream while nobody has the inbox open; a socket opened after a skipped change still has it, and later changes reach it", async () => {
    const ws = await textingWorkspace();
    const workspaceId = ws.account.workspaceId;
    // The first text is told (the flag starts set: the safe side); the stream, finding nobody, clears it.
    await textIn(ws, "first");
    await eventually(async () => (await listeners(workspaceId)) === 0, 5000, "the stream to clear the flag");
    await new Promise((r) => setTimeout(r, 300)); // the first text's publishes are done
    const conv = await conversationOf(ws);
    const skipped = await publishesDuring(workspaceId, async () => {
      await textIn(ws, "while nobody looks"); // the webhook's one-round-trip path
      const sent = await sendIn(ws, conv.id, "a reply");
      await settle(ws.key, ws.customer, sent.id); // the consumer's batch, then the callbacks
      await new Promise((r) => setTimeout(r, 200));
    });
    expect(skipped).toEqual([]);

    // Opening the inbox sets the flag before the socket is accepted; the list read after it has the change.
    const inbox = await openSocket("/api/ws", ws.account);
    expect(await listeners(workspaceId)).toBe(1);
    const list = (await call("GET", "/api/conversations", { key: ws.key })).json;
    expect(list.items.find((c: { id: string }) => c.id === conv.id)?.lastMessage.body).toBe("a reply");
    const told = await publishesDuring(workspaceId, async () => {
      await textIn(ws, "now somebody looks");
      const frame = await inbox.next(
        (f) => f.type === "conversation" && f.conversation.lastMessage?.body === "now somebody looks",
      );
      expect(frame.conversation.id).toBe(conv.id);
    });
    expect(told).toContain(conv.id);

    // The last socket closing clears it again.
    inbox.ws.close(1000, "done");
    await eventually(async () => (await listeners(workspaceId)) === 0, 5000, "the flag to clear on close");
  });

  it("one socket closing keeps the flag while another is open, and that one still gets every change", async () => {
    const ws = await textingWorkspace();
    const workspaceId = ws.account.workspaceId;
    const first = await openSocket("/api/ws", ws.account);
    const second = await openSocket("/api/ws", { key: ws.key });
    first.ws.close(1000, "tab closed");
    await first.closed;
    await new Promise((r) => setTimeout(r, 300));
    expect(await listeners(workspaceId)).toBe(1);
    await textIn(ws, "still watched");
    expect(
      (await second.next((f) => f.type === "conversation" && f.conversation.lastMessage?.body === "still watched"))
        .conversation.contact.phone,
    ).toBe(ws.customer);
  });
});

describe("room presence: writers leave out a room nobody has open", () => {
  const roomFlag = async (conversationId: string) =>
    (await env.DB.prepare("SELECT room_listeners AS n, last_seq AS seq FROM conversations WHERE id = ?")
      .bind(conversationId)
      .first<{ n: number; seq: number }>()) ?? { n: -1, seq: -1 };

  /** The frames writers hand this conversation's room while `during` runs (its deliver calls). */
  const handedDuring = (conversationId: string, during: () => Promise<void>) =>
    callsDuring(
      roomFor(env, conversationId),
      ["deliverMessage", "deliverCommitted"],
      (room) => room.conversationId === conversationId,
      during,
    );

  it("a new thread's room is left out until a socket opens; it then starts at D1's seq at once, and every later frame reaches it in order", async () => {
    const ws = await textingWorkspace();
    await textIn(ws, "first"); // a new thread: its flag starts clear
    const conv = await conversationOf(ws);
    expect((await roomFlag(conv.id)).n).toBe(0);
    const handed = await handedDuring(conv.id, async () => {
      await textIn(ws, "nobody is looking"); // the webhook's one-round-trip path
      const sent = await sendIn(ws, conv.id, "reply");
      await settle(ws.key, ws.customer, sent.id); // the consumer's batch and two callbacks
    });
    expect(handed).toEqual([]);
    // The room's own append after the seqs it missed does not hold its frame for them.
    const again = await sendIn(ws, conv.id, "again");
    await settle(ws.key, ws.customer, again.id);
    const roomSeq = await runInDurableObject(
      roomFor(env, conv.id),
      (room) => (room as unknown as { lastSeq: number }).lastSeq,
    );
    expect(roomSeq).toBeGreaterThanOrEqual(again.seq); // not held back for the seqs it never got
    // A socket: the flag is set before it is accepted, hello carries D1's seq (no wait), frames follow in order.
    const t0 = Date.now();
    const socket = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    const hello = await socket.next((f) => f.type === "hello");
    expect(Date.now() - t0).toBeLessThan(GAP_WAIT_MS);
    expect((await roomFlag(conv.id)).n).toBe(1);
    const seqNow = (await roomFlag(conv.id)).seq;
    expect(hello.lastSeq).toBe(seqNow);
    const told = await handedDuring(conv.id, async () => {
      await textIn(ws, "now somebody is");
      const frame = await socket.next((f) => f.type === "message" && f.message.body === "now somebody is");
      expect(frame.seq).toBe(seqNow + 1);
    });
    expect(told).toEqual(["deliverMessage"]);
  });

  it(`a client back within ${ROOM_GRACE_MS / 1000} s resumes frame by frame; after that the room clears its flag, writers leave it out, and a resume across what it missed is told to reload`, async () => {
    const ws = await textingWorkspace();
    await textIn(ws, "first");
    const conv = await conversationOf(ws);
    const first = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    const { lastSeq } = await first.next((f) => f.type === "hello");
    first.ws.close(1000, "reload");
    await first.closed;
    await textIn(ws, "while reloading"); // within the grace: still handed to the room
    const back = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await back.next((f) => f.type === "hello");
    back.send({ type: "resume", afterSeq: lastSeq });
    expect((await back.next((f) => f.type === "message")).message.body).toBe("while reloading");
    back.ws.close(1000, "gone");
    await back.closed;
    await eventually(
      async () => runInDurableObject(roomFor(env, conv.id), (_room, state) => state.storage.getAlarm()),
      2000,
      "the grace alarm",
    );
    // The grace ends (moved back instead of waited for); the alarm clears the flag.
    const ended = Date.now() - ROOM_GRACE_MS - 1;
    await runInDurableObject(roomFor(env, conv.id), (room, state) => {
      state.storage.sql.exec("UPDATE meta SET value = ? WHERE key = 'leftAt'", String(ended));
      (room as unknown as { leftAt: number }).leftAt = ended;
    });
    await runDurableObjectAlarm(roomFor(env, conv.id));
    expect((await roomFlag(conv.id)).n).toBe(0);
    const handed = await handedDuring(conv.id, () => textIn(ws, "after the grace"));
    expect(handed).toEqual([]);
    const late = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect((await late.next((f) => f.type === "hello")).lastSeq).toBe((await roomFlag(conv.id)).seq);
    late.send({ type: "resume", afterSeq: lastSeq });
    expect(await late.next((f) => f.type === "reset")).toEqual({ type: "reset" });
  });
});

describe("sockets end with their credentials", () => {
  /** A room socket and an inbox socket for `who`, both past hello. */
  async function openBoth(ws: Ws, who: { cookie?: string; key?: string }) {
    const conv = await conversationOf(ws);
    const room = await openSocket(`/api/conversations/${conv.id}/ws`, who);
    await room.next((f) => f.type === "hello");
    const inbox = await openSocket("/api/ws", who);
    return { conv, room, inbox };
  }

  /** After the close, a new event in the room reaches the others but not the closed socket. */
  async function expectNoFrameAfterClose(ws: Ws, closedSocket: TestSocket, witness: TestSocket) {
    const before = closedSocket.frames.length;
    await textIn(ws, "after the credentials ended");
    await witness.next(
      (f: { type: string; message?: { body: string } }) => f.message?.body === "after the credentials ended",
    );
    expect(closedSocket.frames).toHaveLength(before);
  }

  it("logout closes the session's inbox socket at once and its room socket at the room's next check (4401)", async () => {
    const ws = await textingWorkspace();
    const { conv, room, inbox } = await openBoth(ws, ws.account);
    const witness = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect((await call("POST", "/api/auth/logout", ws.account)).status).toBe(204);
    expect(await inbox.closed).toMatchObject({ code: 4401, reason: "signed out" });
    await runDurableObjectAlarm(roomFor(env, conv.id));
    expect(await room.closed).toMatchObject({ code: 4401, reason: "session ended" });
    await expectNoFrameAfterClose(ws, room, witness);
  });

  it("an expired session's sockets close at the next check (4401)", async () => {
    const ws = await textingWorkspace();
    const { conv, room, inbox } = await openBoth(ws, ws.account);
    const witness = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() - 1, ws.account.userId)
      .run();
    await runDurableObjectAlarm(roomFor(env, conv.id));
    await runDurableObjectAlarm(inboxFor(env, ws.account.workspaceId));
    expect(await room.closed).toMatchObject({ code: 4401 });
    expect(await inbox.closed).toMatchObject({ code: 4401 });
    await expectNoFrameAfterClose(ws, room, witness);
  });

  it("a revoked API key's sockets close (inbox at once, room at its next check), and other keys' stay open", async () => {
    const ws = await textingWorkspace();
    const doomed = await createKey(ws.account, "doomed");
    const keys = (await call("GET", "/api/api-keys", ws.account)).json.items;
    const { conv, room, inbox } = await openBoth(ws, { key: doomed });
    const witness = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    const id = keys.find((k: { name: string }) => k.name === "doomed").id;
    expect((await call("DELETE", `/api/api-keys/${id}`, ws.account)).status).toBe(204);
    expect(await inbox.closed).toMatchObject({ code: 4401, reason: "API key revoked" });
    await runDurableObjectAlarm(roomFor(env, conv.id));
    expect(await room.closed).toMatchObject({ code: 4401, reason: "API key revoked" });
    await expectNoFrameAfterClose(ws, room, witness);
  });

  it("a room with sockets keeps a check due within CREDENTIAL_CHECK_MS", async () => {
    const ws = await textingWorkspace();
    const { conv } = await openBoth(ws, { key: ws.key });
    const alarm = await runInDurableObject(roomFor(env, conv.id), (_room, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect((alarm ?? 0) - Date.now()).toBeLessThanOrEqual(CREDENTIAL_CHECK_MS);
  });
});
