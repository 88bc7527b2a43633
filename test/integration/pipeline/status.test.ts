import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { computeSignature } from "../../../src/channels/twilio/signature";
import { createDb } from "../../../src/db/client";
import { countingD1 } from "../../../src/db/counted";
import { applyStatusReport } from "../../../src/messaging/status";
import { call } from "../../helpers/api";
import { countRows } from "../../helpers/db";
import { getMessage, settle, textingWorkspace } from "../../helpers/pipeline";
import { openSocket } from "../../helpers/sockets";
import { deliver, eventually, type HeldRequest, takeHeld } from "../../helpers/twilio";

/** Sends a message and returns it once Twilio has it (status queued), with its held callbacks. */
async function sendAndWaitForHandover(ws: Awaited<ReturnType<typeof textingWorkspace>>, to = ws.customer) {
  const res = await call("POST", "/api/messages", { key: ws.key }, { body: { to, body: "status test" } });
  const msg = await eventually(async () => {
    const m = await getMessage(ws.key, res.json.id);
    return m.providerSid ? m : undefined;
  });
  const held = await eventually(async () => {
    const h = await takeHeld(to);
    return h.length > 0 ? h : undefined;
  });
  return { msg, held };
}

async function signedStatus(url: string, params: [string, string][]): Promise<HeldRequest> {
  return {
    url,
    body: new URLSearchParams(params).toString(),
    signature: await computeSignature(env.TWILIO_AUTH_TOKEN, url, params),
    kind: "status",
    messageSid: "",
    phone: "",
  };
}

describe("POST /webhooks/twilio/status (invariant 3)", () => {
  it("duplicated and reordered callbacks end in the right status, and every one is recorded", async () => {
    const ws = await textingWorkspace();
    const { msg, held } = await sendAndWaitForHandover(ws);
    expect(held.map((h) => new URLSearchParams(h.body).get("MessageStatus"))).toEqual(["sent", "delivered"]);
    const [sent, delivered] = held as [HeldRequest, HeldRequest];
    for (const req of [delivered, delivered, sent, sent, delivered]) expect((await deliver(req)).status).toBe(200);
    const final = await getMessage(ws.key, msg.id);
    expect(final.status).toBe("delivered");
    const webhookEvents = final.events.filter((e: { source: string }) => e.source === "webhook");
    expect(webhookEvents).toHaveLength(5);
    expect(webhookEvents.filter((e: { applied: boolean }) => e.applied)).toHaveLength(1);
  });

  it("never moves a terminal status back, and a late receipt upgrades delivery_unknown", async () => {
    const ws = await textingWorkspace();
    const { msg, held } = await sendAndWaitForHandover(ws);
    const [sent, delivered] = held as [HeldRequest, HeldRequest];
    await deliver(sent);
    expect((await getMessage(ws.key, msg.id)).status).toBe("sent");
    await env.DB.prepare("UPDATE messages SET status = 'delivery_unknown' WHERE id = ?").bind(msg.id).run();
    await deliver(sent);
    expect((await getMessage(ws.key, msg.id)).status).toBe("delivery_unknown");
    await deliver(delivered);
    expect((await getMessage(ws.key, msg.id)).status).toBe("delivered");
  });

  it("matches a callback that beats the send call's response by the mid in its URL", async () => {
    const ws = await textingWorkspace();
    // A pending message that Twilio has (sid unknown to us yet) reports on first.
    const res = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "early bird" } });
    await env.DB.prepare("UPDATE messages SET lease_until = ? WHERE id = ?")
      .bind(Date.now() + 60_000, res.json.id)
      .run();
    const sid = `SM${crypto.randomUUID().replaceAll("-", "")}`;
    const url = `${env.PUBLIC_BASE_URL}/webhooks/twilio/status?mid=${res.json.id}`;
    const req = await signedStatus(url, [
      ["MessageSid", sid],
      ["MessageStatus", "sent"],
      ["AccountSid", env.TWILIO_ACCOUNT_SID],
      ["From", ws.from],
      ["To", ws.customer],
    ]);
    expect((await deliver(req)).status).toBe(200);
    const msg = await getMessage(ws.key, res.json.id);
    expect(msg).toMatchObject({ status: "sent", providerSid: sid });
  });

  it("answers 200 to an unknown sid and stores nothing", async () => {
    const sid = `SM${crypto.randomUUID().replaceAll("-", "")}`;
    const req = await signedStatus(`${env.PUBLIC_BASE_URL}/webhooks/twilio/status`, [
      ["MessageSid", sid],
      ["MessageStatus", "delivered"],
    ]);
    const before = await countRows("message_events");
    expect((await deliver(req)).status).toBe(200);
    expect(await countRows("message_events")).toBe(before);
  });

  it("refuses a forged callback with 403 and leaves the message alone", async () => {
    const ws = await textingWorkspace();
    const { msg, held } = await sendAndWaitForHandover(ws);
    const forged = held[1]!.body.replace("delivered", "failed");
    expect((await deliver(held[1]!, { body: forged })).status).toBe(403);
    expect((await deliver(held[1]!, { signature: null })).status).toBe(403);
    expect((await getMessage(ws.key, msg.id)).status).toBe("queued");
  });

  it("keeps error code and message for undelivered, and a 21610 failure opts the contact out", async () => {
    const ws = await textingWorkspace();
    const { msg } = await sendAndWaitForHandover(ws);
    const url = `${env.PUBLIC_BASE_URL}/webhooks/twilio/status?mid=${msg.id}`;
    await deliver(
      await signedStatus(url, [
        ["MessageSid", msg.providerSid],
        ["MessageStatus", "failed"],
        ["ErrorCode", "21610"],
      ]),
    );
    const failed = await getMessage(ws.key, msg.id);
    expect(failed).toMatchObject({
      status: "failed",
      errorCode: 21610,
      errorMessage: "The recipient opted out (replied STOP)",
    });
    expect(failed.failedAt).not.toBeNull();
    const contact = (await call("GET", `/api/contacts?q=${encodeURIComponent(ws.customer)}`, { key: ws.key })).json
      .items[0];
    expect(contact.optedOut).toBe(true);
    // The consent change is audited like a STOP, once even when Twilio reports it again.
    await deliver(
      await signedStatus(url, [
        ["MessageSid", msg.providerSid],
        ["MessageStatus", "failed"],
        ["ErrorCode", "21610"],
      ]),
    );
    const audits = await env.DB.prepare(
      "SELECT data FROM audit_log WHERE workspace_id = ? AND action = 'contact.opted_out'",
    )
      .bind(ws.account.workspaceId)
      .all<{ data: string }>();
    expect(audits.results.map((r) => JSON.parse(r.data))).toEqual([
      { source: "twilio", keyword: "21610", reference: msg.id },
    ]);
  });

  it("an undelivered message keeps Twilio's error", async () => {
    const ws = await textingWorkspace();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: "+15005550010", body: "to a dead handset" } },
    );
    const final = await settle(ws.key, "+15005550010", res.json.id);
    expect(final).toMatchObject({
      status: "undelivered",
      errorCode: 30003,
      errorMessage: "The handset is unreachable",
    });
  });

  it("a callback naming its message and conversation is recorded in one round trip; its guards are in the statements", async () => {
    const ws = await textingWorkspace();
    const { msg, held } = await sendAndWaitForHandover(ws);
    const [sent] = held as [HeldRequest, HeldRequest];
    expect(new URL(sent.url).searchParams.get("cid")).toBe(msg.conversationId);
    const socket = await openSocket(`/api/conversations/${msg.conversationId}/ws`, { key: ws.key });
    expect((await deliver(sent)).status).toBe(200);
    expect((await socket.next((f) => f.type === "status")).status).toBe("sent");
    const events = async () => (await getMessage(ws.key, msg.id)).events.length;
    const before = await events();
    const db = createDb(env.DB);
    const report = { mid: msg.id, cid: msg.conversationId, MessageStatus: "failed" as const };
    // Another sid for this message, or a report signed by an account that is not its inbox's: nothing moves.
    await applyStatusReport({ env, db }, { ...report, MessageSid: `SM${"0".repeat(32)}` });
    await applyStatusReport({ env, db }, { ...report, MessageSid: msg.providerSid, account: `AC${"1".repeat(32)}` });
    expect(await getMessage(ws.key, msg.id)).toMatchObject({ status: "sent" });
    expect(await events()).toBe(before);
    // Naming another conversation (say, a URL from before a merge): the full path finds the message by id.
    const other = (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: "+14155550123" } })).json;
    const count = { roundTrips: 0, statements: 0 };
    await applyStatusReport(
      { env, db: createDb(countingD1(env.DB, count)), count },
      { ...report, cid: other.id, MessageSid: msg.providerSid, MessageStatus: "delivered" },
    );
    expect(await getMessage(ws.key, msg.id)).toMatchObject({ status: "delivered" });
    expect(count.roundTrips).toBeGreaterThan(1);
    expect((await socket.next((f) => f.type === "status" && f.status === "delivered")).messageId).toBe(msg.id);
    socket.ws.close();
  });
});
