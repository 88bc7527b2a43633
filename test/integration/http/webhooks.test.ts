/**
 * Integration webhooks: events reach a real receiving server (the emulator's /_hooks), signed per
 * Standard Webhooks and checked there with the official library (not Parley's code); failures retry
 * with backoff and show in the delivery log; redelivery keeps the webhook-id; 24 hours of failures
 * disable the endpoint with a notification; tenant-safe and admin-only.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { evaluateAlerts } from "../../../src/messaging/alerts";
import { attemptDelivery } from "../../../src/messaging/events";
import { call, createKey, signup } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { textingWorkspace } from "../../helpers/pipeline";
import { control, deliver, EMULATOR_URL, eventually, inboundText } from "../../helpers/twilio";

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");

async function receiver(status = 200) {
  const name = `hook-${hex(8)}`;
  return { name, url: `${EMULATOR_URL}/_hooks/${name}`, status };
}

async function received(name: string) {
  return (await control<{ received: any[] }>(`/hooks/${name}`)).received;
}

describe("integration webhooks", () => {
  it("delivers message events signed per Standard Webhooks, verified by an independent implementation", async () => {
    const ws = await textingWorkspace();
    const r = await receiver();
    const created = await call(
      "POST",
      "/api/webhooks",
      { key: ws.key },
      {
        body: { url: r.url, events: ["message.received", "message.status"] },
      },
    );
    expect(created.status).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_/);
    await control("/hooks", { name: r.name, secret: created.json.secret });
    expect((await call("GET", "/api/webhooks", { key: ws.key })).text).not.toContain(created.json.secret);

    const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "Is my order ready?" });
    for (const req of held) await deliver(req);
    const got = await eventually(
      async () => {
        const list = await received(r.name);
        return list.find((x) => JSON.parse(x.body).type === "message.received");
      },
      20_000,
      "message.received at the receiver",
    );
    expect(got.verified).toBe(true);
    const event = JSON.parse(got.body);
    expect(event).toMatchObject({
      type: "message.received",
      data: { message: { body: "Is my order ready?", direction: "inbound" } },
    });
    expect(got.id).toMatch(/^evt_/);

    // Sending emits status events as the message moves: first the queue consumer's verdict (its batch
    // write; Twilio's callbacks are held here). Nobody has the room open, so the consumer emits it
    // itself (a room someone has open announces it with the frame).
    const sent = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "Yes, ready" } },
    );
    const status = await eventually(
      async () => {
        const list = await received(r.name);
        return list.find((x) => JSON.parse(x.body).type === "message.status");
      },
      20_000,
      "message.status at the receiver",
    );
    expect(status.verified).toBe(true);
    expect(JSON.parse(status.body).data).toMatchObject({
      messageId: sent.json.id,
      conversationId: sent.json.conversationId,
      status: "queued",
      errorCode: null,
    });

    const log = await call("GET", `/api/webhooks/${created.json.id}/deliveries`, { key: ws.key });
    expect(log.json.items.length).toBeGreaterThanOrEqual(2);
    expect(
      log.json.items.every(
        (d: { status: string; lastStatusCode: number }) => d.status !== "succeeded" || d.lastStatusCode === 200,
      ),
    ).toBe(true);
  });

  it("sends only the events an endpoint asked for", async () => {
    const ws = await textingWorkspace();
    const r = await receiver();
    const created = await call(
      "POST",
      "/api/webhooks",
      { key: ws.key },
      { body: { url: r.url, events: ["contact.opted_out"] } },
    );
    await control("/hooks", { name: r.name, secret: created.json.secret });
    for (const req of (await inboundText({ from: ws.customer, to: ws.from, body: "hello" })).held) await deliver(req);
    for (const req of (await inboundText({ from: ws.customer, to: ws.from, body: "STOP" })).held) await deliver(req);
    const optedOut = await eventually(async () =>
      (await received(r.name)).find((x) => JSON.parse(x.body).type === "contact.opted_out"),
    );
    expect(JSON.parse(optedOut.body).data.phone).toBe(ws.customer);
    expect((await received(r.name)).every((x) => JSON.parse(x.body).type === "contact.opted_out")).toBe(true);
  });

  it("retries a failing endpoint with backoff, logs the response code, and redelivers with the same webhook-id", async () => {
    const ws = await textingWorkspace();
    const r = await receiver();
    const created = await call(
      "POST",
      "/api/webhooks",
      { key: ws.key },
      { body: { url: r.url, events: ["message.received"] } },
    );
    await control("/hooks", { name: r.name, secret: created.json.secret, status: 500 });
    for (const req of (await inboundText({ from: ws.customer, to: ws.from, body: "are you there" })).held)
      await deliver(req);
    const failing = await eventually(
      async () => {
        const items = (await call("GET", `/api/webhooks/${created.json.id}/deliveries`, { key: ws.key })).json.items;
        return items.find((d: { status: string }) => d.status === "retrying");
      },
      20_000,
      "a retrying delivery",
    );
    expect(failing).toMatchObject({ attempts: 1, lastStatusCode: 500, lastError: "HTTP 500" });
    expect(Date.parse(failing.nextAttemptAt) - Date.now()).toBeGreaterThan(0);
    const endpoint = (await call("GET", "/api/webhooks", { key: ws.key })).json.items[0];
    expect(endpoint.failingSince).not.toBeNull();

    await control("/hooks", { name: r.name, secret: created.json.secret, status: 200 });
    const again = await call("POST", `/api/webhooks/${created.json.id}/deliveries/${failing.id}/redeliver`, {
      key: ws.key,
    });
    expect(again.status).toBe(202);
    const ok = await eventually(
      async () => {
        const items = (await call("GET", `/api/webhooks/${created.json.id}/deliveries`, { key: ws.key })).json.items;
        return items.find((d: { id: string; status: string }) => d.id === failing.id && d.status === "succeeded");
      },
      20_000,
      "the redelivery",
    );
    expect(ok.lastStatusCode).toBe(200);
    const got = await received(r.name);
    expect(new Set(got.map((x) => x.id)).size).toBe(1);
    expect(got.at(-1).verified).toBe(true);
    expect((await call("GET", "/api/webhooks", { key: ws.key })).json.items[0].failingSince).toBeNull();
  });

  it("disables an endpoint after 24 hours of failures, tells the admins, audits it and opens an alert", async () => {
    const ws = await textingWorkspace();
    const r = await receiver();
    const created = await call("POST", "/api/webhooks", { key: ws.key }, { body: { url: r.url, events: ["*"] } });
    await control("/hooks", { name: r.name, secret: created.json.secret, status: 503 });
    const day = 24 * 3_600_000;
    const deliveryId = `whd_test${hex(12)}`;
    await env.DB.batch([
      env.DB.prepare("UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?").bind(
        Date.now() - day - 60_000,
        created.json.id,
      ),
      env.DB.prepare(
        `INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, event_type, payload, status, attempts, created_at)
         VALUES (?, ?, ?, ?, 'message.received', '{"type":"message.received","data":{}}', 'retrying', 8, ?)`,
      ).bind(deliveryId, ws.account.workspaceId, created.json.id, `evt_test${hex(12)}`, Date.now() - day - 60_000),
    ]);
    expect(await attemptDelivery(env, deliveryId)).toEqual({ retryInSeconds: null });
    const endpoint = (await call("GET", "/api/webhooks", { key: ws.key })).json.items[0];
    expect(endpoint.enabled).toBe(false);
    expect(endpoint.disabledReason).toMatch(/24 hours/);
    const note = (await call("GET", "/api/notifications", ws.account)).json.items;
    expect(note.map((n: { type: string }) => n.type)).toContain("webhook_disabled");
    const audit = (await call("GET", "/api/audit?action=webhook.disabled", ws.account)).json.items;
    expect(audit).toHaveLength(1);
    // An alert opens at once, and the minute's check keeps it open (one, not a second) while it stays disabled.
    const openAlerts = async () =>
      (await call("GET", "/api/alerts", { key: ws.key })).json.items.filter(
        (a: { kind: string }) => a.kind === "webhook_disabled",
      );
    expect(await openAlerts()).toMatchObject([
      { subject: created.json.id, status: "open", details: { endpointId: created.json.id, url: r.url } },
    ]);
    await evaluateAlerts(env, Date.now());
    expect(await openAlerts()).toHaveLength(1);
    // Enabled again by an admin, it gets events again, and the alert resolves.
    const back = await call("PATCH", `/api/webhooks/${created.json.id}`, { key: ws.key }, { body: { enabled: true } });
    expect(back.json).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
    await evaluateAlerts(env, Date.now());
    expect(await openAlerts()).toEqual([]);
    const all = (await call("GET", "/api/alerts?status=all", { key: ws.key })).json.items;
    expect(all.filter((a: { kind: string }) => a.kind === "webhook_disabled")).toMatchObject([{ status: "resolved" }]);
  });

  it("is admin-only and tenant-safe, and refuses plain-http URLs", async () => {
    const a = await signup();
    const aKey = await createKey(a);
    const b = await signup();
    const bKey = await createKey(b);
    const created = await call(
      "POST",
      "/api/webhooks",
      { key: aKey },
      { body: { url: "https://example.com/hook", events: ["*"] } },
    );
    expect(created.status).toBe(201);
    const id = created.json.id;
    expect((await call("PATCH", `/api/webhooks/${id}`, { key: bKey }, { body: { enabled: false } })).status).toBe(404);
    expect((await call("DELETE", `/api/webhooks/${id}`, { key: bKey })).status).toBe(404);
    expect((await call("GET", `/api/webhooks/${id}/deliveries`, { key: bKey })).status).toBe(404);
    expect((await call("POST", `/api/webhooks/${id}/deliveries/whd_x/redeliver`, { key: bKey })).status).toBe(404);
    expect((await call("GET", "/api/webhooks", { key: bKey })).json.items).toEqual([]);
    const agent = await addMember(a.workspaceId, "agent");
    expect((await call("GET", "/api/webhooks", agent)).status).toBe(403);
    const http = await call(
      "POST",
      "/api/webhooks",
      { key: aKey },
      { body: { url: "http://example.com/hook", events: ["*"] } },
    );
    expect(http.status).toBe(422);
    expect((await call("GET", "/api/audit?action=webhook.created", a)).json.items).toHaveLength(1);
  });
});
