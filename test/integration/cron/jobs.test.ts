import {
  createExecutionContext,
  createScheduledController,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TwilioClient, twilioConfigFromEnv } from "../../../src/channels/twilio/client";
import { DAILY, EVERY_15_MINUTES, EVERY_MINUTE } from "../../../src/cron";
import worker from "../../../src/index";
import { jobConfig } from "../../../src/messaging/config";
import { recoverOutbox } from "../../../src/messaging/outbox-recovery";
import { reconcile } from "../../../src/messaging/reconcile";
import { runRetentionJob } from "../../../src/messaging/retention";
import { sendDueScheduled } from "../../../src/messaging/scheduled";
import { roomFor } from "../../../src/rooms/conversation-room";
import { call } from "../../helpers/api";
import { countRows } from "../../helpers/db";
import { getMessage, pendingMessage, settle, textingWorkspace } from "../../helpers/pipeline";
import { openSocket } from "../../helpers/sockets";
import { control, deliver, emulatorMessages, eventually, takeHeld } from "../../helpers/twilio";

type Ws = Awaited<ReturnType<typeof textingWorkspace>>;

async function tick(cron: string, scheduledTime = Date.now()) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("cron: scheduled sends", () => {
  it("claims a due message once even when ticks repeat, and it is delivered once", async () => {
    const ws = await textingWorkspace();
    const sendAt = new Date(Date.now() + 120_000).toISOString();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "reminder", sendAt } },
    );
    // Not due yet: nothing happens.
    expect((await sendDueScheduled(env, Date.now())).claimed).toBe(0);
    const due = Date.now() + 180_000;
    const [a, b] = await Promise.all([sendDueScheduled(env, due), sendDueScheduled(env, due)]);
    expect(a.claimed + b.claimed).toBe(1);
    await tick(EVERY_MINUTE, due);
    const final = await settle(ws.key, ws.customer, res.json.id);
    expect(final.status).toBe("delivered");
    expect(final.events.map((e: { status: string }) => e.status)).toEqual([
      "scheduled",
      "pending",
      "queued",
      "sent",
      "delivered",
    ]);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("a canceled message is never sent", async () => {
    const ws = await textingWorkspace();
    const sendAt = new Date(Date.now() + 120_000).toISOString();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "nope", sendAt } },
    );
    await call("POST", `/api/messages/${res.json.id}/cancel`, { key: ws.key });
    expect((await sendDueScheduled(env, Date.now() + 600_000)).claimed).toBe(0);
    expect((await getMessage(ws.key, res.json.id)).status).toBe("canceled");
  });
});

describe("cron: outbox recovery", () => {
  it("re-enqueues a pending message whose queue message was lost, once per grace period", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "lost in the queue");
    const grace = jobConfig(env).outboxGraceMs;
    expect((await recoverOutbox(env, Date.now(), grace)).requeued).toBe(0);
    const later = Date.now() + grace + 1000;
    expect((await recoverOutbox(env, later, grace)).requeued).toBeGreaterThanOrEqual(1);
    // A repeated tick right after does not enqueue it again.
    const again = await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE id = ? AND updated_at = ?")
      .bind(id, later)
      .first<{ n: number }>();
    expect(again?.n).toBe(1);
    const final = await settle(ws.key, ws.customer, id);
    expect(final.status).toBe("delivered");
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });
});

describe("cron: reconciliation", () => {
  async function sentWithoutReceipt(ws: Ws) {
    const res = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "receipt?" } });
    const msg = await eventually(async () => {
      const m = await getMessage(ws.key, res.json.id);
      return m.providerSid ? m : undefined;
    });
    const held = await eventually(async () => {
      const h = await takeHeld(ws.customer);
      return h.length ? h : undefined;
    });
    await deliver(held[0]!); // sent; the delivered callback is "lost"
    expect((await getMessage(ws.key, msg.id)).status).toBe("sent");
    return { msg, delivered: held[1]! };
  }

  it("fetches stalled messages from Twilio and advances them (a dropped callback)", async () => {
    const ws = await textingWorkspace();
    const { msg } = await sentWithoutReceipt(ws);
    const config = jobConfig(env);
    const early = await reconcile(env, Date.now(), config);
    expect((await getMessage(ws.key, msg.id)).status).toBe("sent");
    expect(early.checked).toBe(0);
    const result = await reconcile(env, Date.now() + 2 * config.reconcileAfterMs + 1000, config);
    expect(result.advanced).toBeGreaterThanOrEqual(1);
    const after = await getMessage(ws.key, msg.id);
    expect(after.status).toBe("delivered");
    expect(after.events.at(-1)).toMatchObject({ status: "delivered", source: "reconcile" });
  });

  it("marks sent-with-no-receipt delivery_unknown after the threshold, and a late receipt still upgrades it", async () => {
    const ws = await textingWorkspace();
    const { msg, delivered } = await sentWithoutReceipt(ws);
    await control("/set-status", { sid: msg.providerSid, status: "sent" });
    const config = jobConfig(env);
    await reconcile(env, Date.now() + config.deliveryUnknownAfterMs + 1000, config);
    const unknown = await getMessage(ws.key, msg.id);
    expect(unknown.status).toBe("delivery_unknown");
    await deliver(delivered);
    expect((await getMessage(ws.key, msg.id)).status).toBe("delivered");
  });

  it("stops at Twilio's 429 without counting errors, and later ticks finish the rest", async () => {
    const ws = await textingWorkspace();
    const stalled = [];
    for (let i = 0; i < 8; i++) stalled.push((await sentWithoutReceipt(ws)).msg);
    for (const msg of stalled) await control("/faults/fetch", { sid: msg.providerSid, script: ["error429"] });
    const config = jobConfig(env);
    const first = Date.now() + 2 * config.reconcileAfterMs + 1000;
    const limited = await reconcile(env, first, config);
    expect(limited.rateLimited).toBe(true);
    expect(limited.errors).toBe(0);
    expect(limited.advanced).toBe(0);
    // Each of the concurrent workers met a 429 and none took another: at most 5 of 8 were tried.
    expect(limited.checked).toBeLessThanOrEqual(5);
    for (const msg of stalled) expect((await getMessage(ws.key, msg.id)).status).toBe("sent");

    // Later ticks pick up where it stopped (each 429 is used once) until every message is delivered.
    let at = first;
    let last = limited;
    for (let tick = 0; tick < 9 && last.rateLimited; tick++) {
      at += config.reconcileAfterMs + 1000;
      last = await reconcile(env, at, config);
    }
    expect(last.rateLimited).toBe(false);
    for (const msg of stalled) expect((await getMessage(ws.key, msg.id)).status).toBe("delivered");
  });

  it("resolves an attempt that never got a sid: adopts what Twilio has", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "orphaned attempt");
    const startedAt = Date.now();
    await env.DB.prepare("UPDATE messages SET attempt_started_at = ? WHERE id = ?").bind(startedAt, id).run();
    await new TwilioClient(twilioConfigFromEnv(env)).createMessage({
      to: ws.customer,
      from: ws.from,
      body: "orphaned attempt",
    });
    const config = jobConfig(env);
    const result = await reconcile(env, startedAt + config.reconcileAfterMs + 1000, config);
    expect(result.adopted).toBeGreaterThanOrEqual(1);
    expect((await getMessage(ws.key, id)).providerSid).toMatch(/^SM/);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("resolves an attempt that never got a sid: resends once when Twilio has nothing", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "never arrived");
    const startedAt = Date.now();
    await env.DB.prepare("UPDATE messages SET attempt_started_at = ? WHERE id = ?").bind(startedAt, id).run();
    const config = jobConfig(env);
    const result = await reconcile(env, startedAt + config.reconcileAfterMs + 1000, config);
    expect(result.resent).toBeGreaterThanOrEqual(1);
    await settle(ws.key, ws.customer, id);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("holds the lease while it looks a stalled attempt up, so a consumer cannot start one meanwhile (and never clears another's marker)", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "whose turn?");
    const startedAt = Date.now();
    await env.DB.prepare("UPDATE messages SET attempt_started_at = ? WHERE id = ?").bind(startedAt, id).run();
    let consumerClaimed: boolean | null = null;
    /** During the lookup, a consumer tries to take the message the way processOutbound's claim does. */
    class RacingClient extends TwilioClient {
      override async listMessagesSince(filter: Parameters<TwilioClient["listMessagesSince"]>[0]) {
        const now = Date.now();
        const claimed = await env.DB.prepare(
          `UPDATE messages SET lease_until = ?1, attempt_started_at = coalesce(attempt_started_at, ?2)
           WHERE id = ?3 AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?2) RETURNING id`,
        )
          .bind(now + 45_000, now, id)
          .first();
        consumerClaimed = claimed !== null;
        return super.listMessagesSince(filter);
      }
    }
    const config = jobConfig(env);
    const racing = new RacingClient(twilioConfigFromEnv(env));
    await reconcile(env, startedAt + config.reconcileAfterMs + 1000, config, racing);
    expect(consumerClaimed).toBe(false);
    await settle(ws.key, ws.customer, id);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("leaves a message alone while another worker's lease on it lasts", async () => {
    const ws = await textingWorkspace();
    const id = await pendingMessage(ws, "mine for now");
    const startedAt = Date.now();
    const config = jobConfig(env);
    const leaseUntil = startedAt + 10 * config.reconcileAfterMs;
    await env.DB.prepare("UPDATE messages SET attempt_started_at = ?, lease_until = ? WHERE id = ?")
      .bind(startedAt, leaseUntil, id)
      .run();
    await reconcile(env, startedAt + config.reconcileAfterMs + 1000, config);
    const row = await env.DB.prepare("SELECT attempt_started_at AS a, lease_until AS l FROM messages WHERE id = ?")
      .bind(id)
      .first<{ a: number; l: number }>();
    expect(row).toEqual({ a: startedAt, l: leaseUntil });
  });

  it("logs a corrupt row and moves on without stopping the batch", async () => {
    const ws = await textingWorkspace();
    const { msg: good } = await sentWithoutReceipt(ws);
    const bad = await pendingMessage(ws, "corrupt");
    await env.DB.prepare(
      "UPDATE messages SET status = 'sent', provider_sid = ?, media = 'not json', updated_at = 0 WHERE id = ?",
    )
      .bind(`SM${"f".repeat(32)}`, bad)
      .run();
    await env.DB.prepare("UPDATE messages SET updated_at = 1 WHERE id = ?").bind(good.id).run();
    const result = await reconcile(env, Date.now(), jobConfig(env));
    expect(result.errors).toBeGreaterThanOrEqual(1);
    expect((await getMessage(ws.key, good.id)).status).toBe("delivered");
  });

  it("runs from the 15-minute cron and records the run", async () => {
    await tick(EVERY_15_MINUTES);
    const run = await env.DB.prepare("SELECT * FROM job_runs WHERE name = 'reconcile'").first<{
      last_success_at: number | null;
    }>();
    expect(run?.last_success_at).not.toBeNull();
  });
});

describe("cron: retention", () => {
  it("purges bodies and events past the workspace's retention, writes an audit entry, keeps recent ones", async () => {
    const ws = await textingWorkspace();
    const patched = await call("PATCH", "/api/workspace", ws.account, { body: { retentionDays: 30 } });
    expect(patched.json.retentionDays).toBe(30);
    const old = await pendingMessage(ws, "ancient secret");
    const recent = await pendingMessage(ws, "fresh news");
    const longAgo = Date.now() - 31 * 86_400_000;
    await env.DB.prepare("UPDATE messages SET created_at = ?, status = 'delivered' WHERE id = ?")
      .bind(longAgo, old)
      .run();
    await env.DB.prepare("UPDATE message_events SET at = ? WHERE message_id = ?").bind(longAgo, old).run();
    // The cron enqueues one retention job per workspace; the jobs queue runs it.
    await tick(DAILY);
    await eventually(async () => (await getMessage(ws.key, old)).body === "");
    expect(await countRows("message_events", "message_id = ?", old)).toBe(0);
    expect((await getMessage(ws.key, recent)).body).toBe("fresh news");
    expect(
      await countRows("audit_log", "workspace_id = ? AND action = 'retention.purged'", ws.account.workspaceId),
    ).toBe(1);
    // A second run finds nothing more to purge and writes no second entry.
    const again = await runRetentionJob(env, { kind: "retention", workspaceId: ws.account.workspaceId }, Date.now());
    expect(again).toMatchObject({ messages: 0, events: 0, more: false });
    expect(
      await countRows("audit_log", "workspace_id = ? AND action = 'retention.purged'", ws.account.workspaceId),
    ).toBe(1);
  });

  it("a large purge runs in bounded jobs that continue themselves until nothing past retention is left", async () => {
    const ws = await textingWorkspace();
    await call("PATCH", "/api/workspace", ws.account, { body: { retentionDays: 30 } });
    const first = await pendingMessage(ws, "the thread's first");
    const conversationId = (await getMessage(ws.key, first)).conversationId;
    const longAgo = Date.now() - 40 * 86_400_000;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 699)
       INSERT INTO messages (id, workspace_id, conversation_id, seq, direction, from_number, to_number, body, status,
         segments, encoding, created_at, updated_at)
       SELECT 'msg_bulk_' || ?1 || '_' || i, ?2, ?1, 1000 + i, 'inbound', ?3, ?4, 'old words ' || i, 'received', 1,
         'GSM-7', ?5, ?5 FROM n`,
    )
      .bind(conversationId, ws.account.workspaceId, ws.customer, ws.from, longAgo)
      .run();
    const job = { kind: "retention" as const, workspaceId: ws.account.workspaceId };
    // One job erases at most 600 (3 batches of 200) and says there is more; it re-enqueues itself.
    expect(await runRetentionJob(env, job, Date.now())).toMatchObject({ messages: 600, more: true });
    await eventually(
      async () => (await countRows("messages", "conversation_id = ? AND body != ''", conversationId)) === 1,
    );
    expect(await countRows("messages", "conversation_id = ?", conversationId)).toBe(701);
  });

  it("erases purged messages from the room's resume log too: a resume from before the purge gets reset", async () => {
    const ws = await textingWorkspace();
    await call("PATCH", "/api/workspace", ws.account, { body: { retentionDays: 30 } });
    const old = await pendingMessage(ws, "ancient secret");
    await pendingMessage(ws, "fresh news");
    const conversationId = (await getMessage(ws.key, old)).conversationId;
    const room = roomFor(env, conversationId);
    expect(JSON.stringify(await room.eventsAfter(0))).toContain("ancient secret");
    const longAgo = Date.now() - 31 * 86_400_000;
    await env.DB.prepare("UPDATE messages SET created_at = ?, status = 'delivered' WHERE id = ?")
      .bind(longAgo, old)
      .run();
    await runRetentionJob(env, { kind: "retention", workspaceId: ws.account.workspaceId }, Date.now());
    const logged = await runInDurableObject(room, (_r, state) =>
      state.storage.sql.exec<{ frame: string }>("SELECT frame FROM events").toArray(),
    );
    expect(JSON.stringify(logged)).not.toContain("ancient secret");
    expect(await room.eventsAfter(0)).toBeNull();
    const socket = await openSocket(`/api/conversations/${conversationId}/ws`, { key: ws.key });
    await socket.next((f) => f.type === "hello");
    socket.send({ type: "resume", afterSeq: 0 });
    await socket.next((f) => f.type === "reset");
    expect(socket.frames.some((f) => JSON.stringify(f).includes("ancient secret"))).toBe(false);
  });

  it("never touches scheduled or pending messages, however old: they go out with their text", async () => {
    const ws = await textingWorkspace();
    await call("PATCH", "/api/workspace", ws.account, { body: { retentionDays: 1 } });
    const conv = (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json;
    const scheduled = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "see you on the 1st", sendAt: new Date(Date.now() + 30 * 86_400_000).toISOString() } },
    );
    const pending = await pendingMessage(ws, "still on its way");
    const longAgo = Date.now() - 3 * 86_400_000;
    for (const id of [scheduled.json.id, pending]) {
      await env.DB.prepare("UPDATE messages SET created_at = ? WHERE id = ?").bind(longAgo, id).run();
      await env.DB.prepare("UPDATE message_events SET at = ? WHERE message_id = ?").bind(longAgo, id).run();
    }
    await runRetentionJob(env, { kind: "retention", workspaceId: ws.account.workspaceId }, Date.now());
    expect((await getMessage(ws.key, scheduled.json.id)).body).toBe("see you on the 1st");
    expect((await getMessage(ws.key, pending)).body).toBe("still on its way");
    expect(await countRows("message_events", "message_id = ?", pending)).toBe(1);
  });

  it("refuses retention values out of range, and agents cannot change it", async () => {
    const ws = await textingWorkspace();
    for (const retentionDays of [0, -1, 3651, 1.5, "30"]) {
      const res = await call("PATCH", "/api/workspace", ws.account, { body: { retentionDays } });
      expect(res.status).toBe(422);
      expect(res.json.error.details.fields[0].path).toBe("retentionDays");
    }
    expect((await call("PATCH", "/api/workspace", ws.account, { body: { retentionDays: null } })).status).toBe(200);
  });
});
