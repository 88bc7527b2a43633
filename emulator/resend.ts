/**
 * The email side of the emulator: a Resend-compatible API (`POST /resend/emails`, Bearer key,
 * Idempotency-Key) whose delivery events go to the app signed as Resend signs them (Svix: svix-id,
 * svix-timestamp, svix-signature = v1,base64(HMAC-SHA256(secret, id.timestamp.body))), and the
 * customer's mailbox: emails to the app are raw MIME delivered to wrangler's local email trigger
 * (`/cdn-cgi/handler/email`), as Cloudflare Email Routing would. Addresses starting with `bounce`
 * bounce; `complain@…` complains.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface EmulatedEmail {
  id: string;
  direction: "outbound" | "inbound";
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
  headers: Record<string, string>;
  attachments: { filename: string; path?: string; contentType?: string; size?: number }[];
  /** sent, delivered, bounced, complained (outbound); received (inbound). */
  status: string;
  messageId: string;
  createdAt: number;
}

export interface HeldEmailEvent {
  url: string;
  body: string;
  headers: Record<string, string>;
  emailId: string;
  type: string;
}

export interface ResendOptions {
  apiKey: string;
  webhookSecret: string;
  /** Where events and inbound emails go (the app's origin). */
  appUrl?: string;
  hold: () => boolean;
  delays: () => { sentMs: number; finalMs: number };
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Resend's (Svix's) signature over `id.timestamp.body` with the secret after `whsec_`. */
export function signSvix(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** A plain RFC 5322 message with optional attachments (multipart/mixed), as a customer's mail client writes it. */
export function buildMime(email: {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  messageId: string;
  inReplyTo?: string;
  references?: string;
  headers?: Record<string, string>;
  attachments?: { filename: string; contentType: string; base64: string }[];
}): string {
  const lines = [
    `From: ${email.from}`,
    `To: ${email.to}`,
    `Subject: ${email.subject}`,
    `Message-ID: ${email.messageId}`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
  ];
  if (email.inReplyTo) lines.push(`In-Reply-To: ${email.inReplyTo}`);
  if (email.references) lines.push(`References: ${email.references}`);
  for (const [k, v] of Object.entries(email.headers ?? {})) lines.push(`${k}: ${v}`);
  const textPart = ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", email.text];
  const parts: string[][] = [textPart];
  if (email.html) {
    parts.push(["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", email.html]);
  }
  const files = email.attachments ?? [];
  if (parts.length === 1 && files.length === 0) return [...lines, ...textPart].join("\r\n");
  const boundary = `b_${randomBytes(8).toString("hex")}`;
  const body: string[] = [];
  for (const part of parts) body.push(`--${boundary}`, ...part);
  for (const f of files) {
    body.push(
      `--${boundary}`,
      `Content-Type: ${f.contentType}; name="${f.filename}"`,
      `Content-Disposition: attachment; filename="${f.filename}"`,
      "Content-Transfer-Encoding: base64",
      "",
      ...(f.base64.match(/.{1,76}/g) ?? []),
    );
  }
  body.push(`--${boundary}--`, "");
  const type = files.length > 0 ? "multipart/mixed" : "multipart/alternative";
  return [...lines, `Content-Type: ${type}; boundary="${boundary}"`, "", ...body].join("\r\n");
}

export class ResendEmulator {
  readonly emails = new Map<string, EmulatedEmail>();
  readonly heldEvents: HeldEmailEvent[] = [];
  /** Further API keys (an inbox's own Resend account). */
  readonly apiKeys = new Set<string>();
  private readonly idempotency = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly stats = { sends: 0, replays: 0, events: 0, inbound: 0 };

  constructor(readonly options: ResendOptions) {}

  reset(): void {
    this.emails.clear();
    this.heldEvents.length = 0;
    this.idempotency.clear();
    this.apiKeys.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.stats.sends = 0;
    this.stats.replays = 0;
    this.stats.events = 0;
    this.stats.inbound = 0;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
  }

  private authorized(req: IncomingMessage): boolean {
    const key = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    return key !== undefined && (key === this.options.apiKey || this.apiKeys.has(key));
  }

  /** `/resend/emails` (POST) and `/resend/emails/:id` (GET). */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, body: string): Promise<void> {
    if (!this.authorized(req)) {
      return json(res, 401, { statusCode: 401, name: "missing_api_key", message: "Missing or invalid API key" });
    }
    const one = /^\/emails\/([^/]+)$/.exec(path);
    if (one && req.method === "GET") {
      const email = this.emails.get(one[1] ?? "");
      if (!email) return json(res, 404, { statusCode: 404, name: "not_found", message: "Email not found" });
      return json(res, 200, { object: "email", last_event: email.status, ...email });
    }
    if (path !== "/emails" || req.method !== "POST") {
      return json(res, 404, { statusCode: 404, name: "not_found", message: "Not found" });
    }
    const key = req.headers["idempotency-key"];
    const idemKey = typeof key === "string" ? key : null;
    if (idemKey && this.idempotency.has(idemKey)) {
      this.stats.replays++;
      return json(res, 200, { id: this.idempotency.get(idemKey) });
    }
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return json(res, 422, { statusCode: 422, name: "validation_error", message: "Invalid JSON" });
    }
    const to = (Array.isArray(input.to) ? input.to : [input.to]).filter((t): t is string => typeof t === "string");
    if (typeof input.from !== "string" || !input.from.includes("@")) {
      return json(res, 422, { statusCode: 422, name: "invalid_from_address", message: "Invalid `from` field." });
    }
    if (to.length === 0 || to.some((t) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(t))) {
      return json(res, 422, { statusCode: 422, name: "validation_error", message: "Invalid `to` field." });
    }
    if (typeof input.subject !== "string" || input.subject.length === 0) {
      return json(res, 422, { statusCode: 422, name: "missing_required_field", message: "Missing `subject` field." });
    }
    if (typeof input.text !== "string" && typeof input.html !== "string") {
      return json(res, 422, { statusCode: 422, name: "validation_error", message: "Give `text` or `html`." });
    }
    const headers = (input.headers ?? {}) as Record<string, string>;
    const id = randomUUID();
    const email: EmulatedEmail = {
      id,
      direction: "outbound",
      from: input.from,
      to,
      subject: input.subject,
      text: typeof input.text === "string" ? input.text : "",
      html: typeof input.html === "string" ? input.html : null,
      headers,
      attachments: Array.isArray(input.attachments)
        ? (input.attachments as { filename: string; path?: string; content_type?: string }[]).map((a) => ({
            filename: a.filename,
            path: a.path,
            contentType: a.content_type,
          }))
        : [],
      status: "sent",
      messageId: headers["Message-ID"] ?? `<${id}@resend.dev>`,
      createdAt: Date.now(),
    };
    this.emails.set(id, email);
    if (idemKey) this.idempotency.set(idemKey, id);
    this.stats.sends++;
    this.scheduleEvents(email);
    return json(res, 200, { id });
  }

  private later(ms: number, fn: () => void) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private scheduleEvents(email: EmulatedEmail) {
    const to = email.to[0] ?? "";
    const final = /^bounce/i.test(to)
      ? "email.bounced"
      : /^complain/i.test(to)
        ? "email.complained"
        : "email.delivered";
    const { sentMs, finalMs } = this.options.delays();
    const fire = (type: string) => {
      if (type === "email.delivered") email.status = "delivered";
      if (type === "email.bounced") email.status = "bounced";
      if (type === "email.complained") email.status = "complained";
      this.emit(email, type);
    };
    if (this.options.hold()) {
      fire("email.sent");
      fire(final === "email.complained" ? "email.delivered" : final);
      if (final === "email.complained") fire(final);
      return;
    }
    this.later(sentMs, () => fire("email.sent"));
    this.later(sentMs + finalMs, () => fire(final === "email.complained" ? "email.delivered" : final));
    if (final === "email.complained") this.later(sentMs + 2 * finalMs, () => fire(final));
  }

  /** One delivery event, signed like Resend's webhooks. */
  private emit(email: EmulatedEmail, type: string) {
    const payload: Record<string, unknown> = {
      type,
      created_at: new Date().toISOString(),
      data: {
        email_id: email.id,
        from: email.from,
        to: email.to,
        subject: email.subject,
        created_at: new Date(email.createdAt).toISOString(),
        ...(type === "email.bounced"
          ? { bounce: { type: "Permanent", subType: "General", message: "The recipient's mail server rejected it." } }
          : {}),
      },
    };
    const body = JSON.stringify(payload);
    const id = `msg_${randomBytes(12).toString("hex")}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      "Content-Type": "application/json",
      "svix-id": id,
      "svix-timestamp": String(timestamp),
      "svix-signature": signSvix(this.options.webhookSecret, id, timestamp, body),
    };
    const url = `${(this.options.appUrl ?? "").replace(/\/$/, "")}/webhooks/email/events`;
    this.stats.events++;
    if (this.options.hold()) {
      this.heldEvents.push({ url, body, headers, emailId: email.id, type });
      return;
    }
    void fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
  }

  /**
   * A customer's email to the app: raw MIME to wrangler's local email trigger (what Email Routing
   * does in production). Held mode returns the raw message for the test to hand to the handler.
   */
  async receive(input: {
    from: string;
    to: string;
    subject: string;
    text: string;
    html?: string;
    inReplyTo?: string;
    references?: string;
    headers?: Record<string, string>;
    attachments?: { filename: string; contentType: string; base64: string }[];
  }): Promise<{ raw: string; messageId: string; status: number | null }> {
    const messageId = `<${randomUUID()}@customer.example>`;
    const raw = buildMime({ ...input, messageId });
    this.emails.set(messageId, {
      id: messageId,
      direction: "inbound",
      from: input.from,
      to: [input.to],
      subject: input.subject,
      text: input.text,
      html: input.html ?? null,
      headers: input.headers ?? {},
      attachments: (input.attachments ?? []).map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        size: Buffer.from(a.base64, "base64").length,
      })),
      status: "received",
      messageId,
      createdAt: Date.now(),
    });
    this.stats.inbound++;
    if (this.options.hold() || !this.options.appUrl) return { raw, messageId, status: null };
    const url = new URL("/cdn-cgi/handler/email", this.options.appUrl);
    url.searchParams.set("from", input.from);
    url.searchParams.set("to", input.to);
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "message/rfc822" },
      body: raw,
      signal: AbortSignal.timeout(15_000),
    }).catch(() => null);
    return { raw, messageId, status: res?.status ?? null };
  }

  /** Control routes under /_control/email. */
  async control(req: IncomingMessage, res: ServerResponse, path: string, body: string): Promise<boolean> {
    const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    if (path === "/email/messages" && req.method === "GET") {
      json(res, 200, { emails: [...this.emails.values()].sort((a, b) => a.createdAt - b.createdAt) });
      return true;
    }
    if (path === "/email/held" && req.method === "POST") {
      const emailId = typeof input.emailId === "string" ? input.emailId : null;
      const taken: HeldEmailEvent[] = [];
      for (let i = 0; i < this.heldEvents.length; ) {
        const item = this.heldEvents[i] as HeldEmailEvent;
        if (emailId === null || item.emailId === emailId) taken.push(...this.heldEvents.splice(i, 1));
        else i++;
      }
      json(res, 200, { events: taken });
      return true;
    }
    if (path === "/email/keys" && req.method === "POST") {
      if (typeof input.apiKey === "string") this.apiKeys.add(input.apiKey);
      json(res, 200, { ok: true });
      return true;
    }
    if (path === "/email/inbound" && req.method === "POST") {
      if (typeof input.from !== "string" || typeof input.to !== "string") {
        json(res, 400, { error: "from and to are required" });
        return true;
      }
      const result = await this.receive({
        from: input.from,
        to: input.to,
        subject: typeof input.subject === "string" ? input.subject : "(no subject)",
        text: typeof input.text === "string" ? input.text : "",
        html: typeof input.html === "string" ? input.html : undefined,
        inReplyTo: typeof input.inReplyTo === "string" ? input.inReplyTo : undefined,
        references: typeof input.references === "string" ? input.references : undefined,
        headers: (input.headers ?? undefined) as Record<string, string> | undefined,
        attachments: Array.isArray(input.attachments)
          ? (input.attachments as { filename: string; contentType: string; base64: string }[])
          : undefined,
      });
      json(res, 200, result);
      return true;
    }
    return false;
  }
}
