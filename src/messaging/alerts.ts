/**
 * Alerts (the minute cron): failure rate above 5 % over 15 minutes, messages pending longer than 10
 * minutes, dead letters in the last hour, an opt-out spike, a sender the carrier filters (30007), an
 * integration webhook disabled after 24 hours of failures. Each
 * holding condition opens one alert (deduplicated while open), shown to admins as a banner, listed in
 * GET /api/alerts and sent as the integration event `alert.opened`; it resolves by itself once the
 * condition clears.
 */
import { currentConditions, syncAlerts } from "../db/queries/alerts";
import { newId } from "../domain/ids";
import { ALERT_WORDS, type AlertKind } from "../shared/alerts";
import { emitEvent } from "./events";

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
      summary: ALERT_WORDS[a.kind as AlertKind] ?? String(a.kind),
      details: JSON.parse(String(a.details)) as unknown,
    });
  }
  return { open: conditions.length, opened: opened.length, resolved: resolved.length };
}
