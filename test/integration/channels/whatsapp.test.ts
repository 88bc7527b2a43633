/**
 * WhatsApp through Twilio: `whatsapp:` addresses on both sides, one contact with the SMS thread,
 * the 24-hour customer-service window (free-form inside it, approved templates outside), Twilio's
 * window error explained, and `read` receipts.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createKey, randomUsNumber, signup } from "../../helpers/api";
import { control, deliver, emulatorMessages, eventually, inboundText, takeHeld } from "../../helpers/twilio";

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");

async function whatsappWorkspace() {
  const account = await signup();
  const key = await createKey(account);
  const phone = randomUsNumber();
  const sms = await call("POST", "/api/inboxes", { key }, { body: { channel: "sms", name: "SMS", address: phone } });
  const wa = await call(
    "POST",
    "/api/inboxes",
    { key },
    { body: { channel: "whatsapp", name: "WhatsApp", address: phone } },
  );
  expect(wa.status).toBe(201);
  return { account, key, sms: sms.json.address as string, wa: wa.json.address as string, customer: randomUsNumber() };
}

async function customerWrites(ws: Awaited<ReturnType<typeof whatsappWorkspace>>, body: string) {
  const { held } = await inboundText({ from: `whatsapp:${ws.customer}`, to: ws.wa, body });
  for (const req of held) expect((await deliver(req)).status).toBe(200);
  const conv = await env.DB.prepare(
    "SELECT c.id, c.channel, c.customer_address AS customerAddress, c.contact_id AS contactId FROM conversations c WHERE c.workspace_id = ? AND c.from_number = ?",
  )
    .bind(ws.account.workspaceId, ws.wa)
    .first<{ id: string; channel: string; customerAddress: string; contactId: string }>();
  if (!conv) throw new Error("no WhatsApp conversation");
  return conv;
}

describe("WhatsApp", () => {
  it("threads a customer's WhatsApp message to the same contact as their texts, and replies on WhatsApp inside the window", async () => {
    const ws = await whatsappWorkspace();
    const sms = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, from: ws.sms, body: "by text" } },
    );
    const conv = await customerWrites(ws, "hola por WhatsApp");
    expect(conv).toMatchObject({ channel: "whatsapp", customerAddress: `whatsapp:${ws.customer}` });
    const smsConv = (await call("GET", `/api/conversations/${sms.json.conversationId}`, { key: ws.key })).json;
    expect(conv.contactId).toBe(smsConv.contact.id);
    const thread = (await call("GET", `/api/conversations/${conv.id}/messages`, { key: ws.key })).json.items;
    expect(thread[0]).toMatchObject({ channel: "whatsapp", from: `whatsapp:${ws.customer}`, to: ws.wa });

    const reply = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "¡Hola! ¿En qué te ayudo?" } },
    );
    expect(reply.status).toBe(202);
    expect(reply.json).toMatchObject({ channel: "whatsapp", from: ws.wa, to: `whatsapp:${ws.customer}`, segments: 1 });
    const waPhone = `whatsapp:${ws.customer}`;
    await eventually(async () => (await emulatorMessages(waPhone)).some((m) => m.direction === "outbound-api"));
    // Sent, delivered, then read: the thread shows it read.
    const read = await eventually(
      async () => {
        for (const req of await takeHeld(waPhone)) await deliver(req);
        const msg = (await call("GET", `/api/messages/${reply.json.id}`, { key: ws.key })).json;
        return msg.status === "read" ? msg : undefined;
      },
      20_000,
      "read receipt",
    );
    expect(read.events.map((e: { status: string }) => e.status)).toEqual(expect.arrayContaining(["delivered", "read"]));
  });

  it("outside the 24-hour window refuses free-form text with the reason, and sends an approved template", async () => {
    const ws = await whatsappWorkspace();
    const conv = await customerWrites(ws, "hi");
    // The customer's last message was 25 hours ago.
    const old = Date.now() - 25 * 3_600_000;
    await env.DB.prepare("UPDATE conversations SET last_inbound_at = ? WHERE id = ?").bind(old, conv.id).run();
    await control("/whatsapp/window", { customer: `whatsapp:${ws.customer}`, business: ws.wa, lastInboundAt: old });
    const refused = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "Are you there?" } },
    );
    expect(refused.status).toBe(422);
    expect(refused.json.error.code).toBe("session_window_closed");
    expect(refused.json.error.message).toContain("24-hour window");
    expect(refused.json.error.details.windowClosedAt).toBe(new Date(old + 24 * 3_600_000).toISOString());

    const contentSid = `HX${hex(32)}`;
    await control("/whatsapp/templates", { contentSid, body: "Hi {{1}}, your order is ready." });
    const tpl = await call(
      "POST",
      "/api/templates",
      { key: ws.key },
      { body: { name: `Order ready ${hex(4)}`, body: "Hi {{1}}, your order is ready.", contentSid } },
    );
    expect(tpl.status).toBe(201);
    const sent = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { templateId: tpl.json.id, variables: { "1": "Ana" } } },
    );
    expect(sent.status).toBe(202);
    expect(sent.json.body).toBe("Hi Ana, your order is ready.");
    const atTwilio = await eventually(async () =>
      (await emulatorMessages(`whatsapp:${ws.customer}`)).find((m) => m.direction === "outbound-api"),
    );
    expect(atTwilio).toMatchObject({ content_sid: contentSid, body: "Hi Ana, your order is ready." });
  });

  it("a first message to a customer who never wrote needs a template", async () => {
    const ws = await whatsappWorkspace();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: `whatsapp:${ws.customer}`, body: "hello" } },
    );
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("session_window_closed");
  });

  it("explains Twilio's window error (63016) in words when Twilio refuses a free-form message", async () => {
    const ws = await whatsappWorkspace();
    const conv = await customerWrites(ws, "hi");
    // Parley saw the customer's message, but at Twilio the window is closed (clocks, a missed message).
    await control("/whatsapp/window", { customer: `whatsapp:${ws.customer}`, business: ws.wa, lastInboundAt: null });
    const sent = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "late" } },
    );
    const failed = await eventually(async () => {
      for (const req of await takeHeld(`whatsapp:${ws.customer}`)) await deliver(req);
      const msg = (await call("GET", `/api/messages/${sent.json.id}`, { key: ws.key })).json;
      return msg.status === "failed" ? msg : undefined;
    });
    expect(failed.errorCode).toBe(63016);
    expect(failed.errorMessage).toMatch(/24-hour window is closed/);
  });
});
