import { describe, expect, it } from "vitest";
import { findAdoptable } from "../../src/channels/twilio/client";
import type { TwilioMessage } from "../../src/channels/twilio/schemas";
import { maskPhone, toE164 } from "../../src/domain/phone";
import { fromTwilioStatus } from "../../src/domain/status";
import { iso } from "../../src/domain/time";
import { decodeCursor, encodeCursor } from "../../src/http/cursor";
import { hashPassword, timingSafeEqualStrings, verifyPassword } from "../../src/security/crypto";

describe("phone numbers", () => {
  it("normalises common US notations to E.164 and rejects junk", () => {
    expect(toE164("(415) 555-2671")).toBe("+14155552671");
    expect(toE164("+44 20 7946 0958")).toBe("+442079460958");
    expect(toE164("415.555.2671")).toBe("+14155552671");
    expect(toE164("12")).toBeNull();
    expect(toE164("not a phone")).toBeNull();
    expect(toE164("")).toBeNull();
  });

  it("answers a number parsed before (remembered) exactly as the first time, per default country", () => {
    for (let round = 0; round < 2; round++) {
      expect(toE164("020 7946 0958", "GB")).toBe("+442079460958");
      expect(toE164("020 7946 0958", "US")).toBeNull();
      expect(toE164(" (415) 555-2671 ")).toBe("+14155552671");
      expect(toE164("12")).toBeNull();
    }
  });

  it("masks numbers for logs", () => {
    expect(maskPhone("+14155552671")).toBe("•••2671");
    expect(maskPhone("whatsapp:+447700900123")).toBe("•••0123");
    expect(maskPhone("12345")).toBe("•••");
    expect(maskPhone(null)).toBe("");
  });
});

describe("Twilio statuses (invariant 3; the order itself is tested in SQL, where it runs)", () => {
  it("maps Twilio's vocabulary onto ours", () => {
    expect(fromTwilioStatus("accepted")).toBe("queued");
    expect(fromTwilioStatus("queued")).toBe("queued");
    expect(fromTwilioStatus("undelivered")).toBe("undelivered");
    expect(fromTwilioStatus("receiving")).toBeNull();
    expect(fromTwilioStatus("bogus")).toBeNull();
  });
});

describe("passwords", () => {
  it("verifies the right password only, with a fresh salt each time", async () => {
    const h1 = await hashPassword("hunter2hunter2");
    const h2 = await hashPassword("hunter2hunter2");
    expect(h1).not.toBe(h2);
    expect(await verifyPassword("hunter2hunter2", h1)).toBe(true);
    expect(await verifyPassword("hunter2hunter3", h1)).toBe(false);
    expect(await verifyPassword("x", "garbage")).toBe(false);
    expect(await verifyPassword("x", "pbkdf2-sha256$999999999$AA==$AA==")).toBe(false);
  });

  it("compares strings in constant time, with unequal lengths false", () => {
    expect(timingSafeEqualStrings("abc", "abc")).toBe(true);
    expect(timingSafeEqualStrings("abc", "abd")).toBe(false);
    expect(timingSafeEqualStrings("abc", "abcd")).toBe(false);
  });
});

describe("cursors", () => {
  it("round-trips and refuses garbage with a 400", () => {
    expect(decodeCursor(encodeCursor(1732200000000, "cv_abc"))).toEqual({ key: 1732200000000, id: "cv_abc" });
    expect(decodeCursor(undefined)).toBeNull();
    expect(() => decodeCursor("!!!")).toThrowError(/cursor/);
  });
});

describe("findAdoptable (which Twilio message an ambiguous attempt created)", () => {
  const to = "+14155550100";
  const from = "+14155550199";
  const at = Date.parse("2026-11-28T12:00:00Z");
  const msg = (sid: string, createdMs: number, body = "On my way") =>
    ({
      sid,
      account_sid: "AC",
      status: "queued",
      to,
      from,
      body,
      date_created: new Date(createdMs).toUTCString(),
    }) as TwilioMessage;
  const sid = (n: number) => `SM${String(n).padStart(32, "0")}`;

  it("never takes a sid another message (or attempt) already holds", () => {
    const candidates = [msg(sid(2), at + 1000), msg(sid(1), at - 5000)];
    expect(
      findAdoptable(candidates, { to, from, body: "On my way", attemptStartedAt: at, takenSids: new Set([sid(2)]) })
        ?.sid,
    ).toBe(sid(1));
    expect(
      findAdoptable(candidates, {
        to,
        from,
        body: "On my way",
        attemptStartedAt: at,
        takenSids: new Set([sid(1), sid(2)]),
      }),
    ).toBeUndefined();
  });

  it("prefers the match created closest to the attempt's start, and ignores other bodies and anything over a minute older", () => {
    const candidates = [
      msg(sid(3), at + 20_000),
      msg(sid(4), at + 2000),
      msg(sid(5), at + 500, "other"),
      msg(sid(6), at - 61_000),
    ];
    expect(
      findAdoptable(candidates, { to, from, body: "On my way", attemptStartedAt: at, takenSids: new Set() })?.sid,
    ).toBe(sid(4));
    expect(
      findAdoptable([msg(sid(6), at - 61_000)], {
        to,
        from,
        body: "On my way",
        attemptStartedAt: at,
        takenSids: new Set(),
      }),
    ).toBeUndefined();
  });
});

describe("iso", () => {
  it("gives exactly toISOString's string, null for no time", () => {
    const samples = [0, 1, 999, 1_700_000_000_000, 1_700_000_000_007, 1_700_000_000_070, -1, 253_402_300_799_999];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4_102_444_800_000));
    for (const ms of samples) expect(iso(ms)).toBe(new Date(ms).toISOString());
    expect(iso(-62_198_755_200_000)).toBe(new Date(-62_198_755_200_000).toISOString()); // year 0
    expect(iso(253_402_300_800_000)).toBe(new Date(253_402_300_800_000).toISOString()); // year 10000
    expect(iso(null)).toBeNull();
    expect(iso(undefined)).toBeNull();
  });
});
