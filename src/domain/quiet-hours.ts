/**
 * Quiet hours: whether a text may go to a recipient now, by the recipient's local time. Pure: the zone
 * comes from the contact's own, else the number's region (ICU's zone list for the region, when all its
 * zones keep the same clock), else the workspace's.
 */
import type { QuietHours } from "../shared/policies";
import { regionOf } from "./phone";
import { clockMinutes, localTime, nextLocalClock, offsetMinutes } from "./zones";

const HALF_YEAR_MS = 182 * 24 * 60 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;
/** regionZone's answers by region and UTC day: the US alone has ~30 zones to compare (~120 Intl calls a send). */
const regionZones = new Map<string, { day: number; zone: string | null }>();

/** A region's zone when it has one clock (all its zones share offsets now and in half a year), else null. */
export function regionZone(region: string, now: number): string | null {
  const day = Math.floor(now / DAY_MS);
  const known = regionZones.get(region);
  if (known?.day === day) return known.zone;
  const zone = computeRegionZone(region, now);
  regionZones.set(region, { day, zone });
  return zone;
}

function computeRegionZone(region: string, now: number): string | null {
  let zones: string[] = [];
  try {
    const locale = new Intl.Locale(`und-${region}`) as Intl.Locale & {
      getTimeZones?: () => string[];
      timeZones?: string[];
    };
    zones = locale.getTimeZones?.() ?? locale.timeZones ?? [];
  } catch {
    return null;
  }
  const first = zones[0];
  if (!first) return null;
  const same = zones.every(
    (z) =>
      offsetMinutes(now, z) === offsetMinutes(now, first) &&
      offsetMinutes(now + HALF_YEAR_MS, z) === offsetMinutes(now + HALF_YEAR_MS, first),
  );
  return same ? first : null;
}

export function recipientZone(
  contact: { timezone: string | null; phone: string },
  workspaceZone: string,
  now: number,
): { zone: string; source: "contact" | "number" | "workspace" } {
  if (contact.timezone) return { zone: contact.timezone, source: "contact" };
  const region = regionOf(contact.phone);
  const byRegion = region ? regionZone(region, now) : null;
  if (byRegion) return { zone: byRegion, source: "number" };
  return { zone: workspaceZone, source: "workspace" };
}

/** Whether `at` falls inside the quiet window in `zone` (a window may run past midnight). */
export function inQuietHours(at: number, zone: string, quiet: Pick<QuietHours, "start" | "end">): boolean {
  const t = localTime(at, zone);
  const minutes = t.hour * 60 + t.minute;
  const start = clockMinutes(quiet.start);
  const end = clockMinutes(quiet.end);
  if (start === end) return false;
  return start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}

export type QuietDecision =
  | { action: "send"; exempt?: boolean }
  | { action: "defer"; until: number; zone: string }
  | { action: "refuse"; until: number; zone: string };

/**
 * What a send at `at` may do: go, wait until the window ends (defer) or be refused. A reply within
 * `exemptRepliesWithinHours` of the customer's last text goes.
 */
export function quietHoursDecision(input: {
  quiet: QuietHours | null;
  at: number;
  zone: string;
  lastInboundAt: number | null;
  now: number;
}): QuietDecision {
  const { quiet, at, zone } = input;
  if (!quiet || !inQuietHours(at, zone, quiet)) return { action: "send" };
  const exemptMs = quiet.exemptRepliesWithinHours * 60 * 60 * 1000;
  if (input.lastInboundAt !== null && exemptMs > 0 && input.now - input.lastInboundAt <= exemptMs) {
    return { action: "send", exempt: true };
  }
  const until = nextLocalClock(at, zone, quiet.end);
  return quiet.mode === "refuse" ? { action: "refuse", until, zone } : { action: "defer", until, zone };
}
