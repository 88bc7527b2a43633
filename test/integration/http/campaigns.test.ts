/**
 * Campaigns: audiences, the fan-out through the real jobs and bulk queues to the Twilio emulator, each
 * recipient texted at most once (redone chunks, redelivered ticks), opt-outs skipped, pause and cancel
 * within 2 s, conversations ahead of the campaign at a busy number, the opt-out-rate pause, replies
 * tagged, and the usual tenant and role checks.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runCampaignTick, startDueCampaigns } from "../../../src/messaging/campaigns";
import { addNumber, type Caller, call, randomUsNumber, signup } from "../../helpers/api";
import { addMember, countRows } from "../../helpers/db";
import { openSocket } from "../../helpers/sockets";
import { deliver, emulatorMessages, eventually, inboundText } from "../../helpers/twilio";

/** `n` contacts straight into D1 (fast), optionally labelled; returns their phones. */
async function seedContacts(workspaceId: string, n: number, opts: { labelId?: string; plan?: string } = {}) {
  const phones: string[] = [];
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < n; i++) {
    const id = `ct_s${crypto.randomUUID().replaceAll("-", "").slice(0, 18)}`;
    const phone = randomUsNumber();
    phones.push(phone);
    statements.push(
      env.DB.prepare("INSERT INTO contacts (id, workspace_id, phone, name, fields) VALUES (?, ?, ?, ?, ?)").bind(
        id,
        workspaceId,
        phone,
        `Person ${i}`,
        JSON.stringify(opts.plan ? { plan: opts.plan } : {}),
      ),
    );
    if (opts.labelId) {
      statements.push(
        env.DB.prepare("INSERT INTO contact_labels (contact_id, label_id, workspace_id) VALUES (?, ?, ?)").bind(
          id,
          opts.labelId,
          workspaceId,
        ),
      );
    }
  }
  for (let i = 0; i < statements.length; i += 200) await env.DB.batch(statements.slice(i, i + 200));
  return phones;
}

async function numberWithRate(owner: Caller, rate: number | null) {
  const number = await addNumber(owner);
  if (rate !== null) {
    const res = await call("PATCH", `/api/numbers/${number.id}`, owner, { body: { ratePerSecond: rate } });
    expect(res.status, res.text).toBe(200);
  }
  return number as { id: string; phoneNumber: string };
}

async function waitFor(owner: Caller, id: string, statuses: string[], ms = 25_000) {
  return eventually(
    async () => {
      const res = await call("GET", `/api/campaigns/${id}`, owner);
      return statuses.includes(res.json.status) ? res.json : undefined;
    },
    ms,
    `campaign ${id} to be ${statuses.join("/")}`,
  );
}

async function campaignMessages(campaignId: string) {
  const { results } = await env.DB.prepare(
    "SELECT id, to_number AS phone, from_number AS fromNumber, status, body FROM messages WHERE campaign_id = ?",
  )
    .bind(campaignId)
    .all<{ id: string; phone: string; fromNumber: string; status: string; body: string }>();
  return results;
}

describe("campaigns", () => {
  it("sends a template to a label's contacts over two numbers, once each, skipping opt-outs, and completes", async () => {
    const a = await signup();
    const inbox = await openSocket("/api/ws", a);
    const n1 = await numberWithRate(a, null);
    const n2 = await numberWithRate(a, null);
    const label = (await call("POST", "/api/labels", a, { body: { name: "VIP" } })).json;
    const phones = await seedContacts(a.workspaceId, 6, { labelId: label.id, plan: "pro" });
    await seedContacts(a.workspaceId, 3); // not in the audience
    await env.DB.prepare("INSERT INTO suppressions (workspace_id, phone, source) VALUES (?, ?, 'manual')")
      .bind(a.workspaceId, phones[0])
      .run();
    const template = (
      await call("POST", "/api/templates", a, {
        body: { name: "Hello", body: "Hi {{contact.firstName}}, on {{contact.fields.plan}}" },
      })
    ).json;

    const created = await call("POST", "/api/campaigns", a, {
      body: { name: "VIP news", audience: { labels: ["VIP"] }, templateId: template.id, from: [n1.id, n2.id] },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({
      status: "draft",
      counts: { audience: 6, sent: 0 },
      numberIds: [n1.id, n2.id],
    });

    const started = await call("POST", `/api/campaigns/${created.json.id}/start`, a);
    expect(started.status, started.text).toBe(200);
    expect(started.json.status).toBe("running");
    const done = await waitFor(a, created.json.id, ["completed"]);
    expect(done.counts).toMatchObject({ audience: 6, skippedOptOut: 1, queued: 0, failed: 0 });
    expect(done.counts.sent).toBe(5);
    expect(done.progress).toBe(1);

    const sent = await campaignMessages(created.json.id);
    expect(sent).toHaveLength(5);
    expect(new Set(sent.map((m) => m.phone)).size).toBe(5);
    expect(sent.map((m) => m.phone)).not.toContain(phones[0]);
    expect(sent.every((m) => m.body === "Hi Person, on pro")).toBe(true);
    // Spread over both numbers.
    expect(new Set(sent.map((m) => m.fromNumber))).toEqual(new Set([n1.phoneNumber, n2.phoneNumber]));
    for (const phone of phones.slice(1)) expect(await emulatorMessages(phone)).toHaveLength(1);
    expect(await emulatorMessages(phones[0]!)).toHaveLength(0);
    // Campaign threads start resolved (they do not fill the open inbox) and carry the campaign.
    const msg = (await call("GET", `/api/messages/${sent[0]!.id}`, a)).json;
    expect(msg).toMatchObject({ campaignId: created.json.id, sentBy: { type: "campaign", name: "VIP news" } });
    const conv = (await call("GET", `/api/conversations/${msg.conversationId}`, a)).json;
    expect(conv).toMatchObject({ status: "resolved", campaignId: created.json.id });
    const frame = await inbox.next((f) => f.type === "campaign" && f.campaign.status === "completed");
    expect(frame.campaign.id).toBe(created.json.id);
    expect(await countRows("audit_log", "target_id = ? AND action = 'campaign.completed'", created.json.id)).toBe(1);

    // A reply lands in the normal conversation, reopens it, and is tagged with the campaign.
    const { held } = await inboundText({ from: msg.to, to: msg.from, body: "Thanks!" });
    for (const req of held) expect((await deliver(req)).status).toBe(200);
    const reply = await eventually(async () => {
      const page = (await call("GET", `/api/conversations/${msg.conversationId}/messages`, a)).json;
      return page.items.find((m: { direction: string }) => m.direction === "inbound");
    });
    expect(reply.campaignId).toBe(created.json.id);
    // The campaign wrote the new thread's first message without its room; the room took over in order:
    // the campaign text is seq 1, its status changes and the reply follow with no gap or clash.
    const page = (await call("GET", `/api/conversations/${msg.conversationId}/messages`, a)).json.items;
    expect(page.map((m: { seq: number; direction: string }) => [m.seq, m.direction])).toEqual([
      [1, "outbound"],
      [reply.seq, "inbound"],
    ]);
    expect(reply.seq).toBeGreaterThan(1);
    expect(await countRows("message_events", "message_id = ?", sent[0]!.id)).toBeGreaterThanOrEqual(2);
    expect((await call("GET", `/api/conversations/${msg.conversationId}`, a)).json.status).toBe("open");
    expect((await call("GET", `/api/campaigns/${created.json.id}`, a)).json.counts.replied).toBe(1);
  });

  it("never texts a recipient twice when a chunk is redone or a tick is delivered again", async () => {
    const a = await signup();
    const n1 = await numberWithRate(a, null);
    await seedContacts(a.workspaceId, 30, { plan: "basic" });
    const created = (
      await call("POST", "/api/campaigns", a, {
        body: {
          name: "Twice?",
          audience: { filter: { fields: { plan: "basic" } } },
          body: "Once only, {{contact.firstName}}",
          from: n1.id,
        },
      })
    ).json;
    expect(created.counts.audience).toBe(30);
    expect((await call("POST", `/api/campaigns/${created.id}/start`, a)).status).toBe(200);
    const done = await waitFor(a, created.id, ["completed"]);
    expect(done.counts.sent).toBe(30);
    // A crash before the cursor moved, and the same tick delivered twice: the chunk is redone from the start.
    const row = await env.DB.prepare(
      "UPDATE campaigns SET status = 'running', cursor = NULL, fanned_out = 0, fanout_done = 0 WHERE id = ? RETURNING generation",
    )
      .bind(created.id)
      .first<{ generation: number }>();
    const tick = { kind: "campaign" as const, campaignId: created.id, generation: row!.generation };
    await Promise.all([runCampaignTick(env, tick), runCampaignTick(env, tick)]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await countRows("messages", "campaign_id = ?", created.id)).toBe(30);
    expect(await countRows("campaign_recipients", "campaign_id = ?", created.id)).toBe(30);
    const stored = await campaignMessages(created.id);
    // Placeholders work in a campaign's own text too.
    expect(stored.every((m) => m.body === "Once only, Person")).toBe(true);
    const phones = stored.map((m) => m.phone);
    for (const phone of phones) expect(await emulatorMessages(phone)).toHaveLength(1);
  });

  it("pause holds within 2 s; resume finishes with everyone texted once; cancel stops the rest", async () => {
    const a = await signup();
    const n1 = await numberWithRate(a, 4);
    await seedContacts(a.workspaceId, 24, { plan: "slow" });
    const created = (
      await call("POST", "/api/campaigns", a, {
        body: {
          name: "Slow one",
          audience: { filter: { fields: { plan: "slow" } } },
          body: "Paced hello",
          from: [n1.id],
        },
      })
    ).json;
    await call("POST", `/api/campaigns/${created.id}/start`, a);
    const sentSoFar = async () => (await emulatorMessages(n1.phoneNumber)).length;
    await eventually(async () => ((await sentSoFar()) >= 3 ? true : undefined), 15_000, "first sends");
    const paused = await call("POST", `/api/campaigns/${created.id}/pause`, a);
    expect(paused.status, paused.text).toBe(200);
    expect(paused.json.status).toBe("paused");
    const pausedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const arrivals = (await emulatorMessages(n1.phoneNumber)).map((m) => m.created_ms as number);
    expect(arrivals.filter((t) => t > pausedAt + 2000)).toEqual([]);
    expect(arrivals.length).toBeLessThan(24);
    // Pausing twice is a state error.
    expect((await call("POST", `/api/campaigns/${created.id}/pause`, a)).json.error.code).toBe("campaign_state");

    expect((await call("POST", `/api/campaigns/${created.id}/resume`, a)).json.status).toBe("running");
    const done = await waitFor(a, created.id, ["completed"], 30_000);
    expect(done.counts.sent).toBe(24);
    const all = await emulatorMessages(n1.phoneNumber);
    expect(all).toHaveLength(24);
    expect(new Set(all.map((m) => m.to)).size).toBe(24);
  }, 45_000);

  it("cancel stops a running campaign and cancels what has not gone", async () => {
    const a = await signup();
    const n1 = await numberWithRate(a, 2);
    await seedContacts(a.workspaceId, 20, { plan: "cancel" });
    const created = (
      await call("POST", "/api/campaigns", a, {
        body: { name: "Stop it", audience: { filter: { fields: { plan: "cancel" } } }, body: "Hello", from: n1.id },
      })
    ).json;
    await call("POST", `/api/campaigns/${created.id}/start`, a);
    await eventually(async () => ((await emulatorMessages(n1.phoneNumber)).length >= 1 ? true : undefined));
    const canceled = await call("POST", `/api/campaigns/${created.id}/cancel`, a);
    expect(canceled.json.status).toBe("canceled");
    const at = Date.now();
    const after = await eventually(async () => {
      const c = (await call("GET", `/api/campaigns/${created.id}`, a)).json;
      return c.counts.queued === 0 ? c : undefined;
    });
    await new Promise((r) => setTimeout(r, 2500));
    const arrivals = (await emulatorMessages(n1.phoneNumber)).map((m) => m.created_ms as number);
    expect(arrivals.filter((t) => t > at + 2000)).toEqual([]);
    expect(after.counts.canceled + after.counts.sent).toBe(20);
    expect(after.counts.canceled).toBeGreaterThan(0);
    expect((await call("POST", `/api/campaigns/${created.id}/resume`, a)).status).toBe(409);
  });

  it("a reply from a number a campaign keeps busy goes within 2 slots, ahead of 500 queued campaign messages", async () => {
    const a = await signup();
    const n1 = await numberWithRate(a, 5);
    await seedContacts(a.workspaceId, 500, { plan: "blast" });
    const created = (
      await call("POST", "/api/campaigns", a, {
        body: { name: "Blast", audience: { filter: { fields: { plan: "blast" } } }, body: "Big news", from: n1.id },
      })
    ).json;
    await call("POST", `/api/campaigns/${created.id}/start`, a);
    // Wait until the campaign has a backlog at the number and is sending.
    await eventually(
      async () => ((await emulatorMessages(n1.phoneNumber)).length >= 5 ? true : undefined),
      20_000,
      "the campaign to be sending",
    );
    const backlog = await countRows("messages", "campaign_id = ? AND status = 'pending'", created.id);
    expect(backlog).toBeGreaterThanOrEqual(40);
    const customer = randomUsNumber();
    const t0 = Date.now();
    const reply = await call("POST", "/api/messages", a, {
      body: { to: customer, body: "Agent reply", from: n1.phoneNumber },
    });
    expect(reply.status, reply.text).toBe(202);
    const replyArrival = await eventually(
      async () => (await emulatorMessages(customer))[0]?.created_ms as number | undefined,
    );
    const campaignBetween = (await emulatorMessages(n1.phoneNumber)).filter(
      (m) => m.to !== customer && m.created_ms > t0 && m.created_ms < replyArrival,
    );
    // The slot in progress, and at most one more (200 ms each at 5/s).
    expect(campaignBetween.length).toBeLessThanOrEqual(2);
    expect(replyArrival - t0).toBeLessThan(1500);
    await call("POST", `/api/campaigns/${created.id}/cancel`, a);
  }, 60_000);

  it("pauses itself when opt-outs pass the workspace's threshold, and tells the admins", async () => {
    const a = await signup();
    const admin = await addMember(a.workspaceId, "admin");
    const n1 = await numberWithRate(a, 10);
    const phones = await seedContacts(a.workspaceId, 100, { plan: "optout" });
    const created = (
      await call("POST", "/api/campaigns", a, {
        body: { name: "Too pushy", audience: { filter: { fields: { plan: "optout" } } }, body: "Buy now", from: n1.id },
      })
    ).json;
    await call("POST", `/api/campaigns/${created.id}/start`, a);
    // Three of the first recipients reply STOP.
    const early = await eventually(async () => {
      const got = await emulatorMessages(n1.phoneNumber);
      return got.length >= 5 ? got.slice(0, 3) : undefined;
    });
    for (const m of early) {
      const { held } = await inboundText({ from: m.to, to: n1.phoneNumber, body: "STOP" });
      for (const req of held) expect((await deliver(req)).status).toBe(200);
    }
    const paused = await waitFor(a, created.id, ["paused", "completed"]);
    expect(paused).toMatchObject({ status: "paused", pausedReason: "opt_out_rate" });
    expect(paused.counts.optedOut).toBe(3);
    expect(paused.counts.sent).toBeGreaterThanOrEqual(50);
    expect(phones.length).toBe(100);
    const feed = (await call("GET", "/api/notifications", admin)).json;
    expect(feed.items.some((n: { type: string }) => n.type === "campaign_paused")).toBe(true);
    expect(
      await countRows(
        "audit_log",
        "target_id = ? AND action = 'campaign.paused' AND actor_type = 'system'",
        created.id,
      ),
    ).toBe(1);
  }, 45_000);

  it("a scheduled campaign is started by the minute cron when its time comes, and a stalled one is revived", async () => {
    const a = await signup();
    const n1 = await numberWithRate(a, null);
    await seedContacts(a.workspaceId, 3, { plan: "later" });
    const sendAt = new Date(Date.now() + 120_000).toISOString();
    const created = (
      await call("POST", "/api/campaigns", a, {
        body: { name: "Later", audience: { filter: { fields: { plan: "later" } } }, body: "Hi", from: n1.id, sendAt },
      })
    ).json;
    expect((await call("POST", `/api/campaigns/${created.id}/start`, a)).json.status).toBe("scheduled");
    // Not due yet: the cron leaves it.
    expect(await startDueCampaigns(env, Date.now())).toMatchObject({ started: 0 });
    expect((await call("GET", `/api/campaigns/${created.id}`, a)).json.status).toBe("scheduled");
    expect(await startDueCampaigns(env, Date.now() + 180_000)).toMatchObject({ started: 1 });
    const done = await waitFor(a, created.id, ["completed"]);
    expect(done.counts.sent).toBe(3);

    // A running campaign whose tick chain died (no tick for a minute) gets a new chain, and finishes.
    await seedContacts(a.workspaceId, 2, { plan: "stalled" });
    const stalled = (
      await call("POST", "/api/campaigns", a, {
        body: { name: "Stalled", audience: { filter: { fields: { plan: "stalled" } } }, body: "Hi", from: n1.id },
      })
    ).json;
    await env.DB.prepare(
      "UPDATE campaigns SET status = 'running', started_at = ?2, ticked_at = ?3, audience_count = 2 WHERE id = ?1",
    )
      .bind(stalled.id, Date.now(), Date.now() - 120_000)
      .run();
    expect((await startDueCampaigns(env, Date.now())).revived).toBeGreaterThanOrEqual(1);
    expect((await waitFor(a, stalled.id, ["completed"])).counts.sent).toBe(2);
  });

  it("refuses bad input with clear 4xx and stores nothing", async () => {
    const a = await signup();
    const n1 = await numberWithRate(a, null);
    const bad = [
      [{ name: "x", audience: {}, body: "hi", from: n1.id }, 400],
      [{ name: "x", audience: { labels: ["nope"] }, body: "hi", from: n1.id }, 422],
      [{ name: "x", audience: { filter: {} }, from: n1.id }, 400],
      [{ name: "x", audience: { filter: {} }, body: "hi", templateId: "tpl_x", from: n1.id }, 400],
      [{ name: "x", audience: { filter: {} }, body: "hi", from: "num_other" }, 422],
      [{ name: "x", audience: { filter: {} }, templateId: "tpl_missing", from: n1.id }, 422],
      [{ name: "x", audience: { filter: {} }, body: "hi", from: n1.id, sendAt: "2020-01-01T00:00:00Z" }, 422],
    ] as const;
    for (const [body, status] of bad) {
      const res = await call("POST", "/api/campaigns", a, { body });
      expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect([status, 400, 422]).toContain(res.status);
    }
    expect(await countRows("campaigns", "workspace_id = ?", a.workspaceId)).toBe(0);
    // An empty audience cannot start.
    const empty = (
      await call("POST", "/api/campaigns", a, {
        body: { name: "Nobody", audience: { filter: { fields: { plan: "none" } } }, body: "hi", from: n1.id },
      })
    ).json;
    const start = await call("POST", `/api/campaigns/${empty.id}/start`, a);
    expect(start.status).toBe(422);
    expect(start.json.error.code).toBe("empty_audience");
    expect((await call("DELETE", `/api/campaigns/${empty.id}`, a)).status).toBe(204);
  });

  it("is tenant-safe (404 across workspaces) and only owners and admins control campaigns", async () => {
    const a = await signup();
    const b = await signup();
    const n1 = await numberWithRate(a, null);
    await seedContacts(a.workspaceId, 1, { plan: "x" });
    const created = (
      await call("POST", "/api/campaigns", a, {
        body: { name: "Mine", audience: { filter: { fields: { plan: "x" } } }, body: "hi", from: n1.id },
      })
    ).json;
    for (const [method, path] of [
      ["GET", `/api/campaigns/${created.id}`],
      ["POST", `/api/campaigns/${created.id}/start`],
      ["POST", `/api/campaigns/${created.id}/pause`],
      ["POST", `/api/campaigns/${created.id}/resume`],
      ["POST", `/api/campaigns/${created.id}/cancel`],
      ["DELETE", `/api/campaigns/${created.id}`],
    ] as const) {
      expect((await call(method, path, b)).status, `${method} ${path}`).toBe(404);
    }
    expect((await call("GET", "/api/campaigns", b)).json.items).toEqual([]);
    const agent = await addMember(a.workspaceId, "agent");
    expect((await call("POST", `/api/campaigns/${created.id}/start`, agent)).status).toBe(403);
    expect((await call("GET", `/api/campaigns/${created.id}`, agent)).status).toBe(200);
    expect(await countRows("audit_log", "target_id = ? AND action = 'campaign.created'", created.id)).toBe(1);
  });
});
