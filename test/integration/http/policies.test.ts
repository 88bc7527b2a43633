/**
 * Sending policies and findability: templates with variables and fallbacks, custom contact fields, and
 * full-text search over messages and contacts (kept in step with writes and purges, per workspace).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runJob } from "../../../src/cron";
import { renderTemplate } from "../../../src/domain/templates";
import { purgeExpired } from "../../../src/messaging/retention";
import { call, signup } from "../../helpers/api";
import { addMember, countRows } from "../../helpers/db";
import { type TextingWorkspace, textingWorkspace } from "../../helpers/pipeline";
import { deliver, emulatorMessages, eventually, inboundText } from "../../helpers/twilio";

async function textIn(ws: TextingWorkspace, body: string) {
  const { held } = await inboundText({ from: ws.customer, to: ws.from, body });
  for (const req of held) expect((await deliver(req)).status).toBe(200);
}

describe("templates", () => {
  const ctx = {
    contact: { name: "Casey Jones", phone: "+14155552671", email: null, fields: { order: "A-17" } },
    agent: { name: "Sam" },
    workspace: { name: "Olive's" },
  };

  it("renders variables, fallbacks and request values; reports what is missing", () => {
    expect(
      renderTemplate(
        "Hi {{contact.firstName}}, order {{contact.fields.order}} — {{agent.name}} at {{workspace.name}}",
        ctx,
      ),
    ).toEqual({
      ok: true,
      body: "Hi Casey, order A-17 — Sam at Olive's",
    });
    expect(
      renderTemplate("Hi {{ contact.firstName | there }}", { ...ctx, contact: { ...ctx.contact, name: null } }),
    ).toEqual({
      ok: true,
      body: "Hi there",
    });
    expect(renderTemplate("Code {{code}}", ctx, { code: "1234" })).toEqual({ ok: true, body: "Code 1234" });
    expect(renderTemplate("{{code}} {{contact.fields.size}} {{code}}", ctx)).toEqual({
      ok: false,
      missing: ["code", "contact.fields.size"],
    });
  });

  it("admins write templates, everyone uses them; a send renders one for the contact, or 422 names the missing variable", async () => {
    const ws = await textingWorkspace();
    const agent = await addMember(ws.account.workspaceId, "agent");
    const created = await call("POST", "/api/templates", ws.account, {
      body: {
        name: "Order ready",
        body: "Hi {{contact.firstName|there}}, order {{contact.fields.order}} is ready. {{agent.name}}",
        shortcut: "ready",
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.variables).toEqual(["contact.firstName", "contact.fields.order", "agent.name"]);
    expect((await call("POST", "/api/templates", agent, { body: { name: "x", body: "y" } })).status).toBe(403);
    expect(
      (await call("POST", "/api/templates", ws.account, { body: { name: "Order ready", body: "dup" } })).status,
    ).toBe(409);
    expect((await call("GET", "/api/templates", agent)).json.items).toHaveLength(1);

    const contact = await call("POST", "/api/contacts", ws.account, {
      body: { phone: ws.customer, name: "Casey Jones", fields: { order: "A-17" }, timezone: "America/Chicago" },
    });
    expect(contact.status, contact.text).toBe(201);
    expect(contact.json).toMatchObject({ fields: { order: "A-17" }, timezone: "America/Chicago" });
    const preview = await call("POST", `/api/templates/${created.json.id}/preview`, agent, {
      body: { contactId: contact.json.id },
    });
    expect(preview.json).toEqual({
      body: "Hi Casey, order A-17 is ready. Member agent",
      segments: 1,
      encoding: "GSM-7",
    });

    const conv = await call("POST", "/api/conversations", agent, { body: { contactId: contact.json.id } });
    const sent = await call("POST", `/api/conversations/${conv.json.id}/messages`, agent, {
      body: { templateId: created.json.id },
    });
    expect(sent.status, sent.text).toBe(202);
    expect(sent.json.body).toBe("Hi Casey, order A-17 is ready. Member agent");

    // Without the field and without a fallback: 422 naming it, and nothing stored.
    await call("PATCH", `/api/contacts/${contact.json.id}`, ws.account, { body: { fields: {} } });
    const before = await countRows("messages", "conversation_id = ?", conv.json.id);
    const missing = await call("POST", `/api/conversations/${conv.json.id}/messages`, agent, {
      body: { templateId: created.json.id },
    });
    expect(missing.status).toBe(422);
    expect(missing.json.error).toMatchObject({
      code: "template_variable_missing",
      details: { missing: ["contact.fields.order"] },
    });
    expect(await countRows("messages", "conversation_id = ?", conv.json.id)).toBe(before);
    // Values in the request fill it; an API key is nobody's name, so {{agent.name}} needs one too.
    const keyed = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      {
        body: { to: ws.customer, templateId: created.json.id, variables: { "contact.fields.order": "B-2" } },
      },
    );
    expect(keyed.json.error.details.missing).toEqual(["agent.name"]);
    const filled = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      {
        body: {
          to: ws.customer,
          templateId: created.json.id,
          variables: { "contact.fields.order": "B-2", "agent.name": "The Shop" },
        },
      },
    );
    expect(filled.status, filled.text).toBe(202);
    expect(filled.json.body).toBe("Hi Casey, order B-2 is ready. The Shop");
    // Body and template together, or neither: 422.
    expect((await call("POST", `/api/conversations/${conv.json.id}/messages`, agent, { body: {} })).status).toBe(422);
    expect(
      (
        await call("POST", `/api/conversations/${conv.json.id}/messages`, agent, {
          body: { body: "x", templateId: created.json.id },
        })
      ).status,
    ).toBe(422);
    // Another workspace's template is a 404, for sends and previews alike.
    const other = await signup();
    expect((await call("GET", "/api/templates", other)).json.items).toEqual([]);
    expect((await call("PATCH", `/api/templates/${created.json.id}`, other, { body: { name: "x" } })).status).toBe(404);
    expect((await call("DELETE", `/api/templates/${created.json.id}`, other)).status).toBe(404);
    const otherContact = await call("POST", "/api/contacts", other, { body: { phone: "+14155550199" } });
    expect(
      (
        await call("POST", `/api/templates/${created.json.id}/preview`, other, {
          body: { contactId: otherContact.json.id },
        })
      ).status,
    ).toBe(404);
    expect(
      (await call("POST", "/api/templates", ws.account, { body: { name: "bad", body: "x", shortcut: "Has Space" } }))
        .status,
    ).toBe(422);
  });

  it("contact fields and time zones are validated", async () => {
    const a = await signup();
    expect(
      (await call("POST", "/api/contacts", a, { body: { phone: "+14155550101", timezone: "Mars/Olympus" } })).status,
    ).toBe(422);
    expect(
      (await call("POST", "/api/contacts", a, { body: { phone: "+14155550101", fields: { "bad key": "x" } } })).status,
    ).toBe(422);
    expect(await countRows("contacts", "workspace_id = ?", a.workspaceId)).toBe(0);
  });
});

describe("full-text search", () => {
  let ws: TextingWorkspace;
  beforeAll(async () => {
    ws = await textingWorkspace();
    await textIn(ws, "Is the walnut desk still available in oak?");
    await textIn(ws, "Also, what about shipping to Zürich?");
  });

  it("finds words (and prefixes, accents folded) in message bodies, with marked ranges, newest first", async () => {
    const res = await call("GET", "/api/search?q=walnut", ws.account);
    expect(res.status, res.text).toBe(200);
    const hit = res.json.items.find((i: { message: unknown }) => i.message);
    expect(hit.conversation.contact.phone).toBe(ws.customer);
    const { text, highlights } = hit.message.snippet;
    expect(highlights).toHaveLength(1);
    const [start, end] = highlights[0];
    expect(text.slice(start, end).toLowerCase()).toBe("walnut");
    expect(
      (await call("GET", "/api/search?q=zuri", ws.account)).json.items.filter((i: { message: unknown }) => i.message),
    ).toHaveLength(1);
    expect(
      (await call("GET", "/api/search?q=walnut%20oak", ws.account)).json.items.filter(
        (i: { message: unknown }) => i.message,
      ),
    ).toHaveLength(1);
    expect(
      (await call("GET", "/api/search?q=walnut%20pine", ws.account)).json.items.filter(
        (i: { message: unknown }) => i.message,
      ),
    ).toHaveLength(0);
    // FTS syntax in the query is just text.
    expect((await call("GET", `/api/search?q=${encodeURIComponent('walnut" OR "x')}`, ws.account)).status).toBe(200);
    expect((await call("GET", "/api/search?q=walnut&direction=outbound", ws.account)).json.items).toEqual([]);
  });

  it("finds contacts by name or phone digits; pages by cursor", async () => {
    const conv = (await call("GET", "/api/conversations", ws.account)).json.items[0];
    await call("PATCH", `/api/contacts/${conv.contact.id}`, ws.account, { body: { name: "Ingrid Bergman" } });
    const byName = await call("GET", "/api/search?q=ingr", ws.account);
    expect(byName.json.items[0]).toMatchObject({ message: null, conversation: { id: conv.id } });
    const byPhone = await call("GET", `/api/search?q=${ws.customer.slice(-6)}`, ws.account);
    expect(byPhone.json.items.some((i: { conversation: { id: string } }) => i.conversation.id === conv.id)).toBe(true);
    for (let i = 0; i < 3; i++) await textIn(ws, `pagination probe ${i}`);
    const first = await call("GET", "/api/search?q=probe&limit=2", ws.account);
    expect(first.json.items).toHaveLength(2);
    const second = await call("GET", `/api/search?q=probe&limit=2&cursor=${first.json.nextCursor}`, ws.account);
    expect(second.json.items).toHaveLength(1);
    expect(second.json.nextCursor).toBeNull();
  });

  it("never finds another workspace's messages, and a retention purge removes text from the index", async () => {
    const other = await textingWorkspace();
    const mine = await call("GET", "/api/search?q=walnut", other.account);
    expect(mine.json.items).toEqual([]);
    expect((await call("GET", "/api/search?q=walnut", { key: other.key })).json.items).toEqual([]);

    await env.DB.prepare("UPDATE messages SET created_at = created_at - 40 * 86400000 WHERE workspace_id = ?")
      .bind(ws.account.workspaceId)
      .run();
    await call("PATCH", "/api/workspace", ws.account, { body: { retentionDays: 30 } });
    await runJob(env, "retention", () => purgeExpired(env, Date.now()));
    expect(
      (await call("GET", "/api/search?q=walnut", ws.account)).json.items.filter((i: { message: unknown }) => i.message),
    ).toEqual([]);
  });
});

describe("quiet hours", () => {
  /** A window around now in UTC: start an hour ago, end in an hour (so now is quiet). */
  function windowAroundNow() {
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const now = Date.now();
    return { start: hhmm(now - 3_600_000), end: hhmm(now + 3_600_000) };
  }

  it("is off until an admin turns it on; defer stores the text scheduled for the window's end with its reason", async () => {
    const ws = await textingWorkspace();
    const contact = await call("POST", "/api/contacts", ws.account, { body: { phone: ws.customer, timezone: "UTC" } });
    const conv = await call("POST", "/api/conversations", ws.account, { body: { contactId: contact.json.id } });
    expect((await call("GET", "/api/workspace", ws.account)).json.quietHours).toBeNull();
    const agent = await addMember(ws.account.workspaceId, "agent");
    expect((await call("PATCH", "/api/workspace", agent, { body: { quietHours: null } })).status).toBe(403);
    const { start, end } = windowAroundNow();
    const set = await call("PATCH", "/api/workspace", ws.account, {
      body: { quietHours: { start, end, mode: "defer", exemptRepliesWithinHours: 24 } },
    });
    expect(set.status, set.text).toBe(200);
    expect(set.json.quietHours).toEqual({ start, end, mode: "defer", exemptRepliesWithinHours: 24 });

    const sent = await call("POST", `/api/conversations/${conv.json.id}/messages`, ws.account, {
      body: { body: "late" },
    });
    expect(sent.status).toBe(202);
    expect(sent.json).toMatchObject({ status: "scheduled", deferredReason: "quiet_hours" });
    const until = Date.parse(sent.json.sendAt);
    expect(new Date(until).toISOString().slice(11, 16)).toBe(end);
    expect(until).toBeGreaterThan(Date.now());
    expect(until - Date.now()).toBeLessThan(2 * 3_600_000);
    // It is cancellable like any scheduled message.
    expect((await call("POST", `/api/messages/${sent.json.id}/cancel`, ws.account)).json.status).toBe("canceled");
  });

  it("refuse answers 422 quiet_hours with the next allowed time and stores nothing; a reply within the window goes", async () => {
    const ws = await textingWorkspace();
    const { start, end } = windowAroundNow();
    await call("PATCH", "/api/workspace", ws.account, {
      body: { quietHours: { start, end, mode: "refuse", exemptRepliesWithinHours: 24 }, timezone: "UTC" },
    });
    const refused = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "promo" } });
    expect(refused.status).toBe(422);
    expect(refused.json.error.code).toBe("quiet_hours");
    expect(new Date(refused.json.error.details.nextAllowedAt).toISOString().slice(11, 16)).toBe(end);
    expect(await countRows("messages", "workspace_id = ? AND direction = 'outbound'", ws.account.workspaceId)).toBe(0);

    // The customer writes: a reply now is within the exempt window.
    await textIn(ws, "are you open?");
    const reply = await call("POST", "/api/messages", { key: ws.key }, { body: { to: ws.customer, body: "Yes!" } });
    expect(reply.status, reply.text).toBe(202);
    expect(reply.json.status).toBe("pending");
  });

  it("a scheduled message that comes due in quiet hours waits until they end (cron), visibly", async () => {
    const ws = await textingWorkspace();
    const conv = await call("POST", "/api/conversations", ws.account, { body: { phone: ws.customer } });
    const scheduled = await call("POST", `/api/conversations/${conv.json.id}/messages`, ws.account, {
      body: { body: "reminder", sendAt: new Date(Date.now() + 120_000).toISOString() },
    });
    expect(scheduled.json.status).toBe("scheduled");
    const { start, end } = windowAroundNow();
    await call("PATCH", "/api/workspace", ws.account, {
      body: { quietHours: { start, end, mode: "refuse", exemptRepliesWithinHours: 0 }, timezone: "UTC" },
    });
    const { runMinuteJobs } = await import("../../../src/cron");
    const ran = await runMinuteJobs(env, Date.now() + 180_000);
    expect(ran.scheduled).toMatchObject({ deferred: 1, claimed: 0 });
    const after = (await call("GET", `/api/messages/${scheduled.json.id}`, ws.account)).json;
    expect(after).toMatchObject({ status: "scheduled", deferredReason: "quiet_hours" });
    expect(new Date(after.sendAt).toISOString().slice(11, 16)).toBe(end);
  });

  it("settings are validated (clock times, zones) and audited with before/after", async () => {
    const a = await signup();
    const bad = await call("PATCH", "/api/workspace", a, { body: { quietHours: { start: "25:00", end: "08:00" } } });
    expect(bad.status).toBe(422);
    expect((await call("PATCH", "/api/workspace", a, { body: { timezone: "Nowhere/Place" } })).status).toBe(422);
    await call("PATCH", "/api/workspace", a, { body: { quietHours: { start: "21:00", end: "08:00" } } });
    const audit = await call("GET", "/api/audit?action=workspace.updated", a);
    expect(audit.json.items[0].data).toMatchObject({
      before: { quietHours: null },
      after: { quietHours: { start: "21:00", end: "08:00", mode: "defer", exemptRepliesWithinHours: 24 } },
    });
  });
});

describe("business hours and the away reply", () => {
  it("outside business hours a text gets the away reply once per 12 h, in the thread as sentBy system; never to a keyword", async () => {
    const ws = await textingWorkspace();
    const set = await call("PATCH", "/api/workspace", ws.account, {
      body: { businessHours: {}, awayMessage: "We're closed now; we'll reply in the morning.", timezone: "UTC" },
    });
    expect(set.status, set.text).toBe(200);
    await textIn(ws, "hello?");
    await textIn(ws, "anyone?");
    const conv = (await call("GET", "/api/conversations", ws.account)).json.items[0];
    const thread = (await call("GET", `/api/conversations/${conv.id}/messages`, ws.account)).json.items;
    const away = thread.filter((m: { direction: string }) => m.direction === "outbound");
    expect(away).toHaveLength(1);
    expect(away[0]).toMatchObject({
      body: "We're closed now; we'll reply in the morning.",
      sentBy: { type: "system", id: null, name: "Away reply" },
    });
    expect(["pending", "queued", "sending", "sent", "delivered"]).toContain(away[0].status);
    // After the 12 h window a new text gets it again; a keyword never does.
    await env.DB.prepare("UPDATE conversations SET away_sent_at = away_sent_at - 13 * 3600000 WHERE id = ?")
      .bind(conv.id)
      .run();
    await textIn(ws, "HELP");
    expect(await countRows("messages", "conversation_id = ? AND direction = 'outbound'", conv.id)).toBe(1);
    await textIn(ws, "still there?");
    expect(await countRows("messages", "conversation_id = ? AND direction = 'outbound'", conv.id)).toBe(2);
  });

  it("a number that opted out gets no away reply (compliance), even outside business hours", async () => {
    const ws = await textingWorkspace();
    await call("PATCH", "/api/workspace", ws.account, {
      body: { businessHours: {}, awayMessage: "closed", timezone: "UTC" },
    });
    await textIn(ws, "STOP");
    await textIn(ws, "actually one question");
    expect(await countRows("messages", "workspace_id = ? AND direction = 'outbound'", ws.account.workspaceId)).toBe(0);
  });

  it("inside business hours, or with no hours set, there is no away reply", async () => {
    const ws = await textingWorkspace();
    const allDay = Object.fromEntries(
      ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => [d, [["00:00", "00:00"]]]),
    );
    await call("PATCH", "/api/workspace", ws.account, {
      body: { businessHours: allDay, awayMessage: "closed", timezone: "UTC" },
    });
    await textIn(ws, "hi");
    expect(await countRows("messages", "workspace_id = ? AND direction = 'outbound'", ws.account.workspaceId)).toBe(0);
    const bad = await call("PATCH", "/api/workspace", ws.account, {
      body: { businessHours: { funday: [["09:00", "17:00"]] } },
    });
    expect(bad.status).toBe(422);
  });
});

describe("send limits and fairness", () => {
  it("a member may send 30 a minute: the 31st is 429 with Retry-After and RateLimit-* headers; an admin can raise it", async () => {
    const ws = await textingWorkspace();
    const conv = await call("POST", "/api/conversations", ws.account, { body: { phone: ws.customer } });
    const send = () =>
      call("POST", `/api/conversations/${conv.json.id}/messages`, ws.account, {
        body: { body: "hi", sendAt: new Date(Date.now() + 3_600_000).toISOString() },
      });
    let last = await send();
    expect(last.headers.get("RateLimit-Limit")).toBe("30");
    expect(last.headers.get("RateLimit-Remaining")).toBe("29");
    for (let i = 1; i < 30; i++) last = await send();
    expect(last.status).toBe(202);
    const over = await send();
    expect(over.status).toBe(429);
    expect(over.json.error).toMatchObject({ code: "rate_limited", details: { scope: "user", limit: 30 } });
    expect(Number(over.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(over.headers.get("RateLimit-Remaining")).toBe("0");
    // An integration's key is held to the workspace's limit, not a member's minute.
    const viaKey = await call(
      "POST",
      `/api/conversations/${conv.json.id}/messages`,
      { key: ws.key },
      { body: { body: "from the key" } },
    );
    expect(viaKey.status).toBe(202);
    // An admin raises the member limit (up to the schema's maximum); the limiter takes it at once.
    const raised = await call("PATCH", "/api/workspace", ws.account, { body: { userSendsPerMinute: 100 } });
    expect(raised.json.limits.userSendsPerMinute).toBe(100);
    expect((await send()).status).toBe(202);
    expect((await call("PATCH", "/api/workspace", ws.account, { body: { userSendsPerMinute: 100000 } })).status).toBe(
      422,
    );
    expect((await call("PATCH", "/api/workspace", ws.account, { body: { workspaceSendsPerSecond: 101 } })).status).toBe(
      422,
    );
  });

  it("the workspace's burst caps all its senders together", async () => {
    const ws = await textingWorkspace();
    await call("PATCH", "/api/workspace", ws.account, { body: { workspaceSendBurst: 3, workspaceSendsPerSecond: 1 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call(
        "POST",
        "/api/messages",
        { key: ws.key },
        { body: { to: ws.customer, body: `burst ${i}` } },
      );
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses.at(-1)).toBe(429);
  });

  it("one workspace's flood of 500 queued sends does not hold another workspace's send: it reaches Twilio within 2 s", async () => {
    const a = await textingWorkspace();
    const b = await textingWorkspace();
    // A sends at 10/s with a burst of 10 (the fair share a workspace gets); B at the defaults.
    await call("PATCH", "/api/workspace", a.account, { body: { workspaceSendsPerSecond: 10, workspaceSendBurst: 10 } });
    // 500 pending messages in A, stored directly (one thread) and enqueued the way sends enqueue them.
    const conv = await call("POST", "/api/conversations", { key: a.key }, { body: { phone: a.customer } });
    const ids = Array.from(
      { length: 500 },
      (_, i) => `msg_flood${String(i).padStart(4, "0")}${crypto.randomUUID().slice(0, 8)}`,
    );
    const now = Date.now();
    for (let i = 0; i < ids.length; i += 100) {
      await env.DB.batch(
        ids.slice(i, i + 100).map((id, j) =>
          env.DB.prepare(
            `INSERT INTO messages (id, workspace_id, conversation_id, seq, direction, channel, from_number, to_number, body, status, segments, encoding, created_at, updated_at)
             VALUES (?, ?, ?, ?, 'outbound', 'sms', ?, ?, 'flood', 'pending', 1, 'GSM-7', ?, ?)`,
          ).bind(id, a.account.workspaceId, conv.json.id, i + j + 1, a.from, a.customer, now, now),
        ),
      );
    }
    await env.DB.prepare("UPDATE conversations SET last_seq = 500 WHERE id = ?").bind(conv.json.id).run();
    for (let i = 0; i < ids.length; i += 100) {
      await env.OUTBOUND.sendBatch(
        ids.slice(i, i + 100).map((messageId) => ({ body: { messageId, workspaceId: a.account.workspaceId } })),
      );
    }
    const started = Date.now();
    const sent = await call(
      "POST",
      "/api/messages",
      { key: b.key },
      { body: { to: b.customer, body: "B's one text" } },
    );
    expect(sent.status).toBe(202);
    await eventually(async () => (await emulatorMessages(b.customer)).length === 1, 10_000, "B's text at Twilio");
    const waited = Date.now() - started;
    expect(waited).toBeLessThan(2_000);
    // A's flood is paced at its workspace rate, not dropped: it keeps going out.
    expect((await emulatorMessages(a.customer)).length).toBeGreaterThan(0);
  });
});

describe("contacts at scale: filters and history", () => {
  it("filters contacts by a conversation label and by a custom field, and gives a contact's history with consent changes", async () => {
    const ws = await textingWorkspace();
    const contact = await call("POST", "/api/contacts", ws.account, {
      body: { phone: ws.customer, name: "Vera Vip", fields: { tier: "gold" } },
    });
    await call("POST", "/api/contacts", ws.account, {
      body: { phone: "+14155550177", name: "Other", fields: { tier: "silver" } },
    });
    await textIn(ws, "hello");
    await textIn(ws, "STOP");
    await textIn(ws, "START");
    const conv = (await call("GET", "/api/conversations", ws.account)).json.items[0];
    await call("POST", "/api/labels", ws.account, { body: { name: "VIP" } });
    await call("PATCH", `/api/conversations/${conv.id}`, ws.account, { body: { labels: ["VIP"] } });
    await call("POST", `/api/conversations/${conv.id}/messages`, ws.account, { body: { body: "welcome back" } });

    const byLabel = await call("GET", "/api/contacts?label=VIP", ws.account);
    expect(byLabel.json.items.map((c: { id: string }) => c.id)).toEqual([contact.json.id]);
    const byField = await call("GET", "/api/contacts?field=tier:gold", ws.account);
    expect(byField.json.items.map((c: { id: string }) => c.id)).toEqual([contact.json.id]);
    expect((await call("GET", "/api/contacts?field=nokey", ws.account)).status).toBe(422);

    const history = await call("GET", `/api/contacts/${contact.json.id}/history`, ws.account);
    expect(history.status, history.text).toBe(200);
    expect(history.json).toMatchObject({
      contactId: contact.json.id,
      conversations: [{ id: conv.id, status: "open" }],
      inbound: 3,
      outbound: 1,
    });
    expect(history.json.consent.map((e: { optedOut: boolean }) => e.optedOut)).toEqual([false, true]);
    expect(history.json.consent[1]).toMatchObject({ source: "keyword", keyword: "STOP" });
    const other = await signup();
    expect((await call("GET", `/api/contacts/${contact.json.id}/history`, other)).status).toBe(404);
  });
});
