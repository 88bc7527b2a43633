/**
 * MMS and attachments: uploads kept in R2, checked against the channel's limits, handed to Twilio as
 * signed, expiring links; inbound media copied into R2 by a job with the account's credentials;
 * retention deletes the objects with the messages.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { purgeExpired } from "../../../src/messaging/retention";
import { call, createKey, signup } from "../../helpers/api";
import { textingWorkspace } from "../../helpers/pipeline";
import { control, deliver, emulatorMessages, eventually, takeHeld } from "../../helpers/twilio";

// A 1×1 PNG.
const PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

async function upload(key: string, bytes: Uint8Array, type: string, name: string) {
  return call(
    "POST",
    `/api/attachments?name=${encodeURIComponent(name)}`,
    { key },
    {
      rawBody: new TextDecoder("latin1").decode(bytes),
      headers: { "Content-Type": type },
    },
  );
}

async function uploadBytes(key: string, bytes: Uint8Array, type: string, name: string) {
  const res = await exports.default.fetch(
    new Request(`https://parley.test/api/attachments?name=${encodeURIComponent(name)}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": type, Origin: "https://parley.test" },
      body: bytes,
    }),
  );
  return { status: res.status, json: (await res.json()) as any };
}

describe("MMS and attachments", () => {
  it("sends an uploaded image as MMS through a signed link that only works unaltered and unexpired", async () => {
    const ws = await textingWorkspace();
    const up = await uploadBytes(ws.key, PNG, "image/png", "dot.png");
    expect(up.status).toBe(201);
    expect(up.json).toMatchObject({ name: "dot.png", contentType: "image/png", size: PNG.length });
    const sent = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "Your receipt", attachmentIds: [up.json.id] } },
    );
    expect(sent.status).toBe(202);
    expect(sent.json.channel).toBe("mms");
    expect(sent.json.media).toEqual([
      {
        url: `/api/attachments/${up.json.id}/content`,
        contentType: "image/png",
        attachmentId: up.json.id,
        name: "dot.png",
        size: PNG.length,
      },
    ]);
    const [atTwilio] = await eventually(async () => {
      const m = await emulatorMessages(ws.customer);
      return m.length > 0 ? m : undefined;
    });
    expect(atTwilio.num_media).toBe("1");
    const link = new URL(atTwilio.media_urls[0]);
    expect(link.origin).toBe("https://parley.test");
    expect(link.pathname).toBe(`/media/${up.json.id}`);
    // Twilio's fetch (no session): the exact bytes.
    const fetched = await exports.default.fetch(new Request(link.toString()));
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get("Content-Type")).toBe("image/png");
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(PNG);
    // Altered signature, or an expiry moved later: refused.
    const tampered = new URL(link);
    tampered.searchParams.set("sig", `${tampered.searchParams.get("sig")?.slice(0, -2)}AA`);
    expect((await exports.default.fetch(new Request(tampered.toString()))).status).toBe(403);
    const later = new URL(link);
    later.searchParams.set("expires", String(Number(later.searchParams.get("expires")) + 1000));
    expect((await exports.default.fetch(new Request(later.toString()))).status).toBe(403);
    const expired = new URL(link);
    expired.searchParams.set("expires", String(Date.now() - 1000));
    expect((await exports.default.fetch(new Request(expired.toString()))).status).toBe(403);
    // Members read it signed in; the row points at the message now.
    const mine = await call("GET", `/api/attachments/${up.json.id}`, { key: ws.key });
    expect(mine.json.messageId).toBe(sent.json.id);
  });

  it("checks files against Twilio's limits: at most 10, 5 MB in all, known types, this workspace's own", async () => {
    const ws = await textingWorkspace();
    const one = (await uploadBytes(ws.key, PNG, "image/png", "a.png")).json.id;
    const many = Array.from({ length: 11 }, () => one);
    const tooMany = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "x", attachmentIds: many } },
    );
    expect(tooMany.status).toBe(422);
    const big = new Uint8Array(3 * 1024 * 1024);
    const b1 = (await uploadBytes(ws.key, big, "image/jpeg", "1.jpg")).json.id;
    const b2 = (await uploadBytes(ws.key, big, "image/jpeg", "2.jpg")).json.id;
    const tooBig = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "x", attachmentIds: [b1, b2] } },
    );
    expect(tooBig.status).toBe(422);
    expect(tooBig.json.error.code).toBe("attachments_too_large");
    const html = (await uploadBytes(ws.key, new TextEncoder().encode("<b>x</b>"), "text/html", "x.html")).json.id;
    const type = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "x", attachmentIds: [html] } },
    );
    expect(type.status).toBe(422);
    expect(type.json.error.code).toBe("attachment_type_not_supported");
    const other = await signup();
    const otherKey = await createKey(other);
    const theirs = (await uploadBytes(otherKey, PNG, "image/png", "theirs.png")).json.id;
    const foreign = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "x", attachmentIds: [theirs] } },
    );
    expect(foreign.status).toBe(422);
    expect(foreign.json.error.code).toBe("attachment_not_found");
    expect((await call("GET", `/api/attachments/${theirs}`, { key: ws.key })).status).toBe(404);
    expect((await call("GET", `/api/attachments/${theirs}/content`, { key: ws.key })).status).toBe(404);
    expect((await upload(ws.key, new Uint8Array(0), "image/png", "empty.png")).status).toBe(422);
  });

  it("copies a customer's MMS image into R2 (with the account's credentials) and shows Parley's link", async () => {
    const ws = await textingWorkspace();
    const base64 = btoa(String.fromCharCode(...PNG));
    const { sid } = await control<{ sid: string }>("/inbound", {
      from: ws.customer,
      to: ws.from,
      body: "here is a photo",
      media: [{ contentType: "image/png", base64 }],
    });
    const held = (await control<{ requests: any[] }>("/held", { phone: ws.customer, sid })).requests;
    for (const req of held) expect((await deliver(req)).status).toBe(200);
    const kept = await eventually(
      async () => {
        const row = await env.DB.prepare("SELECT media, conversation_id FROM messages WHERE provider_sid = ?")
          .bind(sid)
          .first<{ media: string; conversation_id: string }>();
        const media = JSON.parse(row?.media ?? "[]") as { attachmentId?: string; url: string }[];
        return media[0]?.attachmentId ? { media, conversationId: row?.conversation_id } : undefined;
      },
      20_000,
      "the media copy job",
    );
    expect(kept.media[0]?.url).toBe(`/api/attachments/${kept.media[0]?.attachmentId}/content`);
    const content = await call("GET", kept.media[0]?.url ?? "", { key: ws.key });
    expect(content.status).toBe(200);
    expect(content.headers.get("Content-Type")).toBe("image/png");
    const thread = (await call("GET", `/api/conversations/${kept.conversationId}/messages`, { key: ws.key })).json
      .items;
    expect(thread.at(-1).media[0].attachmentId).toBe(kept.media[0]?.attachmentId);
    await takeHeld(ws.customer);
  });

  it("retention deletes the files of the messages it erases", async () => {
    const ws = await textingWorkspace();
    const up = (await uploadBytes(ws.key, PNG, "image/png", "old.png")).json.id;
    const sent = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "old", attachmentIds: [up] } },
    );
    await eventually(async () => (await emulatorMessages(ws.customer)).length > 0);
    for (const req of await takeHeld(ws.customer)) await deliver(req);
    await eventually(async () => {
      for (const req of await takeHeld(ws.customer)) await deliver(req);
      const msg = (await call("GET", `/api/messages/${sent.json.id}`, { key: ws.key })).json;
      return ["sent", "delivered"].includes(msg.status);
    });
    const key =
      (await env.DB.prepare("SELECT key FROM attachments WHERE id = ?").bind(up).first<{ key: string }>())?.key ?? "";
    expect(await env.FILES.head(key)).not.toBeNull();
    await env.DB.batch([
      env.DB.prepare("UPDATE workspaces SET retention_days = 30 WHERE id = ?").bind(ws.account.workspaceId),
      env.DB.prepare("UPDATE messages SET created_at = ? WHERE id = ?").bind(
        Date.now() - 40 * 86_400_000,
        sent.json.id,
      ),
    ]);
    await purgeExpired(env, Date.now());
    expect(await env.FILES.head(key)).toBeNull();
    expect(await env.DB.prepare("SELECT id FROM attachments WHERE id = ?").bind(up).first()).toBeNull();
  });
});
