/**
 * Email: inbound through the Worker's email() handler (what Email Routing calls), threaded by
 * Message-ID / In-Reply-To / References, deduplicated, files kept in R2, automatic replies dropped,
 * bounces failing the message they name; outbound through the Resend-compatible emulator with
 * threading headers and an idempotency key; delivery events verified (Svix signatures) and mapped.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleEmail } from "../../../src/email";
import { call, createKey, signup } from "../../helpers/api";
import { control, eventually } from "../../helpers/twilio";

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");

async function emailWorkspace() {
  const account = await signup();
  const key = await createKey(account);
  const address = `support-${hex(6)}@acme.example`;
  const inbox = await call("POST", "/api/inboxes", { key }, { body: { channel: "email", name: "Support", address } });
  expect(inbox.status).toBe(201);
  return { account, key, address, customer: `ana-${hex(6)}@customer.example` };
}

/** Hands a raw email to the Worker's email handler as Email Routing would. */
async function route(raw: string, from: string, to: string) {
  const bytes = new TextEncoder().encode(raw);
  let rejected: string | null = null;
  const message = {
    from,
    to,
    raw: new Response(bytes).body as ReadableStream<Uint8Array>,
    rawSize: bytes.byteLength,
    headers: new Headers(),
    setReject: (reason: string) => {
      rejected = reason;
    },
    forward: async () => ({ messageId: "" }),
    reply: async () => ({ messageId: "" }),
  } as unknown as ForwardableEmailMessage;
  await handleEmail(message, env);
  return { rejected };
}

/** The customer writes (the emulator's mailbox builds the MIME, held: the test routes it). */
async function customerEmails(input: Record<string, unknown> & { from: string; to: string }) {
  const out = await control<{ raw: string; messageId: string }>("/email/inbound", input);
  return { ...(await route(out.raw, input.from, input.to)), messageId: out.messageId };
}

async function sentEmails(to: string) {
  const { emails } = await control<{ emails: any[] }>("/email/messages");
  return emails.filter((e) => e.direction === "outbound" && e.to.includes(to));
}

async function deliverEvents(emailId: string) {
  const { events } = await control<{ events: { url: string; body: string; headers: Record<string, string> }[] }>(
    "/email/held",
    { emailId },
  );
  const statuses: number[] = [];
  for (const e of events) {
    const res = await exports.default.fetch(new Request(e.url, { method: "POST", headers: e.headers, body: e.body }));
    statuses.push(res.status);
  }
  return { events, statuses };
}

async function threadOf(key: string, conversationId: string) {
  return (await call("GET", `/api/conversations/${conversationId}/messages`, { key })).json.items as any[];
}

describe("email", () => {
  it("receives an email into a new contact's conversation, once, with its attachment kept in R2", async () => {
    const ws = await emailWorkspace();
    const mail = await customerEmails({
      from: ws.customer,
      to: ws.address,
      subject: "Where is my order?",
      text: "Hello, order 1234 has not arrived.",
      attachments: [{ filename: "receipt.pdf", contentType: "application/pdf", base64: btoa("%PDF-1.4 test") }],
    });
    expect(mail.rejected).toBeNull();
    const row = await env.DB.prepare(
      "SELECT conversation_id AS id FROM messages WHERE workspace_id = ? AND channel = 'email'",
    )
      .bind(ws.account.workspaceId)
      .first<{ id: string }>();
    const thread = await threadOf(ws.key, row?.id ?? "");
    expect(thread).toHaveLength(1);
    expect(thread[0]).toMatchObject({
      channel: "email",
      direction: "inbound",
      from: ws.customer,
      to: ws.address,
      subject: "Where is my order?",
      body: "Hello, order 1234 has not arrived.",
    });
    expect(thread[0].media[0]).toMatchObject({ name: "receipt.pdf", contentType: "application/pdf" });
    const file = await call("GET", thread[0].media[0].url, { key: ws.key });
    expect(file.text).toBe("%PDF-1.4 test");
    const conv = (await call("GET", `/api/conversations/${row?.id}`, { key: ws.key })).json;
    expect(conv.contact.email).toBe(ws.customer);
    // Email Routing may deliver the same message again: still one.
    const raw = (await control<{ emails: any[] }>("/email/messages")).emails.find(
      (e) => e.messageId === mail.messageId,
    );
    expect(raw).toBeTruthy();
    const again = await control<{ raw: string }>("/email/inbound", {
      from: ws.customer,
      to: ws.address,
      subject: "Where is my order?",
      text: "Hello, order 1234 has not arrived.",
    });
    // Same Message-ID as the first: rebuild it with the first one's id.
    await route(again.raw.replace(/^Message-ID: .*$/m, `Message-ID: ${mail.messageId}`), ws.customer, ws.address);
    expect(await threadOf(ws.key, row?.id ?? "")).toHaveLength(1);
  });

  it("replies with threading headers and Re: subject; the customer's answer threads back; events map to statuses", async () => {
    const ws = await emailWorkspace();
    const first = await customerEmails({
      from: ws.customer,
      to: ws.address,
      subject: "Refund",
      text: "I want a refund.",
    });
    const conv = await env.DB.prepare("SELECT conversation_id AS id FROM messages WHERE instr(provider_sid, ?) > 0")
      .bind(first.messageId)
      .first<{ id: string }>();
    const reply = await call(
      "POST",
      `/api/conversations/${conv?.id}/messages`,
      { key: ws.key },
      { body: { body: "Sure, done." } },
    );
    expect(reply.status).toBe(202);
    expect(reply.json).toMatchObject({ channel: "email", subject: "Re: Refund", to: ws.customer, from: ws.address });
    const [sent] = await eventually(async () => {
      const s = await sentEmails(ws.customer);
      return s.length > 0 ? s : undefined;
    });
    const domain = ws.address.split("@")[1];
    expect(sent).toMatchObject({ from: ws.address, subject: "Re: Refund", text: "Sure, done." });
    expect(sent.headers).toMatchObject({
      "Message-ID": `<${reply.json.id}@${domain}>`,
      "In-Reply-To": first.messageId,
      References: first.messageId,
    });
    // Delivery events, signed: sent then delivered.
    const { statuses } = await deliverEvents(sent.id);
    expect(statuses).toEqual([200, 200]);
    const msg = (await call("GET", `/api/messages/${reply.json.id}`, { key: ws.key })).json;
    expect(msg).toMatchObject({ status: "delivered", providerSid: sent.id });

    // The customer answers from another address, in thread: it joins the same conversation.
    const answer = await customerEmails({
      from: `colleague-${hex(4)}@customer.example`,
      to: ws.address,
      subject: "Re: Refund",
      text: "Thanks!",
      inReplyTo: `<${reply.json.id}@${domain}>`,
      references: `${first.messageId} <${reply.json.id}@${domain}>`,
    });
    expect(answer.rejected).toBeNull();
    const thread = await threadOf(ws.key, conv?.id ?? "");
    expect(thread.map((m) => m.body)).toEqual(["I want a refund.", "Sure, done.", "Thanks!"]);
  });

  it("refuses unsigned, forged and stale delivery events, changing nothing", async () => {
    const ws = await emailWorkspace();
    const sent = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, subject: "Hello", body: "First" } },
    );
    expect(sent.status).toBe(202);
    const [email] = await eventually(async () => {
      const s = await sentEmails(ws.customer);
      return s.length > 0 ? s : undefined;
    });
    const { events } = await control<{ events: { url: string; body: string; headers: Record<string, string> }[] }>(
      "/email/held",
      { emailId: email.id },
    );
    const delivered = events.find((e) => e.body.includes("email.delivered"));
    if (!delivered) throw new Error("no delivered event");
    const post = (headers: Record<string, string>, body = delivered.body) =>
      exports.default.fetch(new Request(delivered.url, { method: "POST", headers, body }));
    expect((await post({ "Content-Type": "application/json" })).status).toBe(401);
    expect((await post({ ...delivered.headers, "svix-signature": "v1,Zm9yZ2Vk" })).status).toBe(401);
    expect((await post(delivered.headers, delivered.body.replace("email.delivered", "email.bounced"))).status).toBe(
      401,
    );
    expect(
      (await post({ ...delivered.headers, "svix-timestamp": String(Math.floor(Date.now() / 1000) - 3600) })).status,
    ).toBe(401);
    const msg = (await call("GET", `/api/messages/${sent.json.id}`, { key: ws.key })).json;
    expect(msg.status).not.toBe("delivered");
    expect(msg.status).not.toBe("undelivered");
  });

  it("a bounce (event or DSN email) makes the message undelivered with the reason; auto-replies are dropped", async () => {
    const ws = await emailWorkspace();
    const to = `bounce-${hex(4)}@customer.example`;
    const sent = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to, subject: "Hi", body: "Will bounce" } },
    );
    const [email] = await eventually(async () => {
      const s = await sentEmails(to);
      return s.length > 0 ? s : undefined;
    });
    await deliverEvents(email.id);
    const bounced = (await call("GET", `/api/messages/${sent.json.id}`, { key: ws.key })).json;
    expect(bounced).toMatchObject({ status: "undelivered", errorCode: 61003 });
    expect(bounced.errorMessage).toMatch(/rejected|bounced/);

    // A DSN from the recipient's server, quoting our Message-ID.
    const other = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: ws.customer, subject: "Hi", body: "Also bounces" } },
    );
    await eventually(async () => (await sentEmails(ws.customer)).length > 0);
    const domain = ws.address.split("@")[1];
    const dsn = [
      "From: Mail Delivery Subsystem <mailer-daemon@customer.example>",
      `To: ${ws.address}`,
      "Subject: Undelivered Mail Returned to Sender",
      `Message-ID: <dsn-${hex(8)}@customer.example>`,
      "MIME-Version: 1.0",
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      "",
      "--b1",
      "Content-Type: text/plain",
      "",
      "Your message could not be delivered.",
      "--b1",
      "Content-Type: text/rfc822-headers",
      "",
      `Message-ID: <${other.json.id}@${domain}>`,
      "--b1--",
      "",
    ].join("\r\n");
    await route(dsn, "mailer-daemon@customer.example", ws.address);
    const dsnBounced = await eventually(async () => {
      const m = (await call("GET", `/api/messages/${other.json.id}`, { key: ws.key })).json;
      return m.status === "undelivered" ? m : undefined;
    });
    expect(dsnBounced.errorCode).toBe(61003);

    // An out-of-office answer stores nothing.
    const before = await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE workspace_id = ?")
      .bind(ws.account.workspaceId)
      .first<{ n: number }>();
    await customerEmails({
      from: ws.customer,
      to: ws.address,
      subject: "Out of office",
      text: "I am away until Monday.",
      headers: { "Auto-Submitted": "auto-replied" },
    });
    const after = await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE workspace_id = ?")
      .bind(ws.account.workspaceId)
      .first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("rejects email to an address no inbox has, and a first email needs a subject", async () => {
    const ws = await emailWorkspace();
    const nobody = await customerEmails({
      from: ws.customer,
      to: `nobody-${hex(6)}@acme.example`,
      subject: "x",
      text: "x",
    });
    expect(nobody.rejected).toBe("No such mailbox.");
    const noSubject = await call(
      "POST",
      "/api/messages",
      { key: ws.key },
      { body: { to: `new-${hex(4)}@customer.example`, body: "hi" } },
    );
    expect(noSubject.status).toBe(422);
    expect(noSubject.json.error.code).toBe("subject_required");
  });
});
