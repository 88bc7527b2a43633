/** Sending policies as settings carry them (the Worker validates them; the browser shows and edits them). */
import { z } from "zod";

const Clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "a time like 21:00");

export const QuietHoursSchema = z.object({
  start: Clock,
  end: Clock,
  mode: z.enum(["defer", "refuse"]).default("defer"),
  /** Replies within this many hours of the customer's last text are not held back. */
  exemptRepliesWithinHours: z.number().int().min(0).max(168).default(24),
});
export type QuietHours = z.infer<typeof QuietHoursSchema>;

/** The stored setting (JSON text or already parsed), or null when off or unreadable. */
export function parseQuietHours(json: string | null | QuietHours): QuietHours | null {
  if (json === null) return null;
  try {
    const parsed = QuietHoursSchema.safeParse(typeof json === "string" ? JSON.parse(json) : json);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Opening hours per weekday in the workspace's zone: a day missing or empty is closed. */
export const BusinessHoursSchema = z.partialRecord(z.enum(WEEKDAYS), z.array(z.tuple([Clock, Clock])).max(4));
export type BusinessHours = z.infer<typeof BusinessHoursSchema>;

/** Send limits: the defaults, and the most a workspace may raise them to (a deployment var can lower it). */
export const SEND_LIMITS = {
  userPerMinute: 30,
  workspacePerSecond: 10,
  workspaceBurst: 50,
  maxUserPerMinute: 600,
  maxWorkspacePerSecond: 100,
  maxWorkspaceBurst: 1000,
} as const;

/** The away reply goes out at most this often per conversation. */
export const AWAY_REPLY_EVERY_MS = 12 * 60 * 60 * 1000;
