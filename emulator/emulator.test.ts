/**
 * The emulator's own tests, in Node: its wire format is what the official twilio SDK expects, its
 * signatures validate with the SDK's validateRequest, and its fault injection does what it says.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SegmentedMessage } from "sms-segments-calculator";
import twilio from "twilio";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { analyzeSegments } from "../src/domain/segments";
import { startEmulator, type TwilioEmulator } from "./server";

const TOKEN = "emulator-test-token-0123456789ab";
const ACCOUNT = `AC${"1".repeat(32)}`;

interface Captured {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A stand-in for the app: records what the emulator POSTs and answers TwiML. */
async function captureServer(reply = '<?xml version="1.0" encoding="UTF-8"?><Response/>') {
  const requests: Captured[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      requests.push({ path: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "Content-Type": "text/xml" });
      res.end(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function until(check: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe("Twilio emulator", () => {
  let app: Awaited<ReturnType<typeof captureServer>>;
  let emulator: TwilioEmulator;
  let client: ReturnType<typeof twilio>;

  beforeAll(async () => {
    app = await captureServer();
    emulator = await startEmulator({
      authToken: TOKEN,
      accountSid: ACCOUNT,
      appUrl: app.url,
      callbackMode: "push",
      delays: { sentMs: 10, finalMs: 10 },
    });
    client = twilio(ACCOUNT, TOKEN);
    client.api.baseUrl = emulator.url;
  });
  afterEach(() => {
    emulator.reset();
    app.requests.length = 0;
  });
  afterAll(async () => {
    await emulator.stop();
    await app.close();
  });

  it("the official SDK parses its create, fetch and list responses", async () => {
    const created = await client.messages.create({
      to: "+14155552671",
      from: "+15005550006",
      body: "Hello from the SDK",
      statusCallback: `${app.url}/webhooks/twilio/status?mid=msg_1`,
    });
    expect(created.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(created.status).toBe("queued");
    expect(created.numSegments).toBe("1");
    expect(created.accountSid).toBe(ACCOUNT);
    expect(created.dateCreated).toBeInstanceOf(Date);
    expect(Number.isNaN(created.dateCreated.getTime())).toBe(false);
    const fetched = await client.messages(created.sid).fetch();
    expect(fetched.body).toBe("Hello from the SDK");
    const listed = await client.messages.list({ to: "+14155552671", from: "+15005550006" });
    expect(listed.map((m) => m.sid)).toEqual([created.sid]);
    // As at Twilio, a message it still holds (queued, date_sent empty) matches no DateSent filter.
    await fetch(`${emulator.url}/_control/lifecycle`, {
      method: "POST",
      body: JSON.stringify({ to: "+14155552672", paused: true }),
    });
    const held = await client.messages.create({ to: "+14155552672", from: "+15005550006", body: "held" });
    const query = { to: "+14155552672", from: "+15005550006" };
    expect((await client.messages.list(query)).map((m) => [m.sid, m.dateSent])).toEqual([[held.sid, null]]);
    const bySentDate = await client.messages.list({ ...query, dateSentAfter: new Date(Date.now() - 86_400_000) });
    expect(bySentDate).toEqual([]);
    const mms = await client.messages.create({
      to: "+14155552671",
      from: "+15005550006",
      mediaUrl: ["https://a.example/1.png", "https://b.example/2.png"],
    });
    expect(mms.sid).toMatch(/^MM/);
    expect(mms.numMedia).toBe("2");
  });

  it("has the account's numbers: the SDK finds one by PhoneNumber and points its webhooks", async () => {
    const [number] = await client.incomingPhoneNumbers.list({ phoneNumber: "+14155550123" });
    expect(number?.phoneNumber).toBe("+14155550123");
    expect(number?.sid).toMatch(/^PN[0-9a-f]{32}$/);
    const updated = await client.incomingPhoneNumbers(number?.sid ?? "").update({
      smsUrl: `${app.url}/webhooks/twilio/inbound`,
      smsFallbackUrl: `${app.url}/webhooks/twilio/inbound`,
      statusCallback: `${app.url}/webhooks/twilio/status`,
    });
    expect(updated.smsUrl).toBe(`${app.url}/webhooks/twilio/inbound`);
    expect(updated.statusCallback).toBe(`${app.url}/webhooks/twilio/status`);
    // A number outside the account is not listed.
    expect(await client.incomingPhoneNumbers.list({ phoneNumber: "+12125550123" })).toEqual([]);
  });

  it("answers errors in Twilio's shape, which the SDK raises as RestException", async () => {
    const bad = twilio(ACCOUNT, "wrong-token");
    bad.api.baseUrl = emulator.url;
    await expect(bad.messages.create({ to: "+14155552671", from: "+15005550006", body: "x" })).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    const cases: [Record<string, string>, number][] = [
      [{ to: "+15005550001", from: "+15005550006", body: "x" }, 21211],
      [{ to: "+15005550002", from: "+15005550006", body: "x" }, 21612],
      [{ to: "+15005550003", from: "+15005550006", body: "x" }, 21408],
      [{ to: "+15005550004", from: "+15005550006", body: "x" }, 21610],
      [{ to: "+15005550009", from: "+15005550006", body: "x" }, 21614],
      [{ to: "+14155552671", from: "+15005550001", body: "x" }, 21212],
      [{ to: "+14155552671", from: "+15005550007", body: "x" }, 21606],
      [{ to: "+14155552671", from: "+15005550008", body: "x" }, 21611],
      [{ to: "+14155552671", from: "+15005550006", body: "x".repeat(1601) }, 21617],
      [{ to: "+14155552671", from: "+15005550006" }, 21602],
    ];
    for (const [params, code] of cases) {
      await expect(client.messages.create(params as never)).rejects.toMatchObject({ status: 400, code });
    }
    await expect(client.messages(`SM${"0".repeat(32)}`).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
  });

  it("signs status callbacks so the SDK's validateRequest accepts them, in order sent → delivered", async () => {
    const callback = `${app.url}/webhooks/twilio/status?mid=msg_2`;
    const created = await client.messages.create({
      to: "+14155552671",
      from: "+15005550006",
      body: "cb",
      statusCallback: callback,
    });
    await until(() => app.requests.length >= 2);
    const statuses = app.requests.map((r) => new URLSearchParams(r.body).get("MessageStatus"));
    expect(statuses).toEqual(["sent", "delivered"]);
    for (const req of app.requests) {
      const params = Object.fromEntries(new URLSearchParams(req.body));
      expect(params.MessageSid).toBe(created.sid);
      expect(twilio.validateRequest(TOKEN, String(req.headers["x-twilio-signature"]), callback, params)).toBe(true);
      expect(twilio.validateRequest("other-token", String(req.headers["x-twilio-signature"]), callback, params)).toBe(
        false,
      );
    }
    expect((await client.messages(created.sid).fetch()).status).toBe("delivered");
  });

  it("ends designated numbers undelivered (30003) or failed (30008)", async () => {
    const callback = `${app.url}/s`;
    await client.messages.create({ to: "+15005550010", from: "+15005550006", body: "x", statusCallback: callback });
    await client.messages.create({ to: "+15005550011", from: "+15005550006", body: "y", statusCallback: callback });
    await until(() => app.requests.length >= 3);
    const finals = app.requests.map((r) => Object.fromEntries(new URLSearchParams(r.body)));
    expect(finals.find((p) => p.MessageStatus === "undelivered")).toMatchObject({
      To: "+15005550010",
      ErrorCode: "30003",
    });
    expect(finals.find((p) => p.MessageStatus === "failed")).toMatchObject({ To: "+15005550011", ErrorCode: "30008" });
  });

  it("injects 500s, 429s, hangs and 500-after-create on request", async () => {
    emulator.faults.script = ["error500", "error429", "error500AfterCreate"];
    await expect(client.messages.create({ to: "+14155552671", from: "+15005550006", body: "a" })).rejects.toMatchObject(
      { status: 500 },
    );
    await expect(client.messages.create({ to: "+14155552671", from: "+15005550006", body: "b" })).rejects.toMatchObject(
      { status: 429, code: 20429 },
    );
    await expect(client.messages.create({ to: "+14155552671", from: "+15005550006", body: "c" })).rejects.toMatchObject(
      { status: 500 },
    );
    // The 500-after-create message exists; the plain 500 and the 429 created nothing.
    expect([...emulator.messages.values()].map((m) => m.body)).toEqual(["c"]);
    emulator.faults.script = ["hang"];
    const hung = fetch(`${emulator.url}/2010-04-01/Accounts/${ACCOUNT}/Messages.json`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "To=%2B14155552671&From=%2B15005550006&Body=h",
      signal: AbortSignal.timeout(300),
    });
    await expect(hung).rejects.toThrow();
    expect(emulator.stats.faults).toMatchObject({ error500: 1, error429: 1, error500AfterCreate: 1, hang: 1 });
  });

  it("duplicates, reorders and drops callbacks on request", async () => {
    const callback = `${app.url}/s`;
    emulator.faults.callbacks = { drop: 0, duplicate: 1, reorder: 1 };
    await client.messages.create({ to: "+14155552671", from: "+15005550006", body: "x", statusCallback: callback });
    await until(() => app.requests.length >= 4);
    expect(app.requests.map((r) => new URLSearchParams(r.body).get("MessageStatus"))).toEqual([
      "delivered",
      "delivered",
      "sent",
      "sent",
    ]);
    app.requests.length = 0;
    emulator.faults.callbacks = { drop: 1, duplicate: 0, reorder: 0 };
    const dropped = await client.messages.create({
      to: "+14155552671",
      from: "+15005550006",
      body: "y",
      statusCallback: callback,
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(app.requests).toHaveLength(0);
    // The truth is still there for reconciliation.
    expect((await client.messages(dropped.sid).fetch()).status).toBe("delivered");
  });

  it("simulates a signed inbound text and records the app's TwiML reply", async () => {
    const helpApp = await captureServer(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Call us &amp; smile</Message></Response>',
    );
    const inbound = await startEmulator({
      authToken: TOKEN,
      accountSid: ACCOUNT,
      appUrl: helpApp.url,
      publicAppUrl: "https://parley.example",
    });
    try {
      const result = await inbound.simulateInbound({
        from: "+14155552671",
        to: "+15005550006",
        body: "HELP",
        times: 2,
      });
      expect(result.status).toBe(200);
      expect(result.replies).toEqual(["Call us & smile"]);
      expect(helpApp.requests).toHaveLength(2);
      expect(helpApp.requests[0]?.body).toBe(helpApp.requests[1]?.body);
      const req = helpApp.requests[0]!;
      expect(req.path).toBe("/webhooks/twilio/inbound");
      const params = Object.fromEntries(new URLSearchParams(req.body));
      expect(params).toMatchObject({
        From: "+14155552671",
        To: "+15005550006",
        Body: "HELP",
        NumMedia: "0",
        MessageSid: result.sid,
      });
      expect(
        twilio.validateRequest(
          TOKEN,
          String(req.headers["x-twilio-signature"]),
          "https://parley.example/webhooks/twilio/inbound",
          params,
        ),
      ).toBe(true);
    } finally {
      await inbound.stop();
      await helpApp.close();
    }
  });
});

describe("segment math agrees with Twilio's own calculator", () => {
  const alphabet = ["a", "Z", " ", "€", "{", "ó", "ç", "😀", "\n", "Ω", "`", "你"];
  it("on 500 random messages", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 500; i++) {
      const gsmOnly = random() < 0.5;
      const pool = gsmOnly ? alphabet.slice(0, 5) : alphabet;
      const length = Math.floor(random() * 400);
      let text = "";
      for (let j = 0; j < length; j++) text += pool[Math.floor(random() * pool.length)];
      const theirs = new SegmentedMessage(text);
      const ours = analyzeSegments(text);
      expect({ text, segments: ours.segments, encoding: ours.encoding }).toEqual({
        text,
        segments: text.length === 0 ? 1 : theirs.segmentsCount,
        encoding: theirs.getEncodingName() === "GSM-7" ? "GSM-7" : "UCS-2",
      });
    }
  });
});
