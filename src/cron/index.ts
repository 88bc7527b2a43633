/**
 * scheduled(): dispatches on controller.cron to plain job functions. Every run is recorded in
 * job_runs (start, success, error, result) for the operations view. Jobs are idempotent: a repeated
 * or skipped tick is harmless.
 */
import { markJobFailed, markJobStarted, markJobSucceeded } from "../db/queries/jobs";
import { log } from "../log";
import { evaluateAlerts } from "../messaging/alerts";
import { recomputeRecent } from "../messaging/analytics";
import { scheduleArchiving } from "../messaging/archive";
import { startDueCampaigns } from "../messaging/campaigns";
import { jobConfig } from "../messaging/config";
import { recoverOutbox } from "../messaging/outbox-recovery";
import { reconcile } from "../messaging/reconcile";
import { purgeUnsentUploads, scheduleRetention } from "../messaging/retention";
import { sendDueScheduled } from "../messaging/scheduled";
import { wakeSnoozed } from "../messaging/snoozes";

export const EVERY_MINUTE = "* * * * *";
export const EVERY_15_MINUTES = "*/15 * * * *";
export const DAILY = "30 3 * * *";

export const JOB_NAMES = [
  "scheduled-sends",
  "outbox-recovery",
  "snoozes",
  "campaigns",
  "reconcile",
  "retention",
  "uploads",
  "archive",
  "alerts",
  "analytics",
] as const;
export type JobName = (typeof JOB_NAMES)[number];

export async function runJob<T>(env: Env, name: JobName, job: () => Promise<T>): Promise<T | undefined> {
  const started = Date.now();
  await markJobStarted(env.DB, name, started);
  try {
    const result = await job();
    await markJobSucceeded(env.DB, name, Date.now(), result);
    log("info", "cron job done", { job: name, ms: Date.now() - started, result });
    return result;
  } catch (err) {
    await markJobFailed(env.DB, name, String(err));
    log("error", "cron job failed", { job: name, error: String(err) });
    return undefined;
  }
}

export async function runMinuteJobs(env: Env, now = Date.now()) {
  const config = jobConfig(env);
  const scheduled = await runJob(env, "scheduled-sends", () => sendDueScheduled(env, now));
  const outbox = await runJob(env, "outbox-recovery", () => recoverOutbox(env, now, config.outboxGraceMs));
  const snoozes = await runJob(env, "snoozes", () => wakeSnoozed(env, now));
  await runJob(env, "alerts", () => evaluateAlerts(env, now));
  const campaigns = await runJob(env, "campaigns", () => startDueCampaigns(env, now));
  return { scheduled, outbox, snoozes, campaigns };
}

export async function handleScheduled(controller: ScheduledController, env: Env): Promise<void> {
  const now = controller.scheduledTime || Date.now();
  switch (controller.cron) {
    case EVERY_MINUTE:
      await runMinuteJobs(env, now);
      break;
    case EVERY_15_MINUTES:
      await runJob(env, "reconcile", () => reconcile(env, now, jobConfig(env)));
      await runJob(env, "analytics", () => recomputeRecent(env, now));
      break;
    case DAILY:
      await runJob(env, "retention", () => scheduleRetention(env));
      await runJob(env, "uploads", () => purgeUnsentUploads(env, now));
      await runJob(env, "archive", () => scheduleArchiving(env));
      break;
    default:
      log("warn", "unknown cron expression", { cron: controller.cron });
  }
}
