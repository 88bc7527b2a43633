import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { permissionFor } from "../../../src/http/permissions";
import { roomFor } from "../../../src/rooms/conversation-room";
import { addContact, addNumber, call, createKey, randomUsNumber, signup } from "../../helpers/api";
import { addMember, countRows } from "../../helpers/db";

describe("API keys", () => {
  it("shows the key once, stores only its hash, authenticates with Bearer, and stops working when revoked", async () => {
    const a = await signup();
    const created = await call("POST", "/api/api-keys", a, { body: { name: "zapier" } });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(String),
      name: "zapier",
      prefix: expect.any(String),
      key: expect.any(String),
      // No scopes asked for: send, read and keep contacts, but not administer.
      scopes: ["messages:send", "messages:read", "contacts:write"],
      createdAt: expect.any(String),
    });
    const { key, prefix, id } = created.json;
    expect(key.startsWith(prefix)).toBe(true);
    expect(await countRows("api_keys", "key_hash = ? OR prefix = ?", key, key)).toBe(0);

    const list = await call("GET", "/api/api-keys", a);
    expect(list.json.items).toEqual([expect.objectContaining({ id, name: "zapier", prefix })]);
    expect(list.text).not.toContain(key);

    const me = await call("GET", "/api/me", { key });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ via: "api_key", user: null, workspace: { id: a.workspaceId } });

    expect((await call("DELETE", `/api/api-keys/${id}`, a)).status).toBe(204);
    expect((await call("GET", "/api/me", { key })).status).toBe(401);
    expect((await call("DELETE", `/api/api-keys/${id}`, a)).status).toBe(404);
  });

  it("refuses malformed and unknown bearer tokens with 401", async () => {
    expect((await call("GET", "/api/me", {}, { headers: { Authorization: "Bearer pk_nope" } })).status).toBe(401);
    expect((await call("GET", "/api/me", {}, { headers: { Authorization: "Basic abc" } })).status).toBe(401);
  });

  it("lets only owners and admins manage keys and numbers; agents get 403", async () => {
    const a = await signup();
    const agent = await addMember(a.workspaceId, "agent");
    const admin = await addMember(a.workspaceId, "admin");
    expect((await call("POST", "/api/api-keys", agent, { body: { name: "x" } })).status).toBe(403);
    expect((await call("GET", "/api/api-keys", agent)).status).toBe(403);
    expect((await call("POST", "/api/numbers", agent, { body: { phoneNumber: randomUsNumber() } })).status).toBe(403);
    expect((await call("POST", "/api/api-keys", admin, { body: { name: "x" } })).status).toBe(201);
    expect((await call("POST", "/api/numbers", admin, { body: { phoneNumber: randomUsNumber() } })).status).toBe(201);
    // Agents still read numbers and work with contacts.
    expect((await call("GET", "/api/numbers", agent)).status).toBe(200);
    expect((await call("POST", "/api/contacts", agent, { body: { phone: randomUsNumber() } })).status).toBe(201);
  });

  it("a key created without scopes sends, reads and keeps contacts, but settings, retention, numbers, keys and operations answer 403 insufficient_scope", async () => {
    const a = await signup();
    const admin = await createKey(a, "admin");
    await addNumber({ key: admin });
    const key = await createKey(a, "default", null);
    const customer = randomUsNumber();
    expect((await call("POST", "/api/messages", { key }, { body: { to: customer, body: "hi" } })).status).toBe(202);
    expect((await call("GET", "/api/conversations", { key })).status).toBe(200);
    expect((await call("POST", "/api/contacts", { key }, { body: { phone: randomUsNumber() } })).status).toBe(201);
    const refused: [string, string, unknown?][] = [
      ["PATCH", "/api/workspace", { helpText: "x" }],
      ["PATCH", "/api/workspace", { retentionDays: 30 }],
      ["POST", "/api/numbers", { phoneNumber: randomUsNumber() }],
      ["GET", "/api/api-keys"],
      ["GET", "/api/ops/delivery"],
    ];
    for (const [method, path, body] of refused) {
      const res = await call(method, path, { key }, { body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error).toMatchObject({ code: "insufficient_scope", details: { required: "admin" } });
    }
    expect((await call("PATCH", "/api/workspace", { key: admin }, { body: { helpText: "Hi" } })).status).toBe(200);
    // An empty change is a no-op answered with the settings (it was a 500).
    const empty = await call("PATCH", "/api/workspace", { key: admin }, { body: {} });
    expect([empty.status, empty.json.helpText]).toEqual([200, "Hi"]);
  });

  it("holds a key to exactly the scopes it was given, and refuses unknown scopes with 422", async () => {
    const a = await signup();
    await addNumber(a);
    const reader = await createKey(a, "reader", ["messages:read"]);
    expect((await call("GET", "/api/conversations", { key: reader })).status).toBe(200);
    const send = await call("POST", "/api/messages", { key: reader }, { body: { to: randomUsNumber(), body: "x" } });
    expect(send.status).toBe(403);
    expect(send.json.error.details.required).toBe("messages:send");
    const write = await call("POST", "/api/contacts", { key: reader }, { body: { phone: randomUsNumber() } });
    expect(write.json.error.code).toBe("insufficient_scope");
    const listed = (await call("GET", "/api/api-keys", a)).json.items;
    expect(listed.find((k: { name: string }) => k.name === "reader").scopes).toEqual(["messages:read"]);
    const bad = await call("POST", "/api/api-keys", a, { body: { name: "x", scopes: ["root"] } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.details.fields[0].path).toMatch(/^scopes/);
  });

  it("the operations view is for owners and admins, and counts only their workspace", async () => {
    const a = await signup();
    const b = await signup();
    await addNumber(b);
    await call("POST", "/api/messages", b, { body: { to: randomUsNumber(), body: "b's" } });
    const agent = await addMember(a.workspaceId, "agent");
    expect((await call("GET", "/api/ops/delivery", agent)).status).toBe(403);
    const view = await call("GET", "/api/ops/delivery", a);
    expect(view.status).toBe(200);
    const total = Object.values(view.json.byStatus as Record<string, number>).reduce((x, y) => x + y, 0);
    expect(total).toBe(0);
    for (const job of view.json.jobs) expect(job.lastResult).toBeNull();
  });

  it("does not let an API key mint more keys", async () => {
    const a = await signup();
    const key = await createKey(a);
    const res = await call("POST", "/api/api-keys", { key }, { body: { name: "more" } });
    expect(res.status).toBe(403);
    // Not even an admin-scoped one.
    expect(
      (await call("POST", "/api/api-keys", { key: await createKey(a, "admin") }, { body: { name: "m" } })).status,
    ).toBe(403);
  });
});

describe("numbers", () => {
  it("normalises to E.164 and refuses invalid numbers with 422 naming the field", async () => {
    const a = await signup();
    const res = await call("POST", "/api/numbers", a, { body: { phoneNumber: "(415) 555-2671", label: "Main" } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ phoneNumber: "+14155552671", label: "Main" });
    const bad = await call("POST", "/api/numbers", a, { body: { phoneNumber: "12" } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.details.fields[0].path).toBe("phoneNumber");
    expect(bad.json.error.message).toMatch(/phoneNumber/);
  });

  it("keeps a number unique across the whole deployment", async () => {
    const a = await signup();
    const b = await signup();
    const phoneNumber = randomUsNumber();
    expect((await call("POST", "/api/numbers", a, { body: { phoneNumber } })).status).toBe(201);
    const dup = await call("POST", "/api/numbers", b, { body: { phoneNumber } });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe("conflict");
  });
});

describe("contacts", () => {
  it("creates, reads, updates and deletes a contact", async () => {
    const a = await signup();
    const created = await call("POST", "/api/contacts", a, {
      body: { name: "Ada Lovelace", phone: "415-555-0101", email: "Ada@Example.com" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(String),
      name: "Ada Lovelace",
      phone: "+14155550101",
      email: "ada@example.com",
      optedOut: false,
      createdAt: expect.stringMatching(/Z$/),
      fields: {},
      timezone: null,
      identities: [
        { channel: "sms", address: "+14155550101" },
        { channel: "whatsapp", address: "whatsapp:+14155550101" },
        { channel: "email", address: "ada@example.com" },
      ],
    });
    const id = created.json.id;
    expect((await call("GET", `/api/contacts/${id}`, a)).json.name).toBe("Ada Lovelace");
    const patched = await call("PATCH", `/api/contacts/${id}`, a, { body: { name: "Ada King", email: null } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: "Ada King", email: null, phone: "+14155550101" });
    expect((await call("DELETE", `/api/contacts/${id}`, a)).status).toBe(204);
    expect((await call("GET", `/api/contacts/${id}`, a)).status).toBe(404);
  });

  it("answers 409 for a duplicate phone in the workspace (also on PATCH), but allows it in another workspace", async () => {
    const a = await signup();
    const b = await signup();
    const phone = randomUsNumber();
    await addContact(a, { phone });
    expect((await call("POST", "/api/contacts", a, { body: { phone } })).status).toBe(409);
    const other = await addContact(a);
    expect((await call("PATCH", `/api/contacts/${other.id}`, a, { body: { phone } })).status).toBe(409);
    expect((await call("POST", "/api/contacts", b, { body: { phone } })).status).toBe(201);
  });

  it("searches by name, phone and email", async () => {
    const a = await signup();
    await addContact(a, { name: "Grace Hopper", phone: "+14155550111", email: "grace@navy.example" });
    await addContact(a, { name: "Alan Turing", phone: "+14155550222", email: "alan@bletchley.example" });
    const names = async (q: string) =>
      (await call("GET", `/api/contacts?q=${encodeURIComponent(q)}`, a)).json.items.map(
        (c: { name: string }) => c.name,
      );
    expect(await names("grace")).toEqual(["Grace Hopper"]);
    expect(await names("bletchley")).toEqual(["Alan Turing"]);
    expect(await names("(415) 555-0222")).toEqual(["Alan Turing"]);
    expect(await names("5550111")).toEqual(["Grace Hopper"]);
    // LIKE wildcards in the query are literal characters, not patterns.
    await addContact(a, { name: "50% Off Club", phone: "+14155550333" });
    await addContact(a, { name: "a_b Corp", phone: "+14155550444" });
    await addContact(a, { name: "axb Corp", phone: "+14155550555" });
    expect(await names("50%")).toEqual(["50% Off Club"]);
    expect(await names("%")).toEqual(["50% Off Club"]);
    expect(await names("a_b")).toEqual(["a_b Corp"]);
  });

  it("paginates with an opaque cursor and rejects a forged one", async () => {
    const a = await signup();
    for (let i = 0; i < 5; i++) await addContact(a, { name: `Page ${i}` });
    const first = await call("GET", "/api/contacts?limit=2", a);
    expect(first.json.items).toHaveLength(2);
    const second = await call("GET", `/api/contacts?limit=2&cursor=${first.json.nextCursor}`, a);
    const third = await call("GET", `/api/contacts?limit=2&cursor=${second.json.nextCursor}`, a);
    const all = [...first.json.items, ...second.json.items, ...third.json.items].map((c: { name: string }) => c.name);
    expect(new Set(all).size).toBe(5);
    expect(third.json.nextCursor).toBeNull();
    const forged = await call("GET", "/api/contacts?cursor=%%%", a);
    expect(forged.status).toBe(400);
  });

  it("stores SQL and HTML verbatim and returns them as inert JSON", async () => {
    const a = await signup();
    const name = `Robert'); DROP TABLE contacts;-- <script>alert("x")</script>`;
    const res = await call("POST", "/api/contacts", a, { body: { name, phone: randomUsNumber() } });
    expect(res.status).toBe(201);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect((await call("GET", `/api/contacts/${res.json.id}`, a)).json.name).toBe(name);
    expect(await countRows("contacts")).toBeGreaterThan(0);
  });
});

describe("conversations", () => {
  it("finds or creates the conversation for a contact (by id or phone) from a sender number", async () => {
    const a = await signup();
    const num = await addNumber(a);
    const contact = await addContact(a, { name: "Linus" });
    const first = await call("POST", "/api/conversations", a, { body: { contactId: contact.id } });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({
      contact: { id: contact.id, name: "Linus" },
      from: num.phoneNumber,
      status: "open",
      lastMessage: null,
      unreadCount: 0,
      lastMessageAt: null,
    });
    const again = await call("POST", "/api/conversations", a, { body: { phone: contact.phone } });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
    const byNewPhone = await call("POST", "/api/conversations", a, { body: { phone: "+1 415 555 0199" } });
    expect(byNewPhone.status).toBe(201);
    expect(byNewPhone.json.contact.phone).toBe("+14155550199");
  });

  it("explains what is missing: no sender number, unknown sender, neither contactId nor phone", async () => {
    const a = await signup();
    const contact = await addContact(a);
    const none = await call("POST", "/api/conversations", a, { body: { contactId: contact.id } });
    expect(none.status).toBe(422);
    expect(none.json.error.code).toBe("no_sender");
    await addNumber(a);
    const unknown = await call("POST", "/api/conversations", a, {
      body: { contactId: contact.id, from: randomUsNumber() },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.json.error.details.field).toBe("from");
    expect((await call("POST", "/api/conversations", a, { body: {} })).status).toBe(422);
  });

  it("lists most recent first with last message preview and unread count, paginated", async () => {
    const a = await signup();
    await addNumber(a);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const contact = await addContact(a, { name: `Person ${i}` });
      const conv = await call("POST", "/api/conversations", a, { body: { contactId: contact.id } });
      ids.push(conv.json.id);
    }
    // An inbound text in the first conversation makes it the most recent, with one unread.
    const conv0 = (await call("GET", `/api/conversations/${ids[0]}`, a)).json;
    await roomFor(env, conv0.id).appendMessage({
      id: `msg_test${Date.now()}`,
      workspaceId: a.workspaceId,
      conversationId: conv0.id,
      direction: "inbound",
      fromNumber: conv0.contact.phone,
      toNumber: conv0.from,
      body: "Is my order ready?",
      status: "received",
      segments: 1,
      encoding: "GSM-7",
      providerSid: `SM${crypto.randomUUID().replaceAll("-", "")}`,
      createdAt: Date.now() + 1000,
    });
    const page1 = await call("GET", "/api/conversations?limit=2", a);
    expect(page1.status).toBe(200);
    expect(page1.json.items.map((c: { id: string }) => c.id)).toEqual([ids[0], ids[2]]);
    expect(page1.json.items[0]).toMatchObject({
      unreadCount: 1,
      lastMessage: { body: "Is my order ready?", direction: "inbound", seq: 1 },
    });
    expect(page1.json.items[0].lastMessageAt).toEqual(page1.json.items[0].lastMessage.createdAt);
    const page2 = await call("GET", `/api/conversations?limit=2&cursor=${page1.json.nextCursor}`, a);
    expect(page2.json.items.map((c: { id: string }) => c.id)).toEqual([ids[1]]);
    expect(page2.json.nextCursor).toBeNull();

    const closed = await call("PATCH", `/api/conversations/${ids[1]}`, a, { body: { status: "resolved" } });
    expect(closed.json.status).toBe("resolved");
    const open = await call("GET", "/api/conversations?status=open", a);
    expect(open.json.items.map((c: { id: string }) => c.id)).not.toContain(ids[1]);
    const search = await call("GET", "/api/conversations?q=Person%202", a);
    expect(search.json.items.map((c: { id: string }) => c.id)).toEqual([ids[2]]);
  });
});

describe("the permission table", () => {
  it("names the scope of every API route in the OpenAPI document (none falls through to the admin default)", async () => {
    const doc = (await call("GET", "/api/openapi.json")).json as { paths: Record<string, Record<string, unknown>> };
    const open = new Set([
      "/api/healthz",
      "/api/auth/signup",
      "/api/auth/login",
      "/api/auth/password/reset",
      "/api/auth/password/reset/confirm",
      "/api/openapi.json",
      "/api/docs",
    ]);
    const missing: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      const concrete = path.replace(/\{[^}]+\}/g, "x1");
      if (open.has(concrete)) continue;
      for (const method of Object.keys(methods)) {
        if (!permissionFor(method.toUpperCase(), concrete)) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(missing).toEqual([]);
    expect(Object.keys(doc.paths).length).toBeGreaterThan(15);
  });
});
