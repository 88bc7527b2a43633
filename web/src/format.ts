/** Display helpers: names, times, days, statuses in words. */
import { isRetryableFailure } from "../../src/shared/retry";
import type { Contact, Message } from "./types";

export function contactName(c: Contact): string {
  return c.name?.trim() || c.phone || c.email || "Unknown";
}

export function time(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

export function dayLabel(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", month: "short", day: "numeric" });
}

export function shortWhen(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString()
    ? time(iso)
    : d.toLocaleDateString([], { month: "short", day: "numeric" });
}

const STATUS_WORDS: Record<string, string> = {
  scheduled: "Scheduled",
  pending: "Sending…",
  queued: "Queued",
  sending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  undelivered: "Not delivered",
  failed: "Failed",
  canceled: "Canceled",
  delivery_unknown: "No receipt",
  received: "Received",
};

export function statusWords(m: Message): string {
  if (m.status === "scheduled" && m.sendAt) {
    const at = new Date(m.sendAt).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    return m.deferredReason === "quiet_hours" ? `Held for quiet hours: sends ${at}` : `Scheduled for ${at}`;
  }
  return STATUS_WORDS[m.status] ?? m.status;
}

export function statusTone(status: string): "ok" | "bad" | "wait" | "muted" {
  if (status === "delivered" || status === "read") return "ok";
  if (status === "failed" || status === "undelivered") return "bad";
  if (status === "canceled" || status === "delivery_unknown") return "muted";
  return "wait";
}

/** Failures a retry can fix (the server's own rule; it still has the last word). */
export function canRetry(m: Message): boolean {
  return m.status === "failed" && isRetryableFailure(m.errorCode);
}
