/** Quiet hours by the recipient's local clock, pinned to instants around two DST changes. */
import { describe, expect, it } from "vitest";
import { inQuietHours, quietHoursDecision, recipientZone, regionZone } from "../../src/domain/quiet-hours";
import { localTime, nextLocalClock } from "../../src/domain/zones";

const quiet = { start: "21:00", end: "08:00", mode: "defer" as const, exemptRepliesWithinHours: 24 };
const iso = (ms: number) => new Date(ms).toISOString();

describe("quiet hours across DST", () => {
  it("New York, spring forward (2026-03-08): 22:00 EST is quiet and defers to 08:00 EDT, 12 UTC", () => {
    const at = Date.parse("2026-03-08T03:00:00Z"); // 22:00 EST on the 7th
    expect(localTime(at, "America/New_York")).toMatchObject({ day: 7, hour: 22 });
    expect(inQuietHours(at, "America/New_York", quiet)).toBe(true);
    const decision = quietHoursDecision({ quiet, at, zone: "America/New_York", lastInboundAt: null, now: at });
    expect(decision).toMatchObject({ action: "defer" });
    // 08:00 on the 8th is already daylight time (UTC-4).
    expect(iso((decision as { until: number }).until)).toBe("2026-03-08T12:00:00.000Z");
  });

  it("New York, fall back (2026-11-01): 07:30 EST is still quiet; the window ends at 08:00 EST, 13 UTC", () => {
    const at = Date.parse("2026-11-01T12:30:00Z"); // 07:30 EST
    expect(inQuietHours(at, "America/New_York", quiet)).toBe(true);
    expect(iso(nextLocalClock(at, "America/New_York", "08:00"))).toBe("2026-11-01T13:00:00.000Z");
  });

  it("Berlin, spring forward (2026-03-29): 07:59 CEST is quiet, 08:00 CEST (06 UTC) is not", () => {
    expect(inQuietHours(Date.parse("2026-03-29T05:59:00Z"), "Europe/Berlin", quiet)).toBe(true);
    expect(inQuietHours(Date.parse("2026-03-29T06:00:00Z"), "Europe/Berlin", quiet)).toBe(false);
    const at = Date.parse("2026-03-28T21:30:00Z"); // 22:30 CET on the 28th
    expect(iso(nextLocalClock(at, "Europe/Berlin", "08:00"))).toBe("2026-03-29T06:00:00.000Z");
  });

  it("the same instant is quiet in one zone and not in another", () => {
    const at = Date.parse("2026-06-15T02:00:00Z"); // 22:00 in New York, 04:00 in Berlin, 12:00 in Sydney
    expect(inQuietHours(at, "America/New_York", quiet)).toBe(true);
    expect(inQuietHours(at, "Europe/Berlin", quiet)).toBe(true);
    expect(inQuietHours(at, "Australia/Sydney", quiet)).toBe(false);
  });

  it("a reply within the exempt window goes; refuse mode names the next allowed time", () => {
    const at = Date.parse("2026-06-15T02:00:00Z");
    expect(quietHoursDecision({ quiet, at, zone: "America/New_York", lastInboundAt: at - 3_600_000, now: at })).toEqual(
      { action: "send", exempt: true },
    );
    const refused = quietHoursDecision({
      quiet: { ...quiet, mode: "refuse" },
      at,
      zone: "America/New_York",
      lastInboundAt: at - 25 * 3_600_000,
      now: at,
    });
    expect(refused).toMatchObject({ action: "refuse", zone: "America/New_York" });
    expect(iso((refused as { until: number }).until)).toBe("2026-06-15T12:00:00.000Z");
    expect(quietHoursDecision({ quiet: null, at, zone: "UTC", lastInboundAt: null, now: at })).toEqual({
      action: "send",
    });
  });

  it("the recipient's zone: the contact's, else a one-clock region's, else the workspace's", () => {
    const now = Date.parse("2026-06-15T12:00:00Z");
    expect(recipientZone({ timezone: "Asia/Tokyo", phone: "+14155552671" }, "UTC", now).zone).toBe("Asia/Tokyo");
    expect(recipientZone({ timezone: null, phone: "+33612345678" }, "UTC", now)).toEqual({
      zone: "Europe/Paris",
      source: "number",
    });
    // Germany's zones all keep one clock; the US has many.
    expect(regionZone("DE", now)).not.toBeNull();
    expect(recipientZone({ timezone: null, phone: "+14155552671" }, "America/Chicago", now)).toEqual({
      zone: "America/Chicago",
      source: "workspace",
    });
  });
});
