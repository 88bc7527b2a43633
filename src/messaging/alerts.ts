/**
 * Alerts (the minute cron): failure rate above 5 % over 15 minutes, messages pending longer than 10
 * minutes, dead letters in the last hour, an opt-out spike, a sender the carrier filters (30007). Each
 * holding condition opens one alert (deduplicated while open), shown to admins as a banner, listed in
 * GET /api/alerts and sent as the integration event `alert.opened`; it resolves by itself once the
 * condition clears.
 */
import { currentConditions, syncAlerts } from "../db/queries/alerts";
import { newId } from "../domain/ids";
import { emitEvent } from "./events";

export const ALERT_WORDS: Record<string, string> = {
  failure_rate: "More than 5 % of messages failed in the last 15 minutes",
  stuck_pending: "Messages have been waiting to send for more than 10 minutes",
  dead_letters: "Messages ran out of retries in the last hour",
  opt_out_spike: "Opt-outs spiked in the last hour",
  carrier_filtered: "The carrier is filtering a sender's messages (30007)",
};

export async function evaluateAlerts(
  env: Env,
  now: number,
): Promise<{ open: number; opened: number; resolved: number }> {
  const conditions = await currentConditions(env.DB, now);
  const { opened, resolved } = await syncAlerts(env.DB, conditions, now, () => newId("alr"));
  for (const a of opened) {
    await emitEvent(env, String(a.workspaceId), "alert.opened", {
      alertId: a.id,
      kind: a.kind,
      subject: a.subject || null,
      summary: ALERT_WORDS[String(a.kind)] ?? String(a.kind),
      details: JSON.parse(String(a.details)) as unknown,
    });
  }
  return { open: conditions.length, opened: opened.length, resolved: resolved.length };
}
