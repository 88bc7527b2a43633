/** Business hours: whether the workspace is open at an instant, in its own zone. Pure. */
import type { BusinessHours } from "../shared/policies";
import { clockMinutes, localTime } from "./zones";

export function isOpen(at: number, zone: string, hours: BusinessHours | null): boolean {
  if (!hours) return true;
  const t = localTime(at, zone);
  const minutes = t.hour * 60 + t.minute;
  return (hours[t.weekday] ?? []).some(([from, until]) => {
    const start = clockMinutes(from);
    const end = clockMinutes(until);
    // "00:00" as an end means midnight at the end of the day.
    return minutes >= start && minutes < (end === 0 ? 24 * 60 : end);
  });
}
