import { beforeAll, describe, expect, it } from "vitest";
import { type Account, addContact, addNumber, call, createKey, signup } from "../../helpers/api";

/**
 * Invariant 5: a user or API key sees and changes only its own workspace. Every route that takes
 * an id answers 404 for another workspace's id, and lists never show another workspace's rows.
 */
describe("workspace isolation", () => {
  let a: Account;
  let b: Account;
  let bKey: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    a = await signup();
    b = await signup();
    bKey = await createKey(b);
    ids.bNumber = (await addNumber(b)).phoneNumber;
    ids.bContact = (await addContact(b)).id;
    const number = await addNumber(a);
    const contact = await addContact(a, { name: "Secret Customer" });
    const conv = await call("POST", "/api/conversations", a, { body: { contactId: contact.id } });
    const key = await call("POST", "/api/api-keys", a, { body: { name: "a-key" } });
    ids.number = number.id;
    ids.contact = contact.id;
    ids.conversation = conv.json.id;
    ids.apiKey = key.json.id;
    const label = await call("POST", "/api/labels", a, { body: { name: "a-label" } });
    ids.label = label.json.id;
    const invitation = await call("POST", "/api/invitations", a, { body: { email: "invitee@example.com" } });
    ids.invitation = invitation.json.id;
    ids.member = (await call("GET", "/api/members", a)).json.items[0].id;
    ids.template = (
      await call("POST", "/api/templates", a, { body: { name: "t", body: "Hi {{contact.name}}" } })
    ).json.id;
    ids.inbox = (
      await call("POST", "/api/inboxes", a, {
        body: { channel: "email", name: "A mail", address: `a-${Date.now().toString(36)}@a.example` },
      })
    ).json.id;
    const upload = await call("POST", "/api/attachments?name=a.txt", a, {
      rawBody: "secret file",
      headers: { "Content-Type": "text/plain" },
    });
    ids.attachment = upload.json.id;
  });

  const byId: [string, string, (ids: Record<string, string>) => string, unknown?][] = [
    ["GET", "contact", (i) => `/api/contacts/${i.contact}`],
    ["PATCH", "inbox", (i) => `/api/inboxes/${i.inbox}`, { name: "pwned" }],
    ["DELETE", "inbox", (i) => `/api/inboxes/${i.inbox}`],
    ["GET", "attachment", (i) => `/api/attachments/${i.attachment}`],
    ["GET", "attachment's file", (i) => `/api/attachments/${i.attachment}/content`],
    ["GET", "contact's history", (i) => `/api/contacts/${i.contact}/history`],
    ["GET", "import", (i) => `/api/imports/${i.import}`],
    ["GET", "export", (i) => `/api/exports/${i.export}`],
    ["GET", "import's errors", (i) => `/api/imports/${i.import}/errors.csv`],
    ["PATCH", "contact", (i) => `/api/contacts/${i.contact}`, { name: "pwned" }],
    ["DELETE", "contact", (i) => `/api/contacts/${i.contact}`],
    ["GET", "conversation", (i) => `/api/conversations/${i.conversation}`],
    ["PATCH", "conversation", (i) => `/api/conversations/${i.conversation}`, { status: "resolved" }],
    [
      "PATCH",
      "conversation's sender",
      (i) => `/api/conversations/${i.conversation}`,
      (i: Record<string, string>) => ({ from: i.bNumber }),
    ],
    ["DELETE", "number", (i) => `/api/numbers/${i.number}`],
    ["DELETE", "number (cancelling its messages)", (i) => `/api/numbers/${i.number}?cancel=true`],
    ["PATCH", "number", (i) => `/api/numbers/${i.number}`, { ratePerSecond: 1 }],
    ["DELETE", "api key", (i) => `/api/api-keys/${i.apiKey}`],
    ["PATCH", "conversation's assignee", (i) => `/api/conversations/${i.conversation}`, { assignee: null }],
    ["PATCH", "conversation's labels", (i) => `/api/conversations/${i.conversation}`, { labels: [] }],
    ["POST", "conversation's notes", (i) => `/api/conversations/${i.conversation}/notes`, { body: "pwned" }],
    ["GET", "conversation's notes", (i) => `/api/conversations/${i.conversation}/notes`],
    ["PATCH", "label", (i) => `/api/labels/${i.label}`, { name: "pwned" }],
    ["DELETE", "label", (i) => `/api/labels/${i.label}`],
    ["DELETE", "invitation", (i) => `/api/invitations/${i.invitation}`],
    ["PATCH", "member", (i) => `/api/members/${i.member}`, { role: "viewer" }],
    ["DELETE", "member", (i) => `/api/members/${i.member}`],
    ["PATCH", "template", (i) => `/api/templates/${i.template}`, { name: "pwned" }],
    ["DELETE", "template", (i) => `/api/templates/${i.template}`],
    [
      "POST",
      "template's preview",
      (i) => `/api/templates/${i.template}/preview`,
      (i: Record<string, string>) => ({ contactId: i.bContact }),
    ],
  ];

  for (const [method, what, path, bodyOf] of byId) {
    it(`${method} another workspace's ${what} → 404 (session and API key)`, async () => {
      const body = typeof bodyOf === "function" ? bodyOf(ids) : bodyOf;
      const viaSession = await call(method, path(ids), b, { body });
      expect(viaSession.status).toBe(404);
      expect(viaSession.json.error.code).toBe("not_found");
      if (what !== "api key") {
        const viaKey = await call(method, path(ids), { key: bKey }, { body });
        expect(viaKey.status).toBe(404);
      }
    });
  }

  it("the owner's data is untouched after those attempts", async () => {
    expect((await call("GET", `/api/contacts/${ids.contact}`, a)).json.name).toBe("Secret Customer");
    expect((await call("GET", `/api/conversations/${ids.conversation}`, a)).json.status).toBe("open");
    expect((await call("GET", "/api/numbers", a)).json.items.map((n: { id: string }) => n.id)).toContain(ids.number);
    expect((await call("GET", "/api/api-keys", a)).json.items.map((k: { id: string }) => k.id)).toContain(ids.apiKey);
    expect((await call("GET", "/api/labels", a)).json.items.map((l: { name: string }) => l.name)).toEqual(["a-label"]);
    expect((await call("GET", "/api/invitations", a)).json.items.map((i: { id: string }) => i.id)).toEqual([
      ids.invitation,
    ]);
    expect((await call("GET", "/api/members", a)).json.items).toMatchObject([{ id: ids.member, role: "owner" }]);
    expect((await call("GET", `/api/conversations/${ids.conversation}/notes`, a)).json.items).toEqual([]);
  });

  it("another workspace's members, labels and notifications never show, and cannot be assigned or applied", async () => {
    const bMembers = (await call("GET", "/api/members", b)).json.items;
    expect(bMembers.map((m: { userId: string }) => m.userId)).toEqual([b.userId]);
    const bConv = await call("POST", "/api/conversations", { key: bKey }, { body: { phone: "+14155550123" } });
    const assign = await call("PATCH", `/api/conversations/${bConv.json.id}`, b, { body: { assignee: a.userId } });
    expect(assign.status).toBe(422);
    const label = await call("PATCH", `/api/conversations/${bConv.json.id}`, b, { body: { labels: [ids.label] } });
    expect(label.status).toBe(422);
    expect((await call("GET", "/api/labels", b)).json.items).toEqual([]);
    expect((await call("GET", "/api/notifications", b)).json.items).toEqual([]);
    expect((await call("POST", "/api/notifications/read", { key: bKey }, { body: { all: true } })).status).toBe(403);
  });

  it("cannot start a conversation with another workspace's contact or number", async () => {
    expect((await call("POST", "/api/conversations", { key: bKey }, { body: { contactId: ids.contact } })).status).toBe(
      404,
    );
    const aNumber = (await call("GET", "/api/numbers", a)).json.items[0].phoneNumber;
    const other = await addContact({ key: bKey });
    const res = await call(
      "POST",
      "/api/conversations",
      { key: bKey },
      { body: { contactId: other.id, from: aNumber } },
    );
    expect(res.status).toBe(422);
  });

  it("lists and searches never include another workspace's rows", async () => {
    for (const who of [b, { key: bKey }]) {
      const contacts = await call("GET", "/api/contacts?q=Secret", who);
      expect(contacts.json.items).toEqual([]);
      const convs = await call("GET", "/api/conversations", who);
      expect(convs.json.items.map((c: { id: string }) => c.id)).not.toContain(ids.conversation);
      const numbers = await call("GET", "/api/numbers", who);
      expect(numbers.json.items.map((n: { id: string }) => n.id)).not.toContain(ids.number);
      const inboxes = await call("GET", "/api/inboxes", who);
      expect(inboxes.json.items.map((n: { id: string }) => n.id)).not.toContain(ids.inbox);
    }
    const keys = await call("GET", "/api/api-keys", b);
    expect(keys.json.items.map((k: { id: string }) => k.id)).not.toContain(ids.apiKey);
  });
});
