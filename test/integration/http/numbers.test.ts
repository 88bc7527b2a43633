import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, randomUsNumber, signup } from "../../helpers/api";
import { countRows } from "../../helpers/db";
import { getMessage, pendingMessage, textingWorkspace } from "../../helpers/pipeline";
import { control, deliver, inboundText } from "../../helpers/twilio";

const base = env.PUBLIC_BASE_URL;

async function twilioNumber(phoneNumber: string) {
  const { numbers } = await control<{ numbers: { phoneNumber: string; smsUrl: string | null }[] }>("/numbers");
  return numbers.find((n) => n.phoneNumber === phoneNumber) as
    | { smsUrl: string | null; smsFallbackUrl: string | null; statusCallback: string | null }
    | undefined;
}

describe("a number belongs to whoever owns it at Twilio", () => {
  it("refuses a number the Twilio account lacks with 422 number_not_in_account, storing nothing", async () => {
    const a = await signup();
    const notOurs = "+12125550147";
    const res = await call("POST", "/api/numbers", a, { body: { phoneNumber: notOurs } });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("number_not_in_account");
    expect(await countRows("numbers", "phone_number = ?", notOurs)).toBe(0);
    // Released at Twilio: the same.
    const released = randomUsNumber();
    await control("/numbers", { phoneNumber: released, owned: false });
    expect((await call("POST", "/api/numbers", a, { body: { phoneNumber: released } })).json.error.code).toBe(
      "number_not_in_account",
    );
  });

  it("points the number's SmsUrl, SmsFallbackUrl (the same idempotent route) and StatusCallback at PUBLIC_BASE_URL", async () => {
    const ws = await textingWorkspace();
    expect(await twilioNumber(ws.from)).toMatchObject({
      smsUrl: `${base}/webhooks/twilio/inbound`,
      smsFallbackUrl: `${base}/webhooks/twilio/inbound`,
      statusCallback: `${base}/webhooks/twilio/status`,
    });
    // Twilio retrying a text at the fallback URL stores it once.
    const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "hello twice", times: 2 });
    for (const req of held) expect((await deliver(req)).status).toBe(200);
    expect(await countRows("messages", "to_number = ? AND direction = 'inbound'", ws.from)).toBe(1);
  });

  it("a number registered in one workspace answers 409 in another, without naming the holder or touching its webhooks", async () => {
    const a = await signup({ workspaceName: "Holder Inc" });
    const b = await signup();
    const phoneNumber = randomUsNumber();
    expect((await call("POST", "/api/numbers", a, { body: { phoneNumber } })).status).toBe(201);
    await control("/numbers", { phoneNumber, owned: true });
    const before = await twilioNumber(phoneNumber);
    const dup = await call("POST", "/api/numbers", b, { body: { phoneNumber } });
    expect(dup.status).toBe(409);
    expect(dup.text).not.toContain("Holder Inc");
    expect(dup.text).not.toContain(a.workspaceId);
    expect(await twilioNumber(phoneNumber)).toEqual(before);
  });
});

describe("removing a number stops it", () => {
  it("answers 409 naming how many messages still wait to go out from it; ?cancel=true cancels each (a canceled event)", async () => {
    const ws = await textingWorkspace();
    const pending = await pendingMessage(ws, "not yet sent");
    const conv = (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json;
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "later", sendAt: later } },
    );
    const numbers = (await call("GET", "/api/numbers", ws.account)).json.items;
    const refused = await call("DELETE", `/api/numbers/${numbers[0].id}`, ws.account);
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: "number_in_use", details: { waiting: 2 } });
    expect(refused.json.error.message).toMatch(/2 message/);
    const removed = await call("DELETE", `/api/numbers/${numbers[0].id}?cancel=true`, ws.account);
    expect(removed.status).toBe(204);
    for (const id of [pending, scheduled.json.id]) {
      const msg = await getMessage(ws.key, id);
      expect(msg.status).toBe("canceled");
      expect(msg.events.at(-1)).toMatchObject({ status: "canceled", applied: true });
    }
    const audit = await env.DB.prepare(
      "SELECT action, data FROM audit_log WHERE workspace_id = ? AND action = 'number.removed'",
    )
      .bind(ws.account.workspaceId)
      .first<{ data: string }>();
    expect(JSON.parse(audit?.data ?? "{}")).toMatchObject({ phoneNumber: ws.from, canceled: 2 });
  });

  it("a conversation whose sender was removed keeps its history and answers 422 sender_removed until moved to another number", async () => {
    const ws = await textingWorkspace();
    const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "hi there" });
    for (const req of held) await deliver(req);
    const conv = (await call("GET", "/api/conversations", { key: ws.key })).json.items[0];
    const numbers = (await call("GET", "/api/numbers", ws.account)).json.items;
    expect((await call("DELETE", `/api/numbers/${numbers[0].id}`, ws.account)).status).toBe(204);

    const thread = await call("GET", `/api/conversations/${conv.id}/messages`, { key: ws.key });
    expect(thread.json.items.map((m: { body: string }) => m.body)).toEqual(["hi there"]);
    const send = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "yo" } },
    );
    expect(send.status).toBe(422);
    expect(send.json.error).toMatchObject({ code: "sender_removed", details: { from: ws.from } });

    const unknown = await call("PATCH", `/api/conversations/${conv.id}`, { key: ws.key }, { body: { from: ws.from } });
    expect(unknown.status).toBe(422);
    const other = randomUsNumber();
    expect((await call("POST", "/api/numbers", ws.account, { body: { phoneNumber: other } })).status).toBe(201);
    const moved = await call("PATCH", `/api/conversations/${conv.id}`, { key: ws.key }, { body: { from: other } });
    expect(moved.status).toBe(200);
    expect(moved.json.from).toBe(other);
    const sent = await call(
      "POST",
      `/api/conversations/${conv.id}/messages`,
      { key: ws.key },
      { body: { body: "yo" } },
    );
    expect(sent.status).toBe(202);
    expect(sent.json.from).toBe(other);
  });

  it("inbound to a removed number never reaches the old workspace; when another workspace registers it, old threads stay and new texts start there", async () => {
    const ws = await textingWorkspace();
    const first = await inboundText({ from: ws.customer, to: ws.from, body: "before" });
    for (const req of first.held) await deliver(req);
    const numbers = (await call("GET", "/api/numbers", ws.account)).json.items;
    expect((await call("DELETE", `/api/numbers/${numbers[0].id}`, ws.account)).status).toBe(204);

    const orphan = await inboundText({ from: ws.customer, to: ws.from, body: "while unowned" });
    for (const req of orphan.held) expect((await deliver(req)).status).toBe(200);
    expect(await countRows("messages", "workspace_id = ? AND body = 'while unowned'", ws.account.workspaceId)).toBe(0);

    const next = await signup();
    expect((await call("POST", "/api/numbers", next, { body: { phoneNumber: ws.from } })).status).toBe(201);
    const after = await inboundText({ from: ws.customer, to: ws.from, body: "after" });
    for (const req of after.held) await deliver(req);
    const oldThreads = (await call("GET", "/api/conversations", { key: ws.key })).json.items;
    expect(oldThreads).toHaveLength(1);
    expect(oldThreads[0].lastMessage.body).toBe("before");
    const newThreads = (await call("GET", "/api/conversations", next)).json.items;
    expect(newThreads).toHaveLength(1);
    expect(newThreads[0].lastMessage.body).toBe("after");
    expect(newThreads[0].id).not.toBe(oldThreads[0].id);
  });
});
