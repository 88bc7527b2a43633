import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TwilioClient, twilioConfigFromEnv } from "../../../src/channels/twilio/client";
import { createDb } from "../../../src/db/client";
import { countingD1, newCount } from "../../../src/db/counted";
import { recordConsent } from "../../../src/db/queries/contacts";
import worker from "../../../src/index";
import { jobConfig } from "../../../src/messaging/config";
import { processOutbound } from "../../../src/messaging/handover";
import { backoffSeconds } from "../../../src/messaging/outbox";
import { reconcile } from "../../../src/messaging/reconcile";
import { handleOutboundBatch } from "../../../src/queue/consumer";
import { processDeadLetter } from "../../../src/queue/dead-letters";
import { pacerFor } from "../../../src/rooms/sender-pacer";
import { breakerFor, FIRST_COOLDOWN_MS, HOLD_REASON, OPEN_AFTER_FAILURES } from "../../../src/rooms/twilio-breaker";
import { call } from "../../helpers/api";
import { getMessage, pendingMessage, settle, textingWorkspace } from "../../helpers/pipeline";
import { collect, openSocket } from "../../helpers/sockets";
import {
  control,
  deliver,
  emulatorMessages,
  eventually,
  type HeldRequest,
  scriptFaults,
  takeHeld,
} from "../../helpers/twilio";

async function runQueue(messageIds: string[], attempts = 1) {
  const batch = createMessageBatch(
    "parley-outbound",
    messageIds.map((messageId, i) => ({
      id: `q${i}-${messageId}`,
      timestamp: Date.now(),
      attempts,
      body: { messageId },
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

describe("outbound consumer (invariants 1 and 2)", () => {
  it("retries 429 and 500 (even one that created the message) and ends delivered with exactly one SMS", async () => {
    const ws = await textingWorkspace();
    await scriptFaults(ws.customer, ["error429", "error500AfterCreate"]);
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "through the storm" } },
    );
    // Callbacks stay held until the consumer itself has recorded the handover, so the retry after the
    // ambiguous 500 has to find the message at Twilio on its own.
    const handedOver = await eventually(async () => {
      const m = await getMessage(ws.key, res.json.id);
      return m.events.some((e: { source: string }) => e.source === "queue") ? m : undefined;
    }, 20_000);
    expect(handedOver.events.map((e: { status: string; source: string }) => `${e.source}:${e.status}`)).toEqual([
      "api:pending",
      "queue:delivered",
    ]);
    const final = await settle(ws.key, ws.customer, res.json.id);
    expect(final.status).toBe("delivered");
    const atTwilio = await emulatorMessages(ws.customer);
    expect(atTwilio).toHaveLength(1);
    expect(atTwilio[0].sid).toBe(final.providerSid);
  }, 30_000);

  it("a plain 500 that created nothing is sent again after the lookup, once", async () => {
    const ws = await textingWorkspace();
    await scriptFaults(ws.customer, ["error500"]);
    const res = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "again" } });
    const final = await settle(ws.key, ws.customer, res.json.id);
    expect(final.status).toBe("delivered");
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  }, 30_000);

  it("the same queue message delivered twice at once sends one SMS", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws);
    const result = await runQueue([id, id]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toHaveLength(0);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
    // And once more, later: the message is no longer pending, so nothing is sent.
    await runQueue([id], 2);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
    expect((await getMessage(ws.key, id)).status).toBe("queued");
  });

  it("two batches racing for the same message send one SMS", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "raced");
    const [a, b] = await Promise.all([runQueue([id]), runQueue([id])]);
    expect([...a.explicitAcks, ...b.explicitAcks]).toHaveLength(2);
    await settle(ws.key, ws.customer, id);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("loads and claims a whole batch in one D1 round trip and writes its results in one more; clients get the status frames in seq order", async () => {
    const ws = await textingWorkspace();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await pendingMessage(ws, `batched ${i}`));
    const conv = (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json;
    const socket = await openSocket(`/api/conversations/${conv.id}/ws`, { key: ws.key });
    expect((await socket.next((f) => f.type === "hello")).lastSeq).toBe(5);
    const inbox = await openSocket("/api/ws", { key: ws.key });
    const count = newCount();
    const batch = createMessageBatch(
      "parley-outbound",
      ids.map((messageId, i) => ({ id: `b${i}`, timestamp: Date.now(), attempts: 1, body: { messageId } })),
    );
    // All of the batch's D1 work, the rooms' included: they only log and broadcast the frames. The
    // breaker (clean) is asked once for the whole batch, not once a message.
    await breakerFor(env).report("ok"); // other tests' failures may still be counted
    const breakerCalls: string[] = [];
    const breakers = {
      idFromName: (name: string) => env.TWILIO_BREAKER.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = env.TWILIO_BREAKER.get(id);
        return new Proxy(stub, {
          get: (target, method) => {
            const value = Reflect.get(target, method);
            if (typeof value !== "function") return value;
            return (...args: unknown[]) => {
              breakerCalls.push(String(method));
              return Reflect.apply(value, target, args);
            };
          },
        });
      },
    } as unknown as typeof env.TWILIO_BREAKER;
    await handleOutboundBatch(batch, { ...env, DB: countingD1(env.DB, count), TWILIO_BREAKER: breakers });
    expect(breakerCalls).toEqual(["isClean"]);
    // The claim (an UPDATE and the rows), then per message: sid, event, status, seq; and the integrations check.
    expect(count).toEqual({ roundTrips: 2, statements: 2 + 5 * 4 + 1 });
    for (const id of ids) expect((await getMessage(ws.key, id)).status).toBe("queued");
    expect(await emulatorMessages(ws.customer)).toHaveLength(5);
    const frames = await collect(socket, (f) => f.type === "status", 5);
    expect(frames.map((f) => f.seq)).toEqual([6, 7, 8, 9, 10]);
    expect(frames.map((f) => f.status)).toEqual(Array(5).fill("queued"));
    expect(new Set(frames.map((f) => f.messageId))).toEqual(new Set(ids));
    // The inbox stream hears of the five changes at most twice (a publish on its way, then one more),
    // and the last thing it sends is the conversation as it is now.
    const latest = await inbox.next(
      (f) =>
        f.type === "conversation" && f.conversation.id === conv.id && f.conversation.lastMessage?.status === "queued",
    );
    expect(latest.conversation.lastMessage.id).toBe(ids[4]);
    await new Promise((r) => setTimeout(r, 300));
    expect(
      inbox.frames.filter((f) => f.type === "conversation" && f.conversation.id === conv.id).length,
    ).toBeLessThanOrEqual(2);
  });

  it("when the batch's results cannot be written, every message is retried, and the retry adopts what Twilio has instead of sending again", async () => {
    const ws = await textingWorkspace();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await pendingMessage(ws, `unrecorded ${i}`));
    let batches = 0;
    // D1 takes the claim, then refuses the results' batch (an outage, or the isolate dying, between the two).
    const flaky = {
      prepare: (query: string) => env.DB.prepare(query),
      batch: (statements: D1PreparedStatement[]) =>
        ++batches === 2 ? Promise.reject(new Error("D1_ERROR: network connection lost")) : env.DB.batch(statements),
    } as unknown as D1Database;
    const batch = createMessageBatch(
      "parley-outbound",
      ids.map((messageId, i) => ({ id: `f${i}`, timestamp: Date.now(), attempts: 1, body: { messageId } })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, DB: flaky }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toHaveLength(0);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["f0", "f1", "f2"]);
    expect(await emulatorMessages(ws.customer)).toHaveLength(3);
    for (const id of ids) expect((await getMessage(ws.key, id)).status).toBe("pending");
    // The queue's redelivery: each message is found at Twilio and adopted.
    const again = await runQueue(ids, 2);
    expect(again.explicitAcks).toHaveLength(3);
    for (const id of ids) expect((await getMessage(ws.key, id)).status).not.toBe("pending");
    expect(await emulatorMessages(ws.customer)).toHaveLength(3);
  });

  it("a crash after Twilio accepted but before the D1 write: the retry adopts the message instead of resending", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "adopt me");
    // The consumer's first steps: attempt recorded, message created at Twilio … then the Worker died.
    const startedAt = Date.now();
    await env.DB.prepare("UPDATE messages SET attempt_started_at = ?, attempts = 1 WHERE id = ?")
      .bind(startedAt, id)
      .run();
    const twilio = new TwilioClient(twilioConfigFromEnv(env));
    const created = await twilio.createMessage({ to: ws.customer, from: ws.from, body: "adopt me" });
    const decision = await processOutbound(env, id, 2);
    expect(decision).toEqual({ action: "ack", outcome: "adopted" });
    const msg = await getMessage(ws.key, id);
    // Adopted with Twilio's current status (the emulator in hold mode has already delivered it).
    expect(msg).toMatchObject({ status: "delivered", providerSid: created.sid });
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("a timeout after Twilio created the message is retried as ambiguous and adopted, not resent", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "slow lane");
    await scriptFaults(ws.customer, ["hangAfterCreate"]);
    const impatient = new TwilioClient({ ...twilioConfigFromEnv(env), timeoutMs: 300 });
    const first = await processOutbound(env, id, 1, impatient);
    expect(first).toMatchObject({ action: "retry", outcome: "ambiguous" });
    expect(first.action === "retry" && first.delaySeconds).toBeGreaterThanOrEqual(1);
    const second = await processOutbound(env, id, 2);
    expect(second).toEqual({ action: "ack", outcome: "adopted" });
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("a timeout before anything was created is resent once after the lookup finds nothing", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "lost in transit");
    await scriptFaults(ws.customer, ["hang"]);
    const impatient = new TwilioClient({ ...twilioConfigFromEnv(env), timeoutMs: 300 });
    expect(await processOutbound(env, id, 1, impatient)).toMatchObject({ action: "retry", outcome: "ambiguous" });
    expect(await processOutbound(env, id, 2)).toEqual({ action: "ack", outcome: "sent" });
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("a permanent Twilio error marks the message failed with its code and acks", async () => {
    const ws = await textingWorkspace();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: "+15005550009", body: "to a landline" } },
    );
    const failed = await eventually(async () => {
      const m = await getMessage(ws.key, res.json.id);
      return m.status === "failed" ? m : undefined;
    });
    expect(failed).toMatchObject({ errorCode: 21614, errorMessage: "The 'To' number is not a mobile number" });
    expect((await call("POST", `/api/messages/${res.json.id}/retry`, { key: ws.key })).status).toBe(409);
  });

  it("Twilio's 21610 marks the message failed and the contact opted out", async () => {
    const ws = await textingWorkspace();
    const res = await call("POST", "/api/messages", { key: ws.key }, { body: { to: "+15005550004", body: "hello?" } });
    await eventually(async () => (await getMessage(ws.key, res.json.id)).status === "failed");
    const contact = (await call("GET", "/api/contacts?q=5550004", { key: ws.key })).json.items[0];
    expect(contact.optedOut).toBe(true);
  });

  it("refuses to send to a number that opted out after the message was queued", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws);
    await recordConsent(createDb(env.DB), ws.account.workspaceId, ws.customer, true, {
      source: "keyword",
      keyword: "STOP",
    });
    expect(await processOutbound(env, id, 1)).toEqual({ action: "ack", outcome: "opted_out" });
    expect((await getMessage(ws.key, id)).status).toBe("failed");
    expect(await emulatorMessages(ws.customer)).toHaveLength(0);
  });

  it("asks for a retry with growing, jittered, capped backoff", () => {
    expect(backoffSeconds(1, () => 0)).toBe(1);
    expect(backoffSeconds(4, () => 0)).toBe(4);
    expect(backoffSeconds(4, () => 0.999)).toBe(8);
    expect(backoffSeconds(30, () => 0.999)).toBe(300);
  });
});

describe("per-number send rate", () => {
  it("spaces sends from a number to its configured segments per second", async () => {
    const ws = await textingWorkspace();
    const numbers = (await call("GET", "/api/numbers", { key: ws.key })).json.items;
    const patched = await call("PATCH", `/api/numbers/${numbers[0].id}`, ws.account, { body: { ratePerSecond: 4 } });
    expect(patched.json.ratePerSecond).toBe(4);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push(
        (await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: `paced ${i}` } })).json
          .id,
      );
    }
    for (const id of ids) await settle(ws.key, ws.customer, id);
    const created = (await emulatorMessages(ws.customer)).map((m) => m.created_ms as number).sort((a, b) => a - b);
    expect(created).toHaveLength(8);
    // 4 segments per second: no second at "Twilio" holds a fifth send (arrivals may jitter around the
    // 250 ms spacing, but any five span at least a second).
    for (let i = 4; i < created.length; i++) expect(created[i]! - created[i - 4]!).toBeGreaterThanOrEqual(1000);
    expect(created.at(-1)! - created[0]!).toBeGreaterThanOrEqual(1000);
  }, 30_000);

  it("never lets Twilio see more than the rate in one second, even when a request arrives late", async () => {
    const ws = await textingWorkspace();
    const numbers = (await call("GET", "/api/numbers", { key: ws.key })).json.items;
    await call("PATCH", `/api/numbers/${numbers[0].id}`, ws.account, { body: { ratePerSecond: 2 } });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await pendingMessage(ws, `window ${i}`));
    // The first request takes 600 ms to reach Twilio: spacing alone (500 ms) would put the third one
    // within a second of the first two's arrivals.
    await scriptFaults(ws.customer, ["slowArrival"]);
    const outcomes = await Promise.all(ids.map((id) => processOutbound(env, id, 1)));
    expect(outcomes.map((o) => o.outcome)).toEqual(["sent", "sent", "sent"]);
    const arrivals = (await emulatorMessages(ws.customer)).map((m) => m.created_ms as number).sort((a, b) => a - b);
    expect(arrivals).toHaveLength(3);
    expect(arrivals[2]! - arrivals[0]!).toBeGreaterThanOrEqual(1000);
  });

  it("hands a message back to the queue (without using a retry) when the sender's next slot is far off", async () => {
    const ws = await textingWorkspace();
    const numbers = (await call("GET", "/api/numbers", { key: ws.key })).json.items;
    await call("PATCH", `/api/numbers/${numbers[0].id}`, ws.account, { body: { ratePerSecond: 1 } });
    // A 60-segment send at 1 segment/s occupies the sender for a minute.
    const busy = await pacerFor(env, ws.from).send({ to: ws.customer, from: ws.from, body: "long one" }, 60, 1, 0);
    expect(busy.sent && "message" in busy).toBe(true);
    const id = await pendingMessage(ws, "later please");
    expect(await processOutbound(env, id, 1)).toEqual({ action: "ack", outcome: "paced" });
    const row = await env.DB.prepare("SELECT status, lease_until, attempt_started_at FROM messages WHERE id = ?")
      .bind(id)
      .first();
    expect(row).toEqual({ status: "pending", lease_until: null, attempt_started_at: null });
    expect((await emulatorMessages(ws.customer)).map((m) => m.body)).toEqual(["long one"]);
  });

  it("a paced send keeps Twilio's error semantics: a 500 after create is adopted, and it is sent once", async () => {
    const ws = await textingWorkspace();
    const numbers = (await call("GET", "/api/numbers", { key: ws.key })).json.items;
    await call("PATCH", `/api/numbers/${numbers[0].id}`, ws.account, { body: { ratePerSecond: 10 } });
    const id = await pendingMessage(ws, "paced through a 500");
    await scriptFaults(ws.customer, ["error500AfterCreate"]);
    // 500 after Twilio created it: ambiguous, so the next attempt looks it up and adopts it.
    expect(await processOutbound(env, id, 1)).toMatchObject({ action: "retry", outcome: "ambiguous" });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await processOutbound(env, id, 2)).toEqual({ action: "ack", outcome: "adopted" });
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("a Twilio 429 sends the message back to the queue without spending a retry, and it goes out once", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "through a 429");
    await scriptFaults(ws.customer, ["error429", "error429"]);
    // Not a retry (the queue message is acked and a fresh one, with a deferral count, takes its place).
    expect(await processOutbound(env, id, 1)).toEqual({ action: "ack", outcome: "throttled" });
    const msg = await eventually(
      async () => {
        const m = await getMessage(ws.key, id);
        return m.providerSid ? m : undefined;
      },
      20_000,
      "the throttled message to be sent",
    );
    expect(msg.errorCode).toBeNull();
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("refuses rates out of range with 422", async () => {
    const ws = await textingWorkspace();
    const numbers = (await call("GET", "/api/numbers", { key: ws.key })).json.items;
    for (const ratePerSecond of [0, -1, 1.5, "fast"]) {
      const res = await call("PATCH", `/api/numbers/${numbers[0].id}`, ws.account, { body: { ratePerSecond } });
      expect(res.status).toBe(422);
    }
  });
});

describe("dead letters and manual retry", () => {
  it("a dead letter is marked failed with the reason, and a manual retry sends it once", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "second chance");
    const twilio = new TwilioClient(twilioConfigFromEnv(env));
    expect(await processDeadLetter(env, id, twilio)).toBe("failed");
    const failed = await getMessage(ws.key, id);
    expect(failed.status).toBe("failed");
    expect(failed.errorMessage).toMatch(/Gave up/);
    const retry = await call("POST", `/api/messages/${id}/retry`, { key: ws.key });
    expect(retry.status).toBe(202);
    expect(retry.json.status).toBe("pending");
    const final = await settle(ws.key, ws.customer, id);
    expect(final.status).toBe("delivered");
    expect(final.events.map((e: { status: string }) => e.status)).toEqual([
      "pending",
      "failed",
      "pending",
      "queued",
      "sent",
      "delivered",
    ]);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("a dead letter whose last attempt reached Twilio is adopted, not failed", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "made it after all");
    await env.DB.prepare("UPDATE messages SET attempt_started_at = ? WHERE id = ?").bind(Date.now(), id).run();
    const twilio = new TwilioClient(twilioConfigFromEnv(env));
    await twilio.createMessage({ to: ws.customer, from: ws.from, body: "made it after all" });
    expect(await processDeadLetter(env, id, twilio)).toBe("adopted");
    expect((await getMessage(ws.key, id)).status).toBe("delivered");
  });

  it("only failed messages can be retried", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws);
    const res = await call("POST", `/api/messages/${id}/retry`, { key: ws.key });
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(/pending/);
  });
});

describe("scheduled messages", () => {
  it("stores a message with sendAt as scheduled, and cancel works only before it is sent", async () => {
    const ws = await textingWorkspace();
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "later", sendAt } },
    );
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: "scheduled", sendAt });
    const canceled = await call("POST", `/api/messages/${res.json.id}/cancel`, { key: ws.key });
    expect(canceled.status).toBe(200);
    expect(canceled.json.status).toBe("canceled");
    const again = await call("POST", `/api/messages/${res.json.id}/cancel`, { key: ws.key });
    expect(again.status).toBe(409);
    const now = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "now" } });
    expect((await call("POST", `/api/messages/${now.json.id}/cancel`, { key: ws.key })).status).toBe(409);
    await settle(ws.key, ws.customer, now.json.id);
    expect((await emulatorMessages(ws.customer)).map((m) => m.body)).toEqual(["now"]);
  });

  it("edits a scheduled message's body and time before it is due, and refuses once it is not scheduled", async () => {
    const ws = await textingWorkspace();
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "draft", sendAt } },
    );
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const edited = await call(
      "PATCH",
      `/api/messages/${res.json.id}`,
      { key: ws.key },
      { body: { body: "Ça marche 👍", sendAt: later } },
    );
    expect(edited.status).toBe(200);
    expect(edited.json).toMatchObject({
      id: res.json.id,
      body: "Ça marche 👍",
      sendAt: later,
      encoding: "UCS-2",
      status: "scheduled",
      seq: res.json.seq,
    });
    const tooSoon = await call(
      "PATCH",
      `/api/messages/${res.json.id}`,
      { key: ws.key },
      { body: { sendAt: new Date().toISOString() } },
    );
    expect(tooSoon.status).toBe(422);
    const events = (await getMessage(ws.key, res.json.id)).events;
    expect(events.at(-1)).toMatchObject({ status: "scheduled", errorMessage: "edited before sending", source: "api" });
    await call("POST", `/api/messages/${res.json.id}/cancel`, { key: ws.key });
    const afterCancel = await call(
      "PATCH",
      `/api/messages/${res.json.id}`,
      { key: ws.key },
      { body: { body: "too late" } },
    );
    expect(afterCancel.status).toBe(409);
    expect((await getMessage(ws.key, res.json.id)).body).toBe("Ça marche 👍");
  });

  for (const [what, offset] of [
    ["in the past", -60_000],
    ["under a minute ahead", 30_000],
    ["over 35 days ahead", 36 * 24 * 3_600_000],
  ] as const) {
    it(`refuses a sendAt ${what} with 422`, async () => {
      const ws = await textingWorkspace();
      const sendAt = new Date(Date.now() + offset).toISOString();
      const res = await call(
        "POST",
        "/api/messages",
        { key: ws.key },
        { body: { to: ws.customer, body: "x", sendAt } },
      );
      expect(res.status).toBe(422);
      expect(res.json.error.details.fields[0].path).toBe("sendAt");
    });
  }
});

describe("manual retry follows its new attempt (no second SMS, no stuck status)", () => {
  it("Twilio fails it with 30008 → Retry → 2 creates, delivered on the new sid, reconciliation agrees, the old attempt's late reports move nothing, a second Retry is refused", async () => {
    const ws = await textingWorkspace();
    await control("/outcomes/to", { to: ws.customer, outcomes: ["failed", "delivered"] });
    const sent = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "Code 1234" } });
    expect(sent.status).toBe(202);
    const id: string = sent.json.id;
    const firstAttemptReports: HeldRequest[] = [];
    const failed = await eventually(
      async () => {
        const held = await takeHeld(ws.customer);
        firstAttemptReports.push(...held);
        for (const req of held) await deliver(req);
        const msg = await getMessage(ws.key, id);
        return msg.status === "failed" ? msg : undefined;
      },
      20_000,
      "the first attempt to fail",
    );
    expect(failed.errorCode).toBe(30008);
    const firstSid: string = failed.providerSid;

    const retry = await call("POST", `/api/messages/${id}/retry`, { key: ws.key });
    expect(retry.status).toBe(202);
    expect(retry.json).toMatchObject({ status: "pending", providerSid: null, errorCode: null });
    // The new attempt reaches Twilio (the queue's consumer sends it); its callbacks wait at the emulator.
    const queued = await eventually(async () => {
      const msg = await getMessage(ws.key, id);
      return msg.status === "queued" ? msg : undefined;
    });
    expect(queued.providerSid).not.toBe(firstSid);
    const again = await call("POST", `/api/messages/${id}/retry`, { key: ws.key });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("attempt_in_flight");

    // Reconciliation asks Twilio about the current attempt's sid, not the failed one.
    const config = jobConfig(env);
    await reconcile(env, Date.now() + 3 * config.reconcileAfterMs, config);
    expect((await getMessage(ws.key, id)).status).toBe("delivered");
    const final = await settle(ws.key, ws.customer, id);
    for (const req of firstAttemptReports) expect((await deliver(req)).status).toBe(200);

    const after = await getMessage(ws.key, id);
    expect(after.status).toBe("delivered");
    expect(after.providerSid).toBe(final.providerSid);
    expect(after.attempts).toEqual([
      expect.objectContaining({ attempt: 1, providerSid: firstSid, status: "failed", errorCode: 30008 }),
    ]);
    // The old attempt's late report is kept as an event that moved nothing.
    expect(after.events).toContainEqual(
      expect.objectContaining({ status: "failed", applied: false, errorMessage: expect.stringMatching(/attempt 1/) }),
    );
    const created = await emulatorMessages(ws.customer);
    expect(created.map((m) => m.sid)).toEqual([firstSid, after.providerSid]);
    const refused = await call("POST", `/api/messages/${id}/retry`, { key: ws.key });
    expect(refused.status).toBe(409);
    expect(await emulatorMessages(ws.customer)).toHaveLength(2);
  });
});

describe("adoption after an ambiguous attempt", () => {
  it("two identical texts back to back, the second's create hanging after Twilio committed it (still queued there, no date_sent): 2 creates, 2 distinct sids, both delivered", async () => {
    const ws = await textingWorkspace();
    const first = await pendingMessage(ws, "On my way");
    const second = await pendingMessage(ws, "On my way");
    expect(await processOutbound(env, first, 1)).toEqual({ action: "ack", outcome: "sent" });
    // Twilio holds the second (queued, date_sent empty), and its create never answers.
    await control("/lifecycle", { to: ws.customer, paused: true });
    await scriptFaults(ws.customer, ["hangAfterCreate"]);
    const impatient = new TwilioClient({ ...twilioConfigFromEnv(env), timeoutMs: 300 });
    expect(await processOutbound(env, second, 1, impatient)).toMatchObject({ action: "retry", outcome: "ambiguous" });
    expect(await processOutbound(env, second, 2)).toEqual({ action: "ack", outcome: "adopted" });
    await control("/lifecycle", { to: ws.customer, paused: false });
    const [a, b] = [await settle(ws.key, ws.customer, first), await settle(ws.key, ws.customer, second)];
    expect([a.status, b.status]).toEqual(["delivered", "delivered"]);
    const created = await emulatorMessages(ws.customer);
    expect(created).toHaveLength(2);
    expect(new Set([a.providerSid, b.providerSid])).toEqual(new Set(created.map((m) => m.sid)));
  });
});

describe("a Twilio outage holds messages instead of failing them", () => {
  it("one probe at a time after the cooldown; success closes the breaker", async () => {
    const breaker = env.TWILIO_BREAKER.get(env.TWILIO_BREAKER.idFromName(`probe-${crypto.randomUUID()}`));
    const t0 = Date.now();
    for (let i = 0; i < OPEN_AFTER_FAILURES; i++) await breaker.report("outage", t0);
    expect(await breaker.admit(t0 + 10)).toMatchObject({ allow: false, reason: HOLD_REASON });
    const later = t0 + FIRST_COOLDOWN_MS + 1;
    expect(await breaker.admit(later)).toEqual({ allow: true, probe: true, clean: false });
    expect(await breaker.admit(later + 1)).toMatchObject({ allow: false });
    // A failed probe reopens it for longer; a good one closes it.
    expect(await breaker.report("outage", later + 2)).toBe("open");
    expect(await breaker.admit(later + FIRST_COOLDOWN_MS + 10)).toMatchObject({ allow: false });
    expect(await breaker.admit(later + 2 * FIRST_COOLDOWN_MS + 10)).toMatchObject({ allow: true, probe: true });
    // A probe that never reached Twilio (paced back to the queue) hands the probe to the next send.
    await breaker.abandonProbe();
    expect(await breaker.admit()).toMatchObject({ allow: true, probe: true });
    expect(await breaker.report("ok")).toBe("closed");
    expect(await breaker.admit()).toEqual({ allow: true, probe: false, clean: true });
  });

  it("Twilio down for longer than the queue's whole retry budget: 0 failed, then everything delivered once it is back", async () => {
    const ws = await textingWorkspace();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await pendingMessage(ws, `during the outage ${i}`));
    await control("/down", { from: ws.from, down: true });
    const outcomes: string[] = [];
    try {
      // More deliveries per message than max_retries (10) allows, so without the breaker they would die.
      for (let attempt = 1; attempt <= 12; attempt++) {
        for (const id of ids) {
          const decision = await processOutbound(env, id, attempt);
          outcomes.push(decision.outcome);
          expect(decision.outcome).not.toMatch(/^failed/);
        }
      }
      // Once open, the breaker holds instead of spending retries (a few probes and the first five failures aside).
      expect(outcomes.filter((o) => o === "held").length).toBeGreaterThan(ids.length * 6);
      const held = await getMessage(ws.key, ids[0] ?? "");
      expect(held).toMatchObject({ status: "pending", errorMessage: HOLD_REASON });
      expect((await call("GET", "/api/ops/delivery", ws.account)).json.twilio.breaker).not.toBe("closed");
    } finally {
      await control("/down", { from: ws.from, down: false });
    }
    // Back: a probe closes the breaker and the held messages go out (here or from the queue), once each.
    await eventually(
      async () => {
        for (const id of ids) await processOutbound(env, id, 1);
        const statuses = await Promise.all(ids.map(async (id) => (await getMessage(ws.key, id)).status));
        return statuses.every((s) => s !== "pending");
      },
      // The breaker's cooldown doubles with each failed probe (up to 60 s); a slow machine probes more often.
      75_000,
      "the held messages to go out",
    );
    for (const id of ids) expect((await settle(ws.key, ws.customer, id)).status).toBe("delivered");
    const created = await emulatorMessages(ws.customer);
    expect(created.map((m) => m.body).sort()).toEqual(ids.map((_, i) => `during the outage ${i}`).sort());
    expect((await getMessage(ws.key, ids[0] ?? "")).errorMessage).toBeNull();
  }, 120_000);
});
