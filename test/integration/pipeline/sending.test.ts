import { describe, expect, it } from "vitest";
import { addContact, call, randomUsNumber } from "../../helpers/api";
import { countRows } from "../../helpers/db";
import { getMessage, settle, textingWorkspace } from "../../helpers/pipeline";
import { emulatorMessages } from "../../helpers/twilio";

describe("POST /api/messages (API → queue → Twilio → callbacks)", () => {
  it("answers 202 pending, then reaches delivered with exactly one message at Twilio", async () => {
    const ws = await textingWorkspace();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "Your order is ready 📦" } },
    );
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({
      direction: "outbound",
      status: "pending",
      from: ws.from,
      to: ws.customer,
      body: "Your order is ready 📦",
      encoding: "UCS-2",
      segments: 1,
      seq: 1,
      providerSid: null,
    });
    const final = await settle(ws.key, ws.customer, res.json.id);
    expect(final.status).toBe("delivered");
    expect(final.providerSid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(final.sentAt).not.toBeNull();
    expect(final.deliveredAt).not.toBeNull();
    expect(final.events.map((e: { status: string }) => e.status)).toEqual(["pending", "queued", "sent", "delivered"]);
    const atTwilio = await emulatorMessages(ws.customer);
    expect(atTwilio).toHaveLength(1);
    expect(atTwilio[0]).toMatchObject({
      sid: final.providerSid,
      body: "Your order is ready 📦",
      from: ws.from,
      status: "delivered",
    });
  });

  it("sends in an existing conversation and lists the thread in seq order", async () => {
    const ws = await textingWorkspace();
    const contact = await addContact({ key: ws.key }, { phone: ws.customer });
    const conv = (await call("POST", "/api/conversations", { key: ws.key }, { body: { contactId: contact.id } })).json;
    const ids: string[] = [];
    for (const body of ["one", "two", "three"]) {
      const r = await call("POST", `/api/conversations/${conv.id}/messages`, { key: ws.key }, { body: { body } });
      expect(r.status).toBe(202);
      ids.push(r.json.id);
    }
    const thread = await call("GET", `/api/conversations/${conv.id}/messages`, { key: ws.key });
    expect(thread.json.items.map((m: { body: string }) => m.body)).toEqual(["one", "two", "three"]);
    const seqs = thread.json.items.map((m: { seq: number }) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const older = await call("GET", `/api/conversations/${conv.id}/messages?limit=2`, { key: ws.key });
    expect(older.json.items.map((m: { body: string }) => m.body)).toEqual(["two", "three"]);
    const before = await call("GET", `/api/conversations/${conv.id}/messages?before=${older.json.nextCursor}`, {
      key: ws.key,
    });
    expect(before.json.items.map((m: { body: string }) => m.body)).toEqual(["one"]);
    for (const id of ids) await settle(ws.key, ws.customer, id);
    expect(await emulatorMessages(ws.customer)).toHaveLength(3);
  });

  it("replays the first result for a repeated Idempotency-Key and refuses the key with another body", async () => {
    const ws = await textingWorkspace();
    const headers = { "Idempotency-Key": `order-${ws.customer}` };
    const first = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { headers, body: { to: ws.customer, body: "Once only" } },
    );
    const again = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { headers, body: { to: ws.customer, body: "Once only" } },
    );
    expect(again.status).toBe(202);
    expect(again.json.id).toBe(first.json.id);
    const other = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { headers, body: { to: ws.customer, body: "Something else" } },
    );
    expect(other.status).toBe(409);
    await settle(ws.key, ws.customer, first.json.id);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
    expect(await countRows("messages", "idempotency_key = ?", headers["Idempotency-Key"])).toBe(1);
  });

  it("concurrent requests with one Idempotency-Key store one message", async () => {
    const ws = await textingWorkspace();
    const headers = { "Idempotency-Key": `race-${ws.customer}` };
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        call("POST", "/api/messages", { key: ws.key }, { headers, body: { to: ws.customer, body: "Race" } }),
      ),
    );
    expect(new Set(results.map((r) => r.json.id)).size).toBe(1);
    await settle(ws.key, ws.customer, results[0]!.json.id);
    expect(await emulatorMessages(ws.customer)).toHaveLength(1);
  });

  it("computes segments and encoding as Twilio does", async () => {
    const ws = await textingWorkspace();
    const gsm = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: `${"a".repeat(152)}€${"a".repeat(152)}` } },
    );
    expect(gsm.json).toMatchObject({ encoding: "GSM-7", segments: 3 });
    const ucs = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, body: "😀".repeat(36) } },
    );
    expect(ucs.json).toMatchObject({ encoding: "UCS-2", segments: 2 });
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["an empty body", { body: "" }, "body"],
    ["a whitespace-only body", { body: "   " }, "body"],
    ["a body over 1,600 characters", { body: "x".repeat(1601) }, "body"],
    ["non-https media", { body: "pic", mediaUrls: ["http://example.com/a.png"] }, "mediaUrls.0"],
    [
      "more than 10 media URLs",
      { body: "pics", mediaUrls: Array.from({ length: 11 }, (_, i) => `https://example.com/${i}.png`) },
      "mediaUrls",
    ],
    ["an invalid recipient", { body: "hi", to: "555" }, "to"],
    ["an unknown field", { body: "hi", priority: "high" }, ""],
  ];
  for (const [what, body, field] of invalid) {
    it(`refuses ${what} with 422 naming the field, storing nothing`, async () => {
      const ws = await textingWorkspace();
      const before = await countRows("messages", "workspace_id = ?", ws.account.workspaceId);
      const res = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, ...body } });
      expect(res.status).toBe(422);
      expect(res.json.error.code).toBe("validation_failed");
      expect(res.json.error.details.fields[0].path).toBe(field);
      expect(await countRows("messages", "workspace_id = ?", ws.account.workspaceId)).toBe(before);
    });
  }

  it("refuses an unknown sender number and a workspace with none", async () => {
    const ws = await textingWorkspace();
    const res = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, from: randomUsNumber(), body: "hi" } },
    );
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("unknown_sender");
  });

  it("another workspace cannot read, cancel, retry or send into these messages (404)", async () => {
    const a = await textingWorkspace();
    const b = await textingWorkspace();
    const sent = await call("POST", "/api/messages", { key: a.key }, { body: { to: a.customer, body: "private" } });
    for (const [method, path] of [
      ["GET", `/api/messages/${sent.json.id}`],
      ["POST", `/api/messages/${sent.json.id}/cancel`],
      ["POST", `/api/messages/${sent.json.id}/retry`],
      ["GET", `/api/conversations/${sent.json.conversationId}/messages`],
    ] as const) {
      expect((await call(method, path, { key: b.key })).status).toBe(404);
    }
    // A scheduled message of A's cannot be edited by B either.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await call(
      "POST",
      "/api/messages",
      { key: a.key },
      { body: { to: a.customer, body: "later", sendAt: later } },
    );
    expect(
      (await call("PATCH", `/api/messages/${scheduled.json.id}`, { key: b.key }, { body: { body: "hijacked" } }))
        .status,
    ).toBe(404);
    expect((await getMessage(a.key, scheduled.json.id)).body).toBe("later");
    const into = await call(
      "POST",
      `/api/conversations/${sent.json.conversationId}/messages`,
      { key: b.key },
      { body: { body: "x" } },
    );
    expect(into.status).toBe(404);
    expect(
      (await call("POST", `/api/conversations/${sent.json.conversationId}/read`, b.account, { body: { seq: 1 } }))
        .status,
    ).toBe(404);
    await settle(a.key, a.customer, sent.json.id);
    expect((await getMessage(a.key, sent.json.id)).status).toBe("delivered");
  });
});
