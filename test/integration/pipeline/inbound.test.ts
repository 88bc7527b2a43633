import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../../src/index";
import { call, randomUsNumber } from "../../helpers/api";
import { countRows } from "../../helpers/db";
import { textingWorkspace } from "../../helpers/pipeline";
import { openSocket } from "../../helpers/sockets";
import { deliver, inboundText } from "../../helpers/twilio";

const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

async function contactOf(key: string, phone: string) {
  return (await call("GET", `/api/contacts?q=${encodeURIComponent(phone)}`, { key })).json.items[0];
}

describe("POST /webhooks/twilio/inbound", () => {
  it("stores a signed text in a new conversation and answers empty TwiML", async () => {
    const ws = await textingWorkspace();
    const { sid, held } = await inboundText({ from: ws.customer, to: ws.from, body: "Hi! Is the shop open?" });
    const res = await deliver(held[0]!);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/xml/);
    expect(res.text).toBe(EMPTY);
    const list = await call("GET", "/api/conversations", { key: ws.key });
    const conv = list.json.items[0];
    expect(conv).toMatchObject({ from: ws.from, contact: { phone: ws.customer }, unreadCount: 1 });
    expect(conv.lastMessage).toMatchObject({
      direction: "inbound",
      status: "received",
      body: "Hi! Is the shop open?",
      providerSid: sid,
      seq: 1,
    });
  });

  it("a customer who texts two workspaces lands in each one's own thread, and stays there (invariant 5)", async () => {
    const a = await textingWorkspace();
    const b = await textingWorkspace();
    const customer = a.customer;
    // B already has a contact and a thread with the same customer.
    const bConv = (await call("POST", "/api/conversations", { key: b.key }, { body: { phone: customer } })).json;
    for (const body of ["first to A", "second to A"]) {
      const { held } = await inboundText({ from: customer, to: a.from, body });
      expect((await deliver(held[0]!)).status).toBe(200);
    }
    const aList = (await call("GET", "/api/conversations", { key: a.key })).json.items;
    expect(aList).toHaveLength(1);
    const aThread = (await call("GET", `/api/conversations/${aList[0].id}/messages`, { key: a.key })).json.items;
    expect(aThread.map((m: { body: string }) => m.body)).toEqual(["first to A", "second to A"]);
    const bThread = (await call("GET", `/api/conversations/${bConv.id}/messages`, { key: b.key })).json.items;
    expect(bThread).toEqual([]);
    const { held } = await inboundText({ from: customer, to: b.from, body: "to B" });
    await deliver(held[0]!);
    const bAfter = (await call("GET", `/api/conversations/${bConv.id}/messages`, { key: b.key })).json.items;
    expect(bAfter.map((m: { body: string }) => m.body)).toEqual(["to B"]);
  });

  it("a text to an open thread (stored with its route, one round trip) reaches the room's clients as the message the API gives", async () => {
    const ws = await textingWorkspace();
    const first = await inboundText({ from: ws.customer, to: ws.from, body: "first" });
    await deliver(first.held[0]!);
    const [conversation] = (await call("GET", "/api/conversations", { key: ws.key })).json.items;
    const socket = await openSocket(`/api/conversations/${conversation.id}/ws`, { key: ws.key });
    await socket.next((f) => f.type === "hello");
    const next = await inboundText({ from: ws.customer, to: ws.from, body: "the second one" });
    const res = await deliver(next.held[0]!);
    expect(res.headers.get("Server-Timing")).toBe('d1;desc="round-trips=1 statements=4"');
    const frame = await socket.next((f) => f.type === "message" && f.message.body === "the second one");
    const thread = (await call("GET", `/api/conversations/${conversation.id}/messages`, { key: ws.key })).json.items;
    expect(frame.message).toEqual(thread.find((m: { id: string }) => m.id === frame.message.id));
    expect(frame.seq).toBe(frame.message.seq);
    socket.ws.close();
  });

  it("an inbound text delivered 3 times stores one message (invariant 2)", async () => {
    const ws = await textingWorkspace();
    const { sid, held } = await inboundText({ from: ws.customer, to: ws.from, body: "Only once", times: 3 });
    expect(held).toHaveLength(3);
    const results = await Promise.all(held.map((h) => deliver(h)));
    for (const r of results) expect(r.status).toBe(200);
    expect(await countRows("messages", "provider_sid = ?", sid)).toBe(1);
    expect(await countRows("message_events e JOIN messages m ON m.id = e.message_id", "m.provider_sid = ?", sid)).toBe(
      1,
    );
  });

  it("keeps media (NumMedia, MediaUrlN, MediaContentTypeN)", async () => {
    const ws = await textingWorkspace();
    const media = ["https://api.twilio.example/Media/ME1", "https://api.twilio.example/Media/ME2"];
    const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "", mediaUrls: media });
    await deliver(held[0]!);
    const conv = (await call("GET", "/api/conversations", { key: ws.key })).json.items[0];
    expect(conv.lastMessage.channel).toBe("mms");
    expect(conv.lastMessage.media).toEqual(media.map((url) => ({ url, contentType: "image/jpeg" })));
  });

  it("refuses a missing, wrong or stale signature with 403 and stores nothing (invariant 7)", async () => {
    const ws = await textingWorkspace();
    const { sid, held } = await inboundText({ from: ws.customer, to: ws.from, body: "forged?" });
    const req = held[0]!;
    expect((await deliver(req, { signature: null })).status).toBe(403);
    expect((await deliver(req, { signature: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" })).status).toBe(403);
    expect((await deliver(req, { body: req.body.replace("forged%3F", "changed") })).status).toBe(403);
    expect((await deliver({ ...req, url: `${req.url}?tenant=x` })).status).toBe(403);
    expect(await countRows("messages", "provider_sid = ?", sid)).toBe(0);
    expect(await countRows("contacts", "phone = ?", ws.customer)).toBe(0);
  });

  it("answers 200 empty TwiML for a number no workspace owns, storing nothing", async () => {
    const customer = randomUsNumber();
    const { sid, held } = await inboundText({ from: customer, to: randomUsNumber(), body: "hello?" });
    const res = await deliver(held[0]!);
    expect(res.status).toBe(200);
    expect(res.text).toBe(EMPTY);
    expect(await countRows("messages", "provider_sid = ?", sid)).toBe(0);
  });

  it("answers 400 to a signed form without the fields it needs, storing nothing", async () => {
    const ws = await textingWorkspace();
    const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "x" });
    // Re-sign a form that lacks MessageSid, as a broken integration would send it.
    const { computeSignature } = await import("../../../src/channels/twilio/signature");
    const params: [string, string][] = [
      ["From", ws.customer],
      ["To", ws.from],
      ["Body", "no sid"],
    ];
    const body = new URLSearchParams(params).toString();
    const signature = await computeSignature(env.TWILIO_AUTH_TOKEN, held[0]!.url, params);
    const res = await deliver({ ...held[0]!, body, signature });
    expect(res.status).toBe(400);
    expect(await countRows("contacts", "phone = ?", ws.customer)).toBe(0);
  });

  it("refuses non-form bodies with 415", async () => {
    const ws = await textingWorkspace();
    const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "x" });
    const { exports } = await import("cloudflare:workers");
    const res = await exports.default.fetch(
      new Request(held[0]!.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Twilio-Signature": held[0]!.signature },
        body: "{}",
      }),
    );
    expect(res.status).toBe(415);
  });

  describe("consent keywords (invariant 6)", () => {
    it("STOP opts out and the next send is refused; START opts back in and sending works again", async () => {
      const ws = await textingWorkspace();
      const stop = await inboundText({ from: ws.customer, to: ws.from, body: " stop " });
      expect((await deliver(stop.held[0]!)).text).toBe(EMPTY);
      expect((await contactOf(ws.key, ws.customer)).optedOut).toBe(true);
      const refused = await call(
        "POST",
        "/api/messages",
        { key: ws.key },
        { body: { to: ws.customer, body: "Sale!" } },
      );
      expect(refused.status).toBe(422);
      expect(refused.json.error.code).toBe("recipient_opted_out");
      expect(refused.json.error.message).toMatch(/START/);

      const start = await inboundText({ from: ws.customer, to: ws.from, body: "Start" });
      await deliver(start.held[0]!);
      expect((await contactOf(ws.key, ws.customer)).optedOut).toBe(false);
      const allowed = await call(
        "POST",
        "/api/messages",
        { key: ws.key },
        { body: { to: ws.customer, body: "Welcome back" } },
      );
      expect(allowed.status).toBe(202);
    });

    for (const word of ["STOPALL", "unsubscribe", "Cancel", "END", "quit", "REVOKE", "OptOut"]) {
      it(`${word} opts out`, async () => {
        const ws = await textingWorkspace();
        const { held } = await inboundText({ from: ws.customer, to: ws.from, body: word });
        await deliver(held[0]!);
        expect((await contactOf(ws.key, ws.customer)).optedOut).toBe(true);
      });
    }

    it("a sentence containing STOP is an ordinary message", async () => {
      const ws = await textingWorkspace();
      const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "please stop by tomorrow" });
      await deliver(held[0]!);
      expect((await contactOf(ws.key, ws.customer)).optedOut).toBe(false);
    });

    it("HELP answers with the workspace's help text as TwiML, escaped", async () => {
      const ws = await textingWorkspace();
      const { held } = await inboundText({ from: ws.customer, to: ws.from, body: "help" });
      const res = await deliver(held[0]!);
      expect(res.text).toBe(
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Reply STOP to unsubscribe. Msg&amp;data rates may apply.</Message></Response>',
      );
    });

    it("an opted-out contact gets no HELP reply", async () => {
      const ws = await textingWorkspace();
      await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "STOP" })).held[0]!);
      const res = await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "INFO" })).held[0]!);
      expect(res.text).toBe(EMPTY);
    });

    it("honours Advanced Opt-Out's OptOutType without a second reply", async () => {
      const ws = await textingWorkspace();
      const stop = await inboundText({ from: ws.customer, to: ws.from, body: "arrêt", optOutType: "STOP" });
      expect((await deliver(stop.held[0]!)).text).toBe(EMPTY);
      expect((await contactOf(ws.key, ws.customer)).optedOut).toBe(true);
      const help = await inboundText({ from: ws.customer, to: ws.from, body: "aide", optOutType: "HELP" });
      expect((await deliver(help.held[0]!)).text).toBe(EMPTY);
    });

    it("records consent changes in the audit log", async () => {
      const ws = await textingWorkspace();
      await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "STOP" })).held[0]!);
      // A second STOP changes nothing and writes no second entry; START is audited too.
      await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "stop" })).held[0]!);
      await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "START" })).held[0]!);
      expect(
        await countRows("audit_log", "workspace_id = ? AND action = 'contact.opted_out'", ws.account.workspaceId),
      ).toBe(1);
      expect(
        await countRows("audit_log", "workspace_id = ? AND action = 'contact.opted_in'", ws.account.workspaceId),
      ).toBe(1);
    });
  });

  describe("opt-out belongs to the phone number (invariant 6)", () => {
    it("deleting the contact and texting the number again is refused with 422 recipient_opted_out; a new contact starts opted out", async () => {
      const ws = await textingWorkspace();
      await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "STOP" })).held[0]!);
      const contact = await contactOf(ws.key, ws.customer);
      expect((await call("DELETE", `/api/contacts/${contact.id}`, ws.account)).status).toBe(204);
      const again = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "hi?" } });
      expect(again.status).toBe(422);
      expect(again.json.error.code).toBe("recipient_opted_out");
      expect(await contactOf(ws.key, ws.customer)).toBeUndefined();
      const recreated = await call("POST", "/api/contacts", ws.account, { body: { phone: ws.customer } });
      expect(recreated.json.optedOut).toBe(true);
      expect(await countRows("messages", "to_number = ? AND direction = 'outbound'", ws.customer)).toBe(0);
    });

    it("moving an opted-out contact to another phone lifts nothing for the old number and inherits the new number's consent", async () => {
      const ws = await textingWorkspace();
      await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "UNSUBSCRIBE" })).held[0]!);
      const contact = await contactOf(ws.key, ws.customer);
      const fresh = randomUsNumber();
      const moved = await call("PATCH", `/api/contacts/${contact.id}`, ws.account, { body: { phone: fresh } });
      expect(moved.json.optedOut).toBe(false);
      const old = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "back?" } });
      expect(old.json.error.code).toBe("recipient_opted_out");
      const moveBack = await call("PATCH", `/api/contacts/${contact.id}`, ws.account, { body: { phone: ws.customer } });
      expect(moveBack.json, moveBack.text).toMatchObject({ optedOut: true });
    });

    it("the suppression list records source, keyword and time; contact edits and deletes are audited with who did them", async () => {
      const ws = await textingWorkspace();
      await deliver((await inboundText({ from: ws.customer, to: ws.from, body: "Quit" })).held[0]!);
      const row = await env.DB.prepare(
        "SELECT source, keyword, reference, created_at FROM suppressions WHERE phone = ?",
      )
        .bind(ws.customer)
        .first<{ source: string; keyword: string; reference: string; created_at: number }>();
      expect(row).toMatchObject({ source: "keyword", keyword: "QUIT", reference: expect.stringMatching(/^SM/) });
      expect(row?.created_at).toBeGreaterThan(Date.now() - 60_000);
      const contact = await contactOf(ws.key, ws.customer);
      await call("PATCH", `/api/contacts/${contact.id}`, ws.account, { body: { name: "Quinn" } });
      await call("DELETE", `/api/contacts/${contact.id}`, { key: ws.key });
      const audits = await env.DB.prepare(
        "SELECT action, actor_type AS actorType, actor_id AS actorId FROM audit_log WHERE workspace_id = ? AND target_id = ? ORDER BY id",
      )
        .bind(ws.account.workspaceId, contact.id)
        .all();
      expect(audits.results).toEqual([
        { action: "contact.updated", actorType: "user", actorId: ws.account.userId },
        { action: "contact.deleted", actorType: "api_key", actorId: expect.stringMatching(/^key_/) },
      ]);
    });
  });

  describe("a deployment still on the local PUBLIC_BASE_URL", () => {
    it("refuses webhooks with 503 and a logged reason instead of failing every signature silently", async () => {
      const lines: string[] = [];
      vi.spyOn(console, "error").mockImplementation(
        (...args: unknown[]) => void lines.push(args.map(String).join(" ")),
      );
      try {
        const misconfigured = { ...env, PUBLIC_BASE_URL: "http://127.0.0.1:8787" };
        const res = await worker.fetch(
          new Request("https://parley.example.workers.dev/webhooks/twilio/inbound", {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x" },
            body: "MessageSid=SM00000000000000000000000000000000&From=%2B14155550100&To=%2B14155550101&Body=hi",
          }),
          misconfigured,
          createExecutionContext(),
        );
        expect(res.status).toBe(503);
        expect((await res.json()) as unknown).toMatchObject({ error: { code: "misconfigured" } });
        expect(lines.join("\n")).toMatch(/PUBLIC_BASE_URL is still the local default/);
      } finally {
        vi.restoreAllMocks();
      }
    });
  });

  describe("logs", () => {
    afterEach(() => vi.restoreAllMocks());
    it("mask phone numbers", async () => {
      const lines: string[] = [];
      for (const level of ["log", "warn", "error"] as const) {
        vi.spyOn(console, level).mockImplementation(
          (...args: unknown[]) => void lines.push(args.map(String).join(" ")),
        );
      }
      const customer = randomUsNumber();
      const to = randomUsNumber();
      await deliver((await inboundText({ from: customer, to, body: "anyone?" })).held[0]!);
      expect(lines.join("\n")).toContain("•••");
      for (const line of lines) {
        expect(line).not.toContain(customer);
        expect(line).not.toContain(to);
        // At most the last 4 digits: not even the area code.
        expect(line).not.toContain(to.slice(0, 5));
      }
    });
  });
});
