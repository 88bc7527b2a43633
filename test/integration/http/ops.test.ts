import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TwilioClient, twilioConfigFromEnv } from "../../../src/channels/twilio/client";
import { runMinuteJobs } from "../../../src/cron";
import { processDeadLetter } from "../../../src/queue/dead-letters";
import { call } from "../../helpers/api";
import { pendingMessage, textingWorkspace } from "../../helpers/pipeline";

describe("GET /api/ops/delivery", () => {
  it("reports counts by status, dead letters, the oldest pending message and cron runs, for this workspace only", async () => {
    const ws = await textingWorkspace();
    const other = await textingWorkspace();
    const createdAt = Date.now() - 120_000;
    await pendingMessage(ws, "ops a", createdAt);
    await pendingMessage(ws, "ops b", createdAt);
    const conv = (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json;
    const thread = (await call("GET", `/api/conversations/${conv.id}/messages`, { key: ws.key })).json.items;
    await processDeadLetter(env, thread[0].id, new TwilioClient(twilioConfigFromEnv(env)));
    await runMinuteJobs(env);
    const ops = await call("GET", "/api/ops/delivery", { key: ws.key });
    expect(ops.status).toBe(200);
    expect(ops.json.byStatus).toMatchObject({ pending: 1, failed: 1, delivered: 0 });
    expect(ops.json.deadLetters).toEqual({ last24h: 1, total: 1 });
    expect(ops.json.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(119);
    const jobs = Object.fromEntries(ops.json.jobs.map((j: { name: string }) => [j.name, j]));
    expect(jobs["scheduled-sends"].lastSuccessAt).not.toBeNull();
    expect(jobs["outbox-recovery"].lastSuccessAt).not.toBeNull();
    const theirs = await call("GET", "/api/ops/delivery", { key: other.key });
    expect(theirs.json.byStatus.pending).toBe(0);
    expect(theirs.json.deadLetters.total).toBe(0);
    expect((await call("GET", "/api/ops/delivery")).status).toBe(401);
  });

  it("GET /api/healthz answers without credentials", async () => {
    const res = await call("GET", "/api/healthz");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ok: true });
  });
});
