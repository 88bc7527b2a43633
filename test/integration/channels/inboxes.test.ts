/**
 * Inboxes: one channel and address each, optionally with their own Twilio account (credentials sealed,
 * never returned); webhooks of that account are checked with its own token, and nothing signed by one
 * account reaches another account's inbox.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { computeSignature } from "../../../src/channels/twilio/signature";
import { call, createKey, randomUsNumber, signup } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { control, deliver, emulatorMessages, eventually, inboundText, takeHeld } from "../../helpers/twilio";

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");

async function admin() {
  const account = await signup();
  return { account, key: await createKey(account) };
}

/** A second Twilio account at the emulator, owning one fresh number. */
async function ownAccount() {
  const accountSid = `AC${hex(32)}`;
  const authToken = `tok-${hex(24)}`;
  // A valid NANP number (the exchange never starts with 0 or 1).
  const number = `+1628${200 + Math.floor(Math.random() * 800)}${String(Math.floor(Math.random() * 1e4)).padStart(4, "0")}`;
  await control("/accounts", { accountSid, authToken, numbers: [number] });
  return { accountSid, authToken, number };
}

describe("inboxes", () => {
  it("adds SMS, WhatsApp and email inboxes, lists them, keeps /api/numbers to SMS, and audits", async () => {
    const { account, key } = await admin();
    const phone = randomUsNumber();
    const sms = await call(
      "POST",
      "/api/inboxes",
      { key },
      { body: { channel: "sms", name: "Front desk", address: phone } },
    );
    expect(sms.status).toBe(201);
    expect(sms.json).toMatchObject({ channel: "sms", name: "Front desk", address: phone, hasCredentials: false });
    expect(sms.json.webhooks.inbound).toBe("https://parley.test/webhooks/twilio/inbound");
    const wa = await call(
      "POST",
      "/api/inboxes",
      { key },
      { body: { channel: "whatsapp", name: "WA", address: phone } },
    );
    expect(wa.status).toBe(201);
    expect(wa.json.address).toBe(`whatsapp:${phone}`);
    expect(wa.json.capabilities).toMatchObject({ templates: true, sessionWindowHours: 24, readReceipts: true });
    const mail = await call(
      "POST",
      "/api/inboxes",
      { key },
      { body: { channel: "email", name: "Support", address: "Support@Acme.example" } },
    );
    expect(mail.status).toBe(201);
    expect(mail.json.address).toBe("support@acme.example");
    const list = await call("GET", "/api/inboxes", { key });
    expect(list.json.items.map((i: { channel: string }) => i.channel)).toEqual(["sms", "whatsapp", "email"]);
    const numbers = await call("GET", "/api/numbers", { key });
    expect(numbers.json.items.map((n: { phoneNumber: string }) => n.phoneNumber)).toEqual([phone]);
    const audit = await call("GET", "/api/audit?action=inbox.created", account);
    expect(audit.json.items.length).toBe(3);
  });

  it("refuses bad addresses, credentials of the wrong kind, and an address already taken", async () => {
    const { key } = await admin();
    const bad = await call("POST", "/api/inboxes", { key }, { body: { channel: "email", name: "x", address: "nope" } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.details.fields[0].path).toBe("address");
    const wrong = await call(
      "POST",
      "/api/inboxes",
      { key },
      {
        body: {
          channel: "email",
          name: "x",
          address: "a@b.example",
          credentials: { accountSid: `AC${hex(32)}`, authToken: "x".repeat(32) },
        },
      },
    );
    expect(wrong.status).toBe(422);
    const address = `dup-${hex(6)}@acme.example`;
    expect(
      (await call("POST", "/api/inboxes", { key }, { body: { channel: "email", name: "a", address } })).status,
    ).toBe(201);
    const other = await admin();
    const taken = await call(
      "POST",
      "/api/inboxes",
      { key: other.key },
      { body: { channel: "email", name: "b", address } },
    );
    expect(taken.status).toBe(409);
  });

  it("seals an inbox's own credentials: never returned, not readable in D1, replaced and removed by PATCH", async () => {
    const { key } = await admin();
    const own = await ownAccount();
    const res = await call(
      "POST",
      "/api/inboxes",
      { key },
      {
        body: {
          channel: "sms",
          name: "Own",
          address: own.number,
          credentials: { accountSid: own.accountSid, authToken: own.authToken },
        },
      },
    );
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ hasCredentials: true, accountSid: own.accountSid });
    expect(res.text).not.toContain(own.authToken);
    const row = await env.DB.prepare("SELECT credentials FROM numbers WHERE id = ?")
      .bind(res.json.id)
      .first<{ credentials: string }>();
    expect(row?.credentials).toMatch(/^v1\./);
    expect(row?.credentials).not.toContain(own.authToken);
    const list = await call("GET", "/api/inboxes", { key });
    expect(list.text).not.toContain(own.authToken);
    const removed = await call("PATCH", `/api/inboxes/${res.json.id}`, { key }, { body: { credentials: null } });
    expect(removed.json).toMatchObject({ hasCredentials: false, accountSid: null });
  });

  it("refuses credentials Twilio refuses (422 invalid_credentials), storing nothing", async () => {
    const { key } = await admin();
    const own = await ownAccount();
    const res = await call(
      "POST",
      "/api/inboxes",
      { key },
      {
        body: {
          channel: "sms",
          name: "Own",
          address: own.number,
          credentials: { accountSid: own.accountSid, authToken: "wrong-token-wrong-token" },
        },
      },
    );
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("invalid_credentials");
    expect((await call("GET", "/api/inboxes", { key })).json.items).toEqual([]);
  });

  it("sends with the inbox's own account, and takes its webhooks only when signed with that account's token", async () => {
    const { key } = await admin();
    const own = await ownAccount();
    const created = await call(
      "POST",
      "/api/inboxes",
      { key },
      {
        body: {
          channel: "sms",
          name: "Own",
          address: own.number,
          credentials: { accountSid: own.accountSid, authToken: own.authToken },
        },
      },
    );
    expect(created.status).toBe(201);
    const customer = randomUsNumber();
    const sent = await call(
      "POST",
      "/api/messages",
      { key },
      { body: { to: customer, from: own.number, body: "from my own account" } },
    );
    expect(sent.status).toBe(202);
    const [atTwilio] = await eventually(async () => {
      const m = await emulatorMessages(customer);
      return m.length > 0 ? m : undefined;
    });
    expect(atTwilio.account_sid).toBe(own.accountSid);
    // Its status callbacks are signed with the own account's token, and they apply.
    await eventually(async () => {
      for (const req of await takeHeld(customer)) expect((await deliver(req)).status).toBe(200);
      const msg = (await call("GET", `/api/messages/${sent.json.id}`, { key })).json;
      return msg.status === "delivered";
    });

    // An inbound text to the own number, signed by its account: stored.
    const { held } = await inboundText({ from: customer, to: own.number, body: "reply to own" });
    for (const req of held) expect((await deliver(req)).status).toBe(200);
    const thread = (await call("GET", `/api/conversations/${sent.json.conversationId}/messages`, { key })).json.items;
    expect(thread.map((m: { body: string }) => m.body)).toContain("reply to own");

    // The same text signed by the deployment's account (which does not own the number): nothing stored.
    const forged = await inboundText({ from: customer, to: own.number, body: "forged by the other account" });
    const params = new URLSearchParams(forged.held[0]?.body);
    params.set("AccountSid", "AC00000000000000000000000000000000");
    const url = forged.held[0]?.url ?? "";
    const signature = await computeSignature("test-auth-token-0123456789abcdef", url, [...params]);
    const forgedHeld = forged.held[0];
    if (!forgedHeld) throw new Error("nothing held");
    expect((await deliver({ ...forgedHeld, body: params.toString() }, { signature })).status).toBe(200);
    // Claiming the own account but signed with a wrong token: 403.
    const wrong = await inboundText({ from: customer, to: own.number, body: "wrong token" });
    const wrongHeld = wrong.held[0];
    if (!wrongHeld) throw new Error("nothing held");
    expect((await deliver(wrongHeld, { signature: "bm90LXRoZS1zaWduYXR1cmU=" })).status).toBe(403);
    const after = (await call("GET", `/api/conversations/${sent.json.conversationId}/messages`, { key })).json.items;
    expect(after.map((m: { body: string }) => m.body)).not.toContain("forged by the other account");
    expect(after.map((m: { body: string }) => m.body)).not.toContain("wrong token");
  });

  it("is tenant-safe and role-checked: another workspace's inbox is 404, agents cannot manage inboxes", async () => {
    const a = await admin();
    const b = await admin();
    const inbox = (
      await call(
        "POST",
        "/api/inboxes",
        { key: a.key },
        { body: { channel: "email", name: "A", address: `a-${hex(6)}@x.example` } },
      )
    ).json;
    expect((await call("PATCH", `/api/inboxes/${inbox.id}`, { key: b.key }, { body: { name: "mine" } })).status).toBe(
      404,
    );
    expect((await call("DELETE", `/api/inboxes/${inbox.id}`, { key: b.key })).status).toBe(404);
    const agent = await addMember(a.account.workspaceId, "agent");
    expect(
      (
        await call("POST", "/api/inboxes", agent, {
          body: { channel: "email", name: "x", address: `b-${hex(6)}@x.example` },
        })
      ).status,
    ).toBe(403);
    expect((await call("GET", "/api/inboxes", agent)).status).toBe(200);
    expect((await call("DELETE", `/api/inboxes/${inbox.id}`, { key: a.key })).status).toBe(204);
    expect((await call("GET", "/api/inboxes", { key: a.key })).json.items).toEqual([]);
  });
});
