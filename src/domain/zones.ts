/**
 * Time zones, with no I/O: whether a name is an IANA zone, a zone's local clock at an instant, and the
 * next instant a local clock time comes round (DST-aware, through Intl, which workerd ships with tzdata).
 */

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "short",
    });
    formatters.set(zone, f);
  }
  return f;
}

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** mon … sun */
  weekday: "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";
}

export function localTime(at: number, zone: string): LocalTime {
  const parts = Object.fromEntries(
    formatter(zone)
      .formatToParts(new Date(at))
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: String(parts.weekday).slice(0, 3).toLowerCase() as LocalTime["weekday"],
  };
}

/** Minutes since local midnight for "HH:MM". */
export function clockMinutes(clock: string): number {
  const [h, m] = clock.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** The zone's offset from UTC at an instant, in minutes (e.g. -300 for New York in winter). */
export function offsetMinutes(at: number, zone: string): number {
  const t = localTime(at, zone);
  const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return Math.round((asUtc - Math.floor(at / 1000) * 1000) / 60_000);
}

/**
 * The first instant after `from` when the zone's wall clock reads `clock` (HH:MM). Across a DST change
 * the offset of that day is used; a wall time that does not exist that day (spring forward) resolves
 * to the instant right after the gap.
 */
export function nextLocalClock(from: number, zone: string, clock: string): number {
  const target = clockMinutes(clock);
  const start = localTime(from, zone);
  for (let dayOffset = 0; dayOffset <= 2; dayOffset++) {
    // The calendar day (in the zone) `dayOffset` days after `from`'s local day, at `clock`.
    const wall = Date.UTC(start.year, start.month - 1, start.day + dayOffset, Math.floor(target / 60), target % 60);
    // Two passes settle the offset of that wall time (it may differ from `from`'s across a DST change).
    let guess = wall - offsetMinutes(wall, zone) * 60_000;
    guess = wall - offsetMinutes(guess, zone) * 60_000;
    if (guess > from) return guess;
  }
  return from + 24 * 60 * 60_000;
}
