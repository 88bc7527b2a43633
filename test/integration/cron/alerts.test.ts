/**
 * Alerts: each condition opens one alert while it holds (no duplicates on later runs), is listed for
 * admins, goes out as the `alert.opened` integration event, and resolves once the condition clears.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { evaluateAlerts } from "../../../src/messaging/alerts";
import { call } from "../../helpers/api";
import { addMember } from "../../helpers/db";
import { pendingMessage, textingWorkspace } from "../../helpers/pipeline";
import { control, EMULATOR_URL, eventually } from "../../helpers/twilio";

const MIN = 60_000;

async function outboundOutcomes(ws: Awaited<ReturnType<typeof textingWorkspace>>, delivered: number, failed: number) {
  const ids: string[] = [];
  for (let i = 0; i < delivered + failed; i++) ids.push(await pendingMessage(ws, `m${i}`));
  const now = Date.now();
  await env.DB.batch(
    ids.map((id, i) =>
      env.DB.prepare("UPDATE messages SET status = ?, error_code = ?, updated_at = ? WHERE id = ?").bind(
        i < failed ? "undelivered" : "delivered",
        i < failed ? 30007 : null,
        now,
        id,
      ),
    ),
  );
  return ids;
}

describe("alerts", () => {
  it("a failure rate above 5 % opens one alert (and one for the filtered sender), tells integrations, and resolves when it clears", async () => {
    const ws = await textingWorkspace();
    const hook = `alerts-${Date.now().toString(36)}`;
    const created = await call(
      "POST",
      "/api/webhooks",
      { key: ws.key },
      {
        body: { url: `${EMULATOR_URL}/_hooks/${hook}`, events: ["alert.opened"] },
      },
    );
    await control("/hooks", { name: hook, secret: created.json.secret });
    const ids = await outboundOutcomes(ws, 18, 2);
    await evaluateAlerts(env, Date.now());
    await evaluateAlerts(env, Date.now());
    const open = (await call("GET", "/api/alerts", ws.account)).json.items;
    expect(open.map((a: { kind: string }) => a.kind).sort()).toEqual(["carrier_filtered", "failure_rate"]);
    const rate = open.find((a: { kind: string }) => a.kind === "failure_rate");
    expect(rate).toMatchObject({ status: "open", details: { failed: 2, total: 20, percent: 10 } });
    expect(open.find((a: { kind: string }) => a.kind === "carrier_filtered").subject).toBe(ws.from);
    const events = await eventually(
      async () => {
        const got = (await control<{ received: any[] }>(`/hooks/${hook}`)).received;
        return got.length >= 2 ? got : undefined;
      },
      20_000,
      "alert.opened events",
    );
    expect(events.every((e: { verified: boolean }) => e.verified)).toBe(true);
    expect(events.map((e: { body: string }) => JSON.parse(e.body).data.kind).sort()).toEqual([
      "carrier_filtered",
      "failure_rate",
    ]);

    // The failures were an hour ago: both conditions clear, and the alerts resolve.
    await env.DB.prepare(`UPDATE messages SET updated_at = ? WHERE id IN (SELECT value FROM json_each(?))`)
      .bind(Date.now() - 2 * 60 * MIN, JSON.stringify(ids))
      .run();
    await evaluateAlerts(env, Date.now());
    expect((await call("GET", "/api/alerts", ws.account)).json.items).toEqual([]);
    const history = (await call("GET", "/api/alerts?status=resolved", ws.account)).json.items;
    expect(history).toHaveLength(2);
    expect(history.every((a: { resolvedAt: string | null }) => a.resolvedAt !== null)).toBe(true);
  });

  it("messages pending for more than 10 minutes open an alert; below 20 outcomes no failure-rate alert", async () => {
    const ws = await textingWorkspace();
    await outboundOutcomes(ws, 5, 3);
    const id = await pendingMessage(ws, "stuck", Date.now() - 11 * MIN);
    await env.DB.prepare("UPDATE messages SET updated_at = ? WHERE id = ?")
      .bind(Date.now() - 11 * MIN, id)
      .run();
    await evaluateAlerts(env, Date.now());
    const open = (await call("GET", "/api/alerts", ws.account)).json.items;
    expect(open.map((a: { kind: string }) => a.kind)).toContain("stuck_pending");
    expect(open.map((a: { kind: string }) => a.kind)).not.toContain("failure_rate");
    expect(open.find((a: { kind: string }) => a.kind === "stuck_pending").details.messages).toBe(1);
  });

  it("are for admins only, and per workspace", async () => {
    const ws = await textingWorkspace();
    const agent = await addMember(ws.account.workspaceId, "agent");
    expect((await call("GET", "/api/alerts", agent)).status).toBe(403);
    const other = await textingWorkspace();
    await outboundOutcomes(other, 10, 10);
    await evaluateAlerts(env, Date.now());
    expect((await call("GET", "/api/alerts", ws.account)).json.items).toEqual([]);
  });
});
