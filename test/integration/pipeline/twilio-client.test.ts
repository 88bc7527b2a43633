import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TwilioClient, twilioConfigFromEnv } from "../../../src/channels/twilio/client";
import { TwilioError } from "../../../src/channels/twilio/errors";
import { randomUsNumber } from "../../helpers/api";
import { control, EMULATOR_URL, emulatorMessages, scriptFaults } from "../../helpers/twilio";

const client = () => new TwilioClient(twilioConfigFromEnv(env));

async function failure(p: Promise<unknown>): Promise<TwilioError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TwilioError) return err;
    throw err;
  }
  throw new Error("expected a TwilioError");
}

describe("Twilio client (ky, no SDK)", () => {
  it("sends form bodies with repeated MediaUrl keys and parses the created message", async () => {
    const to = randomUsNumber();
    const msg = await client().createMessage({
      to,
      from: "+15005550006",
      body: "two pictures",
      mediaUrls: ["https://a.example/1.png", "https://b.example/2.png"],
      statusCallback: "https://parley.test/webhooks/twilio/status?mid=msg_x",
    });
    expect(msg).toMatchObject({ to, status: "queued", num_media: "2" });
    expect(msg.sid).toMatch(/^MM/);
    expect((await emulatorMessages(to))[0].subresource_uris.media).toContain(msg.sid);
  });

  it("authenticates with an API key SID and secret when configured", async () => {
    const keyed = new TwilioClient({ ...twilioConfigFromEnv(env), apiKeySid: `SK${"a".repeat(32)}` });
    expect((await keyed.createMessage({ to: randomUsNumber(), from: "+15005550006", body: "via key" })).sid).toMatch(
      /^SM/,
    );
    const wrong = new TwilioClient({ ...twilioConfigFromEnv(env), authToken: "not-the-token" });
    const err = await failure(wrong.createMessage({ to: randomUsNumber(), from: "+15005550006", body: "x" }));
    expect(err).toMatchObject({ httpStatus: 401, code: 20003, retryable: false, ambiguous: false });
  });

  it("types failures: 429 retryable and safe, 5xx retryable and ambiguous, permanent codes not retryable, timeouts ambiguous", async () => {
    const to = randomUsNumber();
    await scriptFaults(to, ["error429", "error500", "hang"]);
    expect(await failure(client().createMessage({ to, from: "+15005550006", body: "a" }))).toMatchObject({
      httpStatus: 429,
      code: 20429,
      retryable: true,
      ambiguous: false,
    });
    expect(await failure(client().createMessage({ to, from: "+15005550006", body: "b" }))).toMatchObject({
      httpStatus: 500,
      retryable: true,
      ambiguous: true,
    });
    const impatient = new TwilioClient({ ...twilioConfigFromEnv(env), timeoutMs: 200 });
    expect(await failure(impatient.createMessage({ to, from: "+15005550006", body: "c" }))).toMatchObject({
      kind: "timeout",
      retryable: true,
      ambiguous: true,
    });
    for (const [magic, code] of [
      ["+15005550001", 21211],
      ["+15005550002", 21612],
      ["+15005550003", 21408],
      ["+15005550004", 21610],
      ["+15005550009", 21614],
    ] as const) {
      expect(await failure(client().createMessage({ to: magic, from: "+15005550006", body: "x" }))).toMatchObject({
        httpStatus: 400,
        code,
        retryable: false,
      });
    }
    const down = new TwilioClient({ ...twilioConfigFromEnv(env), apiBase: "http://127.0.0.1:9" });
    expect(await failure(down.createMessage({ to, from: "+15005550006", body: "d" }))).toMatchObject({
      retryable: true,
      ambiguous: true,
    });
  });

  it("lists by To/From and date_created, paging until it reaches back past the attempt, and fetches by sid", async () => {
    const to = randomUsNumber();
    // Twilio still holds these (queued, date_sent empty): a DateSent filter would not see them.
    await control("/lifecycle", { to, paused: true });
    try {
      const sids: string[] = [];
      for (const body of ["one", "two", "three"]) {
        sids.push((await client().createMessage({ to, from: "+15005550006", body })).sid);
      }
      const withDateSent = await fetch(
        `${EMULATOR_URL}/2010-04-01/Accounts/${env.TWILIO_ACCOUNT_SID}/Messages.json?To=${encodeURIComponent(to)}&DateSent%3E=2000-01-01`,
        { headers: { Authorization: `Basic ${btoa(`${env.TWILIO_ACCOUNT_SID}:${env.TWILIO_AUTH_TOKEN}`)}` } },
      );
      expect(((await withDateSent.json()) as { messages: unknown[] }).messages).toEqual([]);
      const listed = await client().listMessagesSince({
        to,
        from: "+15005550006",
        createdAfter: Date.now() - 60_000,
        pageSize: 1,
      });
      expect(listed.map((m) => m.sid).sort()).toEqual([...sids].sort());
      expect(listed.every((m) => m.date_sent === null)).toBe(true);
      expect(await client().listMessagesSince({ to, from: "+15005550006", createdAfter: Date.now() + 60_000 })).toEqual(
        [],
      );
    } finally {
      await control("/lifecycle", { to, paused: false });
    }
    const created = await client().createMessage({ to, from: "+15005550006", body: "find me" });
    expect((await client().fetchMessage(created.sid)).body).toBe("find me");
    expect(await failure(client().fetchMessage(`SM${"0".repeat(32)}`))).toMatchObject({
      httpStatus: 404,
      code: 20404,
      retryable: false,
    });
  });

  it("finds the account's numbers and points their webhooks", async () => {
    const owned = randomUsNumber();
    const found = await client().findIncomingNumber(owned);
    expect(found?.phone_number).toBe(owned);
    const updated = await client().updateIncomingNumber(found?.sid ?? "", {
      smsUrl: "https://x.test/in",
      smsFallbackUrl: "https://x.test/in",
      statusCallback: "https://x.test/st",
    });
    expect(updated).toMatchObject({ sms_url: "https://x.test/in", status_callback: "https://x.test/st" });
    expect(await client().findIncomingNumber("+12125550123")).toBeNull();
  });
});
