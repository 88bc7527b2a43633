/** Cron thresholds from wrangler vars (seconds), with the defaults DESIGN.md describes. */
function seconds(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n * 1000 : fallback * 1000;
}

export interface JobConfig {
  outboxGraceMs: number;
  reconcileAfterMs: number;
  deliveryUnknownAfterMs: number;
}

export function jobConfig(env: Env): JobConfig {
  return {
    outboxGraceMs: seconds(env.OUTBOX_GRACE_SECONDS, 360),
    reconcileAfterMs: seconds(env.RECONCILE_AFTER_SECONDS, 3600),
    deliveryUnknownAfterMs: seconds(env.DELIVERY_UNKNOWN_AFTER_SECONDS, 21_600),
  };
}
