import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LOG_LIMIT, roomFor } from "../../../src/rooms/conversation-room";
import { call } from "../../helpers/api";
import { pendingMessage, textingWorkspace } from "../../helpers/pipeline";

type Ws = Awaited<ReturnType<typeof textingWorkspace>>;

async function conversationOf(ws: Ws) {
  return (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json as {
    id: string;
    from: string;
  };
}

const sid = () => `SM${crypto.randomUUID().replaceAll("-", "")}`;

/** An outbound message through the API (the room assigns its seq). */
function sendOut(ws: Ws, conversationId: string, body = "out") {
  return call("POST", `/api/conversations/${conversationId}/messages`, { key: ws.key }, { body: { body } });
}

/**
 * Another room object for the same conversation: a writer this room does not know about, standing in
 * for lost storage or for D1 commits the room never recorded (a crash between the two).
 */
function otherRoom(conversationId: string, tag: string) {
  return env.CONVERSATION_ROOM.get(env.CONVERSATION_ROOM.idFromName(`${conversationId}#${tag}`));
}

function inbound(ws: Ws, conversationId: string, body: string, providerSid = sid()) {
  return {
    id: `msg_o${crypto.randomUUID().replaceAll("-", "").slice(0, 18)}`,
    workspaceId: ws.account.workspaceId,
    conversationId,
    direction: "inbound" as const,
    fromNumber: ws.customer,
    toNumber: ws.from,
    body,
    status: "received" as const,
    segments: 1,
    encoding: "GSM-7" as const,
    providerSid,
  };
}

describe("ConversationRoom as the ordering point (invariant 4)", () => {
  it("assigns gap-free increasing seqs to a concurrent burst of messages and status changes", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    const out = await sendOut(ws, conv.id);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) work.push(room.appendMessage(inbound(ws, conv.id, `in ${i}`)));
    for (const status of ["sent", "queued", "delivered", "sending"] as const) {
      work.push(room.applyStatus({ messageId: out.json.id, status, source: "webhook", at: Date.now() }));
    }
    await Promise.all(work);
    const frames = await room.eventsAfter(0);
    expect(frames).not.toBeNull();
    const seqs = frames!.map((f) => f.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    // 1 outbound + 20 inbound messages, plus only the status changes that moved forward.
    expect(frames!.filter((f) => f.type === "message")).toHaveLength(21);
    const statusFrames = frames!.filter((f) => f.type === "status");
    expect(statusFrames.length).toBeGreaterThanOrEqual(1);
    expect(await room.getLastSeq()).toBe(seqs.at(-1));
    // D1 agrees: every message row has the seq of its frame.
    const thread = await call("GET", `/api/conversations/${conv.id}/messages?limit=100`, { key: ws.key });
    const messageSeqs = frames!.filter((f) => f.type === "message").map((f) => f.seq);
    expect(thread.json.items.map((m: { seq: number }) => m.seq)).toEqual(messageSeqs);
  });

  it("a write that fails in D1 (a duplicate sid) uses no seq", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    const shared = sid();
    expect((await room.appendMessage(inbound(ws, conv.id, "first", shared))).outcome).toBe("created");
    expect(await room.appendMessage(inbound(ws, conv.id, "replay", shared))).toMatchObject({
      outcome: "duplicate",
      constraint: "provider_sid",
    });
    await room.appendMessage(inbound(ws, conv.id, "second"));
    expect((await room.eventsAfter(0))!.map((f) => f.seq)).toEqual([1, 2]);
  });

  it("replays exactly the events after a seq, and nothing for the last one", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    for (let i = 0; i < 5; i++) await room.appendMessage(inbound(ws, conv.id, `m${i}`));
    const after2 = await room.eventsAfter(2);
    expect(after2!.map((f) => [f.seq, f.type === "message" ? f.message.body : ""])).toEqual([
      [3, "m2"],
      [4, "m3"],
      [5, "m4"],
    ]);
    expect(await room.eventsAfter(5)).toEqual([]);
  });

  it("continues the sequence after the object is evicted", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    await room.appendMessage(inbound(ws, conv.id, "before"));
    await evictDurableObject(room);
    await room.appendMessage(inbound(ws, conv.id, "after"));
    expect((await room.eventsAfter(0))!.map((f) => f.seq)).toEqual([1, 2]);
  });

  it("a room without storage starts after D1's last seq instead of reusing seqs", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    await roomFor(env, conv.id).appendMessage(inbound(ws, conv.id, "one"));
    // A second room object for the same conversation (as if storage were lost) must not restart at 1.
    const fresh = otherRoom(conv.id, "fresh");
    const result = await fresh.appendMessage(inbound(ws, conv.id, "two"));
    expect(result.outcome === "created" && result.message.seq).toBe(2);
  });

  it("a room that crashed after D1 committed, before its own log, continues after D1's seq", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    await room.appendMessage(inbound(ws, conv.id, "one"));
    // D1 takes seq 2 while this room never logs it (what a SIGKILL between the two commits leaves).
    const other = otherRoom(conv.id, "crash");
    expect((await other.appendMessage(inbound(ws, conv.id, "two"))).outcome).toBe("created");
    await evictDurableObject(room);
    const three = await room.appendMessage(inbound(ws, conv.id, "three"));
    expect(three.outcome === "created" && three.message.seq).toBe(3);
    // Its log has a hole at 2, so a resume from before it is told to reload; after it, it resumes.
    expect(await room.eventsAfter(0)).toBeNull();
    expect((await room.eventsAfter(2))!.map((f) => f.seq)).toEqual([3]);
    const thread = await call("GET", `/api/conversations/${conv.id}/messages?limit=10`, { key: ws.key });
    expect(thread.json.items.map((m: { seq: number; body: string }) => [m.seq, m.body])).toEqual([
      [1, "one"],
      [2, "two"],
      [3, "three"],
    ]);
  });

  it("a live room whose seq was taken in D1 resyncs and stores the message at the next free seq", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    await room.appendMessage(inbound(ws, conv.id, "one"));
    const other = otherRoom(conv.id, "other");
    await other.appendMessage(inbound(ws, conv.id, "two"));
    const three = await room.appendMessage(inbound(ws, conv.id, "three"));
    expect(three.outcome === "created" && three.message.seq).toBe(3);
  });

  it("a room that crashed after D1 committed a status change never reuses that change's seq", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    const out = await sendOut(ws, conv.id);
    expect(out.json.seq).toBe(1);
    const other = otherRoom(conv.id, "status");
    const moved = await other.applyStatus({
      messageId: out.json.id,
      status: "sent",
      source: "webhook",
      at: Date.now(),
    });
    expect(moved).toMatchObject({ applied: true, seq: 2 });
    await evictDurableObject(room);
    const next = await room.appendMessage(inbound(ws, conv.id, "reply"));
    expect(next.outcome === "created" && next.message.seq).toBe(3);
  });

  it(`keeps a bounded log (${LOG_LIMIT} events) and says so when a resume reaches past it`, async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    const total = LOG_LIMIT + 5;
    for (let i = 0; i < total; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, total - i) }, (_, j) =>
          room.appendMessage(inbound(ws, conv.id, `b${i + j}`)),
        ),
      );
    }
    expect(await room.getLastSeq()).toBe(total);
    expect(await room.eventsAfter(0)).toBeNull();
    expect(await room.eventsAfter(4)).toBeNull();
    const tail = await room.eventsAfter(5);
    expect(tail).toHaveLength(LOG_LIMIT);
    expect(tail![0]!.seq).toBe(6);
  }, 60_000);
});

describe("the status order, where it runs (the room's SQL; invariant 3)", () => {
  // DESIGN.md: scheduled < pending < queued < sending < sent < delivery_unknown <
  // {delivered, undelivered, failed} < read; canceled is terminal.
  const ORDER: string[][] = [
    ["scheduled"],
    ["pending"],
    ["queued"],
    ["sending"],
    ["sent"],
    ["delivery_unknown"],
    ["delivered", "undelivered", "failed"],
    ["read"],
    ["canceled"],
  ];
  const rank = (s: string) => ORDER.findIndex((tier) => tier.includes(s));
  const statuses = ORDER.flat();

  it("moves a stored status only to a higher rank, for every pair, and records every report", async () => {
    const ws = await textingWorkspace();
    const conv = await conversationOf(ws);
    const room = roomFor(env, conv.id);
    const wrong: string[] = [];
    for (const from of statuses) {
      // Stored through the room but never enqueued: no consumer moves it while the test does.
      const id = await pendingMessage(ws, `from ${from}`);
      const out = { json: { id } };
      for (const to of statuses) {
        await env.DB.prepare("UPDATE messages SET status = ? WHERE id = ?").bind(from, out.json.id).run();
        const result = await room.applyStatus({
          messageId: out.json.id,
          status: to as never,
          source: "webhook",
          at: Date.now(),
        });
        const stored = await env.DB.prepare("SELECT status FROM messages WHERE id = ?")
          .bind(out.json.id)
          .first<{ status: string }>();
        const shouldMove = rank(to) > rank(from);
        if (result.applied !== shouldMove || stored?.status !== (shouldMove ? to : from)) {
          wrong.push(`${from} → ${to}: applied ${result.applied}, stored ${stored?.status}`);
        }
      }
      const events = await env.DB.prepare("SELECT count(*) AS n FROM message_events WHERE message_id = ?")
        .bind(out.json.id)
        .first<{ n: number }>();
      // The send's own event plus one per report, whether or not it moved the status.
      expect(events?.n).toBe(1 + statuses.length);
    }
    expect(wrong).toEqual([]);
  }, 60_000);
});
