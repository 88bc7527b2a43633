/**
 * Analytics: hourly rollups rebuilt from the messages (idempotent), and the report read from them —
 * volume, delivery rate, failures in words, segments, first-response and resolution times, per agent,
 * opt-outs; the CSV; tenant-safe and admin-only.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { HOUR_MS, recomputeRange } from "../../../src/messaging/analytics";
import { call, createKey, signup } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { textingWorkspace } from "../../helpers/pipeline";
import { deliver, inboundText, takeHeld } from "../../helpers/twilio";

const MIN = 60_000;

describe("analytics", () => {
  it("rolls an hour up from its messages and reports it, the same however often it is rebuilt", async () => {
    const ws = await textingWorkspace();
    const hour = Math.floor((Date.now() - 3 * HOUR_MS) / HOUR_MS) * HOUR_MS;
    for (const req of (await inboundText({ from: ws.customer, to: ws.from, body: "Where is my parcel?" })).held)
      await deliver(req);
    const conv = await env.DB.prepare("SELECT id FROM conversations WHERE workspace_id = ?")
      .bind(ws.account.workspaceId)
      .first<{ id: string }>();
    const reply = await call("POST", `/api/conversations/${conv?.id}/messages`, ws.account, {
      body: { body: "On its way!" },
    });
    const second = await call("POST", `/api/conversations/${conv?.id}/messages`, ws.account, {
      body: { body: "Tracking: 1Z999" },
    });
    await takeHeld(ws.customer);
    await call("PATCH", `/api/conversations/${conv?.id}`, ws.account, { body: { status: "resolved" } });
    // Place it all in one past hour: asked at :10, answered at :13 (3 min), resolved 40 min after opening.
    await env.DB.batch([
      env.DB.prepare("UPDATE messages SET created_at = ? WHERE conversation_id = ? AND direction = 'inbound'").bind(
        hour + 10 * MIN,
        conv?.id,
      ),
      env.DB.prepare("UPDATE messages SET created_at = ?, status = 'delivered' WHERE id = ?").bind(
        hour + 13 * MIN,
        reply.json.id,
      ),
      env.DB.prepare(
        "UPDATE messages SET created_at = ?, status = 'undelivered', error_code = 30003 WHERE id = ?",
      ).bind(hour + 14 * MIN, second.json.id),
      env.DB.prepare(
        "UPDATE conversation_resolutions SET opened_at = ?, resolved_at = ? WHERE conversation_id = ?",
      ).bind(hour + 5 * MIN, hour + 45 * MIN, conv?.id),
    ]);
    await recomputeRange(env, ws.account.workspaceId, hour, hour + HOUR_MS);
    await recomputeRange(env, ws.account.workspaceId, hour, hour + HOUR_MS);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM analytics_hourly WHERE workspace_id = ?")
      .bind(ws.account.workspaceId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(2); // the customer's row (no agent) and the agent's row

    const q = `from=${new Date(hour).toISOString()}&to=${new Date(hour + HOUR_MS).toISOString()}`;
    const report = await call("GET", `/api/analytics?${q}`, ws.account);
    expect(report.status).toBe(200);
    expect(report.json.granularity).toBe("hour");
    expect(report.json.totals).toMatchObject({
      inbound: 1,
      outbound: 2,
      delivered: 1,
      failed: 1,
      deliveryRate: 0.5,
      segments: 2,
    });
    expect(report.json.byChannel.sms).toEqual({ inbound: 1, outbound: 2 });
    expect(report.json.failures).toEqual([{ code: 30003, description: "The handset is unreachable", count: 1 }]);
    expect(report.json.firstResponse).toMatchObject({ count: 1, medianMs: 5 * MIN, p90Ms: 5 * MIN });
    expect(report.json.resolution).toMatchObject({ count: 1, medianMs: HOUR_MS });
    expect(report.json.agents).toEqual([
      expect.objectContaining({ agentId: ws.account.userId, name: "Test User", outbound: 2 }),
    ]);
    expect(report.json.series).toEqual([
      { t: new Date(hour).toISOString(), inbound: 1, outbound: 2, delivered: 1, failed: 1, segments: 2 },
    ]);

    const byAgent = await call("GET", `/api/analytics?${q}&agent=${ws.account.userId}`, ws.account);
    expect(byAgent.json.totals.inbound).toBe(0);
    expect(byAgent.json.totals.outbound).toBe(2);

    const csv = await call("GET", `/api/analytics/csv?${q}`, ws.account);
    expect(csv.headers.get("Content-Type")).toContain("text/csv");
    expect(csv.text).toBe(
      `period,inbound,outbound,delivered,failed,segments\n${new Date(hour).toISOString()},1,2,1,1,2\n`,
    );

    // The whole day, by day, reads the day rows (summed from its hours when the hour was rebuilt).
    const day = Math.floor(hour / (24 * HOUR_MS)) * 24 * HOUR_MS;
    const daily = await env.DB.prepare(
      "SELECT sum(inbound) AS i, sum(outbound) AS o FROM analytics_daily WHERE workspace_id = ? AND day = ?",
    )
      .bind(ws.account.workspaceId, day)
      .first<{ i: number; o: number }>();
    expect(daily).toEqual({ i: 1, o: 2 });
    const dq = `from=${new Date(day).toISOString()}&to=${new Date(day + 24 * HOUR_MS).toISOString()}&granularity=day`;
    const byDay = await call("GET", `/api/analytics?${dq}`, ws.account);
    expect(byDay.json.totals).toMatchObject({ inbound: 1, outbound: 2, delivered: 1, failed: 1 });
    expect(byDay.json.firstResponse).toMatchObject({ count: 1, medianMs: 5 * MIN });
    expect(byDay.json.series).toEqual([
      { t: new Date(day).toISOString(), inbound: 1, outbound: 2, delivered: 1, failed: 1, segments: 2 },
    ]);

    // A 90-day view reads days.
    const ninety = await call("GET", "/api/analytics", ws.account);
    expect(ninety.json.granularity).toBe("day");
    expect(ninety.json.series.length).toBeGreaterThanOrEqual(30);
  });

  it("is for admins, per workspace, and rebuilds on request (audited)", async () => {
    const ws = await textingWorkspace();
    const agent = await addMember(ws.account.workspaceId, "agent");
    expect((await call("GET", "/api/analytics", agent)).status).toBe(403);
    const other = await signup();
    const otherKey = await createKey(other);
    const empty = await call("GET", "/api/analytics", { key: otherKey });
    expect(empty.json.totals).toMatchObject({ inbound: 0, outbound: 0, deliveryRate: null });
    const now = Date.now();
    const rebuilt = await call(
      "POST",
      "/api/analytics/recompute",
      { key: ws.key },
      {
        body: { from: new Date(now - 2 * HOUR_MS).toISOString(), to: new Date(now).toISOString() },
      },
    );
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.json.hours).toBe(3);
    const tooLong = await call(
      "POST",
      "/api/analytics/recompute",
      { key: ws.key },
      {
        body: { from: new Date(now - 40 * 24 * HOUR_MS).toISOString(), to: new Date(now).toISOString() },
      },
    );
    expect(tooLong.status).toBe(422);
    expect((await call("GET", "/api/audit?action=analytics.recomputed", ws.account)).json.items).toHaveLength(1);
  });
});
