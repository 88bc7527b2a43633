/**
 * Twilio emulator: a real HTTP server speaking the Programmable Messaging wire format of
 * ../shared/TWILIO.md, so Parley runs and is tested on one machine with no Twilio account.
 *
 * - REST: Messages create / fetch / list / update (cancel, redact) with Twilio's JSON and error
 *   shapes, HTTP Basic auth (20003), the test-credential magic numbers (§8).
 * - Status callbacks, signed with X-Twilio-Signature, after configurable delays: sent → delivered, or
 *   undelivered (30003) / failed (30008) for designated numbers.
 * - A control API (/_control/…) to inject faults (500s, 429s, latency, hangs, 500 or hang after the
 *   message was created, dropped / duplicated / reordered callbacks), to simulate an inbound text,
 *   and to inspect what it holds.
 * - A "phone" page at / where a person texts the app as a customer and sees its replies.
 *
 * Callbacks are either pushed to the app (`push`, for `npm run dev`, benchmarks and the chaos run) or
 * held for the caller to deliver (`hold`, for the workerd tests, where the app has no port).
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { analyzeSegments } from "../src/domain/segments";
import { MAILBOX_PAGE } from "./mailbox-page";
import { PHONE_PAGE } from "./phone-page";
import { ResendEmulator } from "./resend";

export type CallbackMode = "push" | "hold";

export interface EmulatorOptions {
  port?: number;
  host?: string;
  authToken: string;
  /** When set, only this account SID is accepted; otherwise any AC… SID with the right token. */
  accountSid?: string;
  /** Where inbound webhooks are POSTed (the app's origin). */
  appUrl?: string;
  /** The origin inbound webhooks are signed for (the app's PUBLIC_BASE_URL); defaults to appUrl. */
  publicAppUrl?: string;
  callbackMode?: CallbackMode;
  /** Milliseconds from create to the `sent` callback, and from `sent` to the final one. */
  delays?: { sentMs: number; finalMs: number };
  /** Per-request log lines on stdout. */
  verbose?: boolean;
  /**
   * The account's phone numbers (IncomingPhoneNumbers): every number starting with one of these
   * prefixes (default: +1415 and the +1500555 test range), plus numbers added through the control API.
   */
  ownedNumberPrefixes?: string[];
  /** The Resend-compatible email API's key and webhook signing secret (defaults match .dev.vars.example). */
  resendApiKey?: string;
  resendWebhookSecret?: string;
}

/** An IncomingPhoneNumber of the emulated account: where Twilio sends its texts and reports. */
export interface EmulatedNumber {
  sid: string;
  phoneNumber: string;
  smsUrl: string | null;
  smsFallbackUrl: string | null;
  statusCallback: string | null;
}

/** `slowArrival`: the request reaches "Twilio" SLOW_ARRIVAL_MS late (as over a slow network), then succeeds. */
export type CreateFault = "error500" | "error429" | "error500AfterCreate" | "hang" | "hangAfterCreate" | "slowArrival";

export const SLOW_ARRIVAL_MS = 600;

export type FetchFault = "error429" | "error500";

export interface FaultConfig {
  /** Faults for the next create calls, consumed in order before any probabilities apply. */
  script: CreateFault[];
  /** Like `script`, but only for create calls to this `To` number (keeps parallel tests apart). */
  scriptByTo: Record<string, CreateFault[]>;
  /** Faults for the next fetches of one message sid (GET Messages/{sid}.json), consumed in order. */
  fetchBySid: Record<string, FetchFault[]>;
  /** Probability per create call for each fault. */
  rates: Partial<Record<CreateFault, number>>;
  /** Extra latency for every REST call, in ms. */
  latencyMs: number;
  /** Probabilities per callback: never sent, sent twice, or the final status before `sent`. */
  callbacks: { drop: number; duplicate: number; reorder: number };
}

export interface EmulatedMessage {
  sid: string;
  accountSid: string;
  direction: "inbound" | "outbound-api" | "outbound-reply";
  from: string;
  to: string;
  body: string;
  mediaUrls: string[];
  /** What the emulator got when it fetched each MediaUrl, as Twilio does before sending an MMS. */
  fetchedMedia?: { url: string; status: number; contentType: string | null; size: number; dataUrl: string | null }[];
  /** WhatsApp: the approved template sent instead of a body. */
  contentSid?: string | null;
  status: string;
  errorCode: number | null;
  errorMessage: string | null;
  numSegments: number;
  statusCallback: string | null;
  dateCreated: Date;
  dateUpdated: Date;
  dateSent: Date | null;
}

export interface HeldRequest {
  url: string;
  /** URL-encoded form body. */
  body: string;
  signature: string;
  kind: "status" | "inbound";
  messageSid: string;
  /** The customer's number (To of a status callback, From of an inbound text), for filtering. */
  phone: string;
}

/** Numbers whose messages end badly (besides the §8 magic numbers that fail at create). */
export const UNDELIVERED_TO = "+15005550010";
export const FAILED_TO = "+15005550011";

const NO_FAULTS = (): FaultConfig => ({
  script: [],
  scriptByTo: {},
  fetchBySid: {},
  rates: {},
  latencyMs: 0,
  callbacks: { drop: 0, duplicate: 0, reorder: 0 },
});

/** X-Twilio-Signature, written independently of the Worker's implementation (node:crypto). */
export function signTwilio(authToken: string, url: string, params: [string, string][]): string {
  const names = [...new Set(params.map(([k]) => k))].sort();
  let data = url;
  for (const name of names) {
    const values = [...new Set(params.filter(([k]) => k === name).map(([, v]) => v))].sort();
    for (const v of values) data += name + v;
  }
  return createHmac("sha1", authToken).update(Buffer.from(data, "utf8")).digest("base64");
}

/** RFC 2822 in GMT as Twilio writes it: "Thu, 24 Aug 2023 05:01:45 +0000". */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}

function newSid(prefix: "SM" | "MM"): string {
  return prefix + randomBytes(16).toString("hex");
}

function twilioError(res: ServerResponse, status: number, code: number, message: string) {
  sendJson(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Twilio-Request-Duration": "0.010",
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TwilioEmulator {
  readonly messages = new Map<string, EmulatedMessage>();
  readonly held: HeldRequest[] = [];
  /** Further Twilio accounts (subaccounts, a workspace's own account): SID → Auth Token. */
  readonly accounts = new Map<string, string>();
  /** Numbers that belong to one of those accounts (not the default one). */
  readonly numberAccounts = new Map<string, string>();
  /** Media customers sent, served at their Twilio-style URL behind the account's Basic auth. */
  readonly media = new Map<string, { contentType: string; bytes: Buffer; accountSid: string }>();
  /** WhatsApp: when each customer last wrote to each business sender ("customer|business" → ms). */
  readonly whatsappLastInbound = new Map<string, number>();
  /** WhatsApp templates the account has approved: Content SID → text with {{1}}… */
  readonly contentTemplates = new Map<string, string>();
  /**
   * Integration-webhook receivers (`POST /_hooks/<name>`): each verifies what arrives with the official
   * Standard Webhooks library (independent of Parley's signing code) and answers the status it is told.
   */
  readonly hooks = new Map<
    string,
    {
      secret: string;
      status: number;
      received: { id: string; timestamp: string; signature: string; body: string; verified: boolean; at: number }[];
    }
  >();
  faults: FaultConfig = NO_FAULTS();
  /** Numbers whose webhooks were configured (or that were added explicitly), by E.164. */
  readonly numbers = new Map<string, EmulatedNumber>();
  /** Numbers taken out of the account (released), which the prefixes would otherwise cover. */
  private readonly released = new Set<string>();
  /** Per-To final outcomes for the next creates ("failed", "undelivered", "delivered"), in order. */
  private outcomesByTo: Record<string, string[]> = {};
  /** To numbers whose new messages stay `queued` (date_sent empty), as when Twilio holds them. */
  private readonly lifecyclePaused = new Set<string>();
  private readonly pausedLifecycles: EmulatedMessage[] = [];
  /** While true, Twilio is down: every REST call answers 503 and nothing is created. */
  private down = false;
  /** Senders for which Twilio is down (keeps parallel test files apart): their calls answer 503. */
  private readonly downFrom = new Set<string>();
  readonly stats = {
    creates: 0,
    faults: {} as Record<string, number>,
    callbacksSent: 0,
    callbacksFailed: 0,
    inbound: 0,
    refusedWhileDown: 0,
  };
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly hanging = new Set<ServerResponse>();
  url = "";
  readonly email: ResendEmulator;

  constructor(readonly options: EmulatorOptions) {
    this.email = new ResendEmulator({
      apiKey: options.resendApiKey ?? "re_dev_key",
      webhookSecret: options.resendWebhookSecret ?? "whsec_ZGV2LXdlYmhvb2stc2VjcmV0",
      appUrl: options.appUrl,
      hold: () => this.callbackMode === "hold",
      delays: () => this.options.delays ?? { sentMs: 50, finalMs: 100 },
    });
  }

  get callbackMode(): CallbackMode {
    return this.options.callbackMode ?? "push";
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err) => {
        if (!res.headersSent)
          sendJson(res, 500, { code: 20500, message: `emulator error: ${String(err)}`, status: 500 });
      });
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) =>
      this.server?.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", resolve),
    );
    const address = this.server.address() as AddressInfo;
    this.url = `http://${this.options.host ?? "127.0.0.1"}:${address.port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.email.stop();
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  reset(): void {
    this.messages.clear();
    this.held.length = 0;
    this.faults = NO_FAULTS();
    this.stats.creates = 0;
    this.stats.faults = {};
    this.stats.callbacksSent = 0;
    this.stats.callbacksFailed = 0;
    this.stats.inbound = 0;
    this.stats.refusedWhileDown = 0;
    this.numbers.clear();
    this.released.clear();
    this.outcomesByTo = {};
    this.lifecyclePaused.clear();
    this.pausedLifecycles.length = 0;
    this.down = false;
    this.downFrom.clear();
    this.accounts.clear();
    this.numberAccounts.clear();
    this.media.clear();
    this.whatsappLastInbound.clear();
    this.contentTemplates.clear();
    this.hooks.clear();
    this.email.reset();
  }

  /** The Auth Token of an account: one added through the control API, or the emulator's own. */
  tokenFor(accountSid: string): string {
    return this.accounts.get(accountSid) ?? this.options.authToken;
  }

  /** The account a number belongs to. */
  accountOf(phoneNumber: string): string {
    const bare = phoneNumber.replace(/^whatsapp:/, "");
    return (
      this.numberAccounts.get(phoneNumber) ??
      this.numberAccounts.get(bare) ??
      this.options.accountSid ??
      `AC${"0".repeat(32)}`
    );
  }

  /** A Messages call that names (or, by sid, belongs to) a sender marked down. */
  private callIsFromDownSender(url: URL): boolean {
    if (this.downFrom.size === 0) return false;
    const from = url.searchParams.get("From");
    if (from && this.downFrom.has(from)) return true;
    const sid = /\/Messages\/([^/]+?)\.json$/.exec(url.pathname)?.[1];
    const msg = sid ? this.messages.get(sid) : undefined;
    return msg !== undefined && this.downFrom.has(msg.from);
  }

  /** Whether the account has this number (prefix rule or added), and it was not released. */
  ownsNumber(phoneNumber: string): boolean {
    if (this.released.has(phoneNumber)) return false;
    if (this.numbers.has(phoneNumber)) return true;
    const prefixes = this.options.ownedNumberPrefixes ?? ["+1415", "+1500555"];
    return /^\+[1-9]\d{6,14}$/.test(phoneNumber) && prefixes.some((p) => phoneNumber.startsWith(p));
  }

  private numberRecord(phoneNumber: string): EmulatedNumber {
    let n = this.numbers.get(phoneNumber);
    if (!n) {
      const digits = createHmac("sha256", "pn").update(phoneNumber).digest("hex").slice(0, 32);
      n = { sid: `PN${digits}`, phoneNumber, smsUrl: null, smsFallbackUrl: null, statusCallback: null };
      this.numbers.set(phoneNumber, n);
    }
    return n;
  }

  private later(ms: number, fn: () => void) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private countFault(kind: string) {
    this.stats.faults[kind] = (this.stats.faults[kind] ?? 0) + 1;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://emulator");
    const path = url.pathname;
    if (this.options.verbose) console.log(`${req.method} ${path}`);
    if (path === "/healthz") return sendJson(res, 200, { ok: true });
    if (path === "/" && req.method === "GET") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(PHONE_PAGE);
      return;
    }
    if (path === "/mailbox" && req.method === "GET") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(MAILBOX_PAGE);
      return;
    }
    if (path.startsWith("/resend/"))
      return this.email.handle(req, res, path.slice("/resend".length), await readBody(req));
    if (path.startsWith("/_hooks/") && req.method === "POST") return this.receiveHook(req, res, path.slice(8));
    if (path.startsWith("/_control/email/")) {
      const handled = await this.email.control(req, res, path.slice("/_control".length), await readBody(req));
      if (handled) return;
    }
    if (path.startsWith("/_control/")) return this.control(req, res, url);

    if (path.startsWith("/2010-04-01/") && (this.down || this.callIsFromDownSender(url))) {
      this.stats.refusedWhileDown++;
      return twilioError(res, 503, 20503, "Service Unavailable");
    }
    const numbersMatch = /^\/2010-04-01\/Accounts\/([^/]+)\/IncomingPhoneNumbers(?:\/([^/]+?))?\.json$/.exec(path);
    if (numbersMatch) {
      if (!this.authorized(req, numbersMatch[1] ?? "")) {
        return sendJson(res, 401, { status: 401, message: "Authenticate", code: 20003 });
      }
      return this.incomingNumbers(req, res, numbersMatch[1] ?? "", numbersMatch[2], url);
    }
    const mediaMatch = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/[^/]+\/Media\/(ME[0-9a-f]{32})$/.exec(path);
    if (mediaMatch && req.method === "GET") {
      const item = this.media.get(mediaMatch[2] ?? "");
      if (!item || item.accountSid !== mediaMatch[1])
        return twilioError(res, 404, 20404, "The requested resource was not found");
      if (!this.authorized(req, item.accountSid)) {
        return sendJson(res, 401, { status: 401, message: "Authenticate", code: 20003 });
      }
      res.writeHead(200, { "Content-Type": item.contentType, "Content-Length": String(item.bytes.length) });
      res.end(item.bytes);
      return;
    }
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages(?:\/([^/]+?))?\.json$/.exec(path);
    if (!match) return twilioError(res, 404, 20404, "The requested resource was not found");
    const accountSid = match[1] ?? "";
    if (!this.authorized(req, accountSid)) {
      return sendJson(res, 401, {
        status: 401,
        message: "Authenticate",
        code: 20003,
        more_info: "https://www.twilio.com/docs/errors/20003",
      });
    }
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
    const sid = match[2];
    if (!sid && req.method === "POST") return this.create(req, res, accountSid);
    if (!sid && req.method === "GET") return this.list(res, accountSid, url);
    if (sid && req.method === "GET") return this.fetchOne(res, accountSid, sid);
    if (sid && req.method === "POST") return this.update(req, res, accountSid, sid);
    return twilioError(res, 405, 20004, "Method not allowed");
  }

  private authorized(req: IncomingMessage, accountSid: string): boolean {
    const header = req.headers.authorization ?? "";
    const match = /^Basic\s+(.+)$/i.exec(header);
    if (!match?.[1]) return false;
    const [user, password] = Buffer.from(match[1], "base64").toString("utf8").split(":");
    const own = this.accounts.get(accountSid);
    if (own !== undefined) {
      return password === own && (user === accountSid || /^SK[0-9a-fA-F]{32}$/.test(user ?? ""));
    }
    if (password !== this.options.authToken) return false;
    if (this.options.accountSid && accountSid !== this.options.accountSid) return false;
    return /^AC[0-9a-fA-F]{32}$/.test(accountSid) && (user === accountSid || /^SK[0-9a-fA-F]{32}$/.test(user ?? ""));
  }

  /** IncomingPhoneNumbers: list (filtered by PhoneNumber) and update of the webhook URLs. */
  private async incomingNumbers(
    req: IncomingMessage,
    res: ServerResponse,
    accountSid: string,
    sid: string | undefined,
    url: URL,
  ): Promise<void> {
    const json = (n: EmulatedNumber) => ({
      account_sid: accountSid,
      sid: n.sid,
      phone_number: n.phoneNumber,
      friendly_name: n.phoneNumber,
      sms_url: n.smsUrl ?? "",
      sms_method: "POST",
      sms_fallback_url: n.smsFallbackUrl ?? "",
      sms_fallback_method: "POST",
      status_callback: n.statusCallback ?? "",
      status_callback_method: "POST",
      capabilities: { sms: true, mms: true, voice: true },
      uri: `/2010-04-01/Accounts/${accountSid}/IncomingPhoneNumbers/${n.sid}.json`,
    });
    if (!sid && req.method === "GET") {
      const wanted = url.searchParams.get("PhoneNumber");
      const items =
        wanted !== null
          ? this.ownsNumber(wanted)
            ? [this.numberRecord(wanted)]
            : []
          : [...this.numbers.values()].filter((n) => this.ownsNumber(n.phoneNumber));
      return sendJson(res, 200, {
        incoming_phone_numbers: items.map(json),
        page: 0,
        page_size: 50,
        next_page_uri: null,
        uri: `/2010-04-01/Accounts/${accountSid}/IncomingPhoneNumbers.json`,
      });
    }
    if (sid && req.method === "POST") {
      const n = [...this.numbers.values()].find((x) => x.sid === sid && this.ownsNumber(x.phoneNumber));
      if (!n) return twilioError(res, 404, 20404, "The requested resource was not found");
      const form = new URLSearchParams(await readBody(req));
      if (form.has("SmsUrl")) n.smsUrl = form.get("SmsUrl");
      if (form.has("SmsFallbackUrl")) n.smsFallbackUrl = form.get("SmsFallbackUrl");
      if (form.has("StatusCallback")) n.statusCallback = form.get("StatusCallback");
      return sendJson(res, 200, json(n));
    }
    return twilioError(res, 405, 20004, "Method not allowed");
  }

  private pickCreateFault(to: string | null): CreateFault | null {
    const forTo = to ? this.faults.scriptByTo[to]?.shift() : undefined;
    if (forTo) return forTo;
    const scripted = this.faults.script.shift();
    if (scripted) return scripted;
    for (const [kind, rate] of Object.entries(this.faults.rates) as [CreateFault, number][]) {
      if (rate > 0 && Math.random() < rate) return kind;
    }
    return null;
  }

  private hang(res: ServerResponse) {
    this.hanging.add(res);
    res.on("close", () => this.hanging.delete(res));
    // Never answer; the client times out. Free the socket eventually.
    this.later(120_000, () => res.destroy());
  }

  private async create(req: IncomingMessage, res: ServerResponse, accountSid: string): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    if (this.downFrom.has(form.get("From") ?? "")) {
      this.stats.refusedWhileDown++;
      return twilioError(res, 503, 20503, "Service Unavailable");
    }
    this.stats.creates++;
    const fault = this.pickCreateFault(form.get("To"));
    if (fault) this.countFault(fault);
    if (fault === "error500") return twilioError(res, 500, 20500, "Internal Server Error");
    if (fault === "error429") return twilioError(res, 429, 20429, "Too Many Requests");
    if (fault === "hang") return this.hang(res);
    if (fault === "slowArrival") await sleep(SLOW_ARRIVAL_MS);

    const to = form.get("To");
    const from = form.get("From");
    const contentSid = form.get("ContentSid");
    const mediaUrls = form.getAll("MediaUrl");
    let body = form.get("Body") ?? "";
    if (contentSid) {
      // Twilio renders the approved template with its variables.
      const vars = JSON.parse(form.get("ContentVariables") ?? "{}") as Record<string, string>;
      const text = this.contentTemplates.get(contentSid) ?? `[template ${contentSid}]`;
      body = text.replace(/\{\{(\d+)\}\}/g, (_, n: string) => vars[n] ?? "");
    }
    if (!to) return twilioError(res, 400, 21604, "A 'To' phone number is required.");
    if (!from && !form.get("MessagingServiceSid"))
      return twilioError(res, 400, 21603, "A 'From' phone number is required.");
    if (!body && mediaUrls.length === 0) return twilioError(res, 400, 21602, "Message body is required.");
    if (body.length > 1600)
      return twilioError(res, 400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    if (mediaUrls.length > 10 || mediaUrls.some((u) => !/^https?:\/\//.test(u))) {
      return twilioError(res, 400, 21620, "Invalid media URL(s).");
    }
    const magicFrom: Record<string, [number, string]> = {
      "+15005550001": [
        21212,
        "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID.",
      ],
      "+15005550007": [21606, "The 'From' phone number provided is not a valid message-capable Twilio phone number."],
      "+15005550008": [21611, "This 'From' number has exceeded the maximum number of queued messages."],
    };
    const magicTo: Record<string, [number, string]> = {
      "+15005550001": [21211, `The 'To' number ${to} is not a valid phone number.`],
      "+15005550002": [21612, "The 'To' phone number is not currently reachable via SMS."],
      "+15005550003": [
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
      ],
      "+15005550004": [21610, "Attempt to send to unsubscribed recipient"],
      "+15005550009": [21614, `'To' number ${to} is not a valid mobile number`],
    };
    const fromErr = from ? magicFrom[from] : undefined;
    if (fromErr) return twilioError(res, 400, fromErr[0], fromErr[1]);
    const toErr = magicTo[to];
    if (toErr) return twilioError(res, 400, toErr[0], toErr[1]);
    if (!/^(whatsapp:)?\+[1-9]\d{6,14}$/.test(to))
      return twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);

    const now = new Date();
    const msg: EmulatedMessage = {
      sid: newSid(mediaUrls.length > 0 ? "MM" : "SM"),
      accountSid,
      direction: "outbound-api",
      from: from ?? "",
      to,
      body,
      mediaUrls,
      contentSid,
      status: "queued",
      errorCode: null,
      errorMessage: null,
      numSegments: analyzeSegments(body).segments,
      statusCallback: form.get("StatusCallback"),
      dateCreated: now,
      dateUpdated: now,
      dateSent: null,
    };
    this.messages.set(msg.sid, msg);
    // The create response shows the initial status; the lifecycle starts after it.
    const created = this.toJson(msg);
    if (to.startsWith("whatsapp:") && !contentSid && !this.whatsappWindowOpen(to, from ?? "")) {
      // Outside the 24-hour customer-service window only templates go (Twilio fails it after accepting).
      this.outcomesByTo[to] = ["window_closed", ...(this.outcomesByTo[to] ?? [])];
    }
    if (mediaUrls.length > 0) {
      // Twilio fetches every MediaUrl before sending; a link it cannot fetch fails the message (11200).
      void this.fetchMedia(msg).then((ok) => {
        if (!ok) this.outcomesByTo[to] = ["media_failed", ...(this.outcomesByTo[to] ?? [])];
        this.scheduleLifecycle(msg);
      });
    } else {
      this.scheduleLifecycle(msg);
    }
    if (fault === "error500AfterCreate") return twilioError(res, 500, 20500, "Internal Server Error");
    if (fault === "hangAfterCreate") return this.hang(res);
    sendJson(res, 201, created);
  }

  /** queued → sent → delivered (or undelivered / failed), firing a callback at each step after queued. */
  private scheduleLifecycle(msg: EmulatedMessage) {
    if (this.lifecyclePaused.has(msg.to)) {
      this.pausedLifecycles.push(msg);
      return;
    }
    const scripted = this.outcomesByTo[msg.to]?.shift();
    const final: [string, number | null, string | null] =
      scripted === "window_closed"
        ? ["failed", 63016, "Failed to send freeform message because you are outside the allowed window."]
        : scripted === "media_failed"
          ? ["failed", 11200, "HTTP retrieval failure"]
          : scripted === "failed"
            ? ["failed", 30008, "Unknown error"]
            : scripted === "undelivered"
              ? ["undelivered", 30003, "Unreachable destination handset"]
              : scripted === "delivered"
                ? ["delivered", null, null]
                : msg.to === UNDELIVERED_TO
                  ? ["undelivered", 30003, "Unreachable destination handset"]
                  : msg.to === FAILED_TO
                    ? ["failed", 30008, "Unknown error"]
                    : ["delivered", null, null];
    const delays = this.options.delays ?? { sentMs: 50, finalMs: 100 };
    const { reorder } = this.faults.callbacks;
    const reordered = reorder > 0 && Math.random() < reorder;
    if (reordered) this.countFault("callbackReordered");
    const advance = (status: string, errorCode: number | null, errorMessage: string | null) => {
      msg.status = status;
      msg.errorCode = errorCode;
      msg.errorMessage = errorMessage;
      msg.dateUpdated = new Date();
      if (status === "sent" && !msg.dateSent) msg.dateSent = msg.dateUpdated;
    };
    const sentStep = () => {
      if (msg.status === "queued") advance(final[0] === "failed" ? "failed" : "sent", final[1], final[2]);
    };
    const finalStep = () => {
      if (!["delivered", "undelivered", "failed", "canceled"].includes(msg.status))
        advance(final[0], final[1], final[2]);
    };
    if (final[0] === "failed") {
      // Failed messages never leave Twilio: one callback.
      const fire = () => {
        sentStep();
        this.emitStatusCallback(msg, "failed", final[1]);
      };
      if (this.callbackMode === "hold") fire();
      else this.later(delays.sentMs, fire);
      return;
    }
    if (this.callbackMode === "hold") {
      // Held callbacks are queued at once, in Twilio's order unless reordered.
      sentStep();
      finalStep();
      const steps: [string, number | null][] = [
        ["sent", null],
        [final[0], final[1]],
      ];
      if (reordered) steps.reverse();
      for (const [status, code] of steps) this.emitStatusCallback(msg, status, code);
      if (msg.to.startsWith("whatsapp:") && final[0] === "delivered") {
        msg.status = "read";
        this.emitStatusCallback(msg, "read", null);
      }
      return;
    }
    const sentAt = reordered ? delays.sentMs + delays.finalMs : delays.sentMs;
    const finalAt = reordered ? delays.sentMs : delays.sentMs + delays.finalMs;
    this.later(sentAt, () => {
      sentStep();
      this.emitStatusCallback(msg, "sent", null);
    });
    this.later(finalAt, () => {
      sentStep();
      finalStep();
      this.emitStatusCallback(msg, final[0], final[1]);
    });
    if (msg.to.startsWith("whatsapp:") && final[0] === "delivered") {
      // WhatsApp reports when the customer has read it.
      this.later(Math.max(sentAt, finalAt) + delays.finalMs, () => {
        msg.status = "read";
        msg.dateUpdated = new Date();
        this.emitStatusCallback(msg, "read", null);
      });
    }
  }

  private emitStatusCallback(msg: EmulatedMessage, status: string, errorCode: number | null) {
    if (!msg.statusCallback) return;
    const { drop, duplicate } = this.faults.callbacks;
    if (drop > 0 && Math.random() < drop) {
      this.countFault("callbackDropped");
      return;
    }
    const params: [string, string][] = [
      ["AccountSid", msg.accountSid],
      ["ApiVersion", "2010-04-01"],
      ["From", msg.from],
      ["MessageSid", msg.sid],
      ["MessageStatus", status],
      ["SmsSid", msg.sid],
      ["SmsStatus", status],
      ["To", msg.to],
    ];
    if (errorCode !== null) params.push(["ErrorCode", String(errorCode)]);
    if (status === "delivered" || status === "undelivered") {
      const d = new Date();
      const pad = (n: number) => String(n).padStart(2, "0");
      params.push([
        "RawDlrDoneDate",
        `${String(d.getUTCFullYear()).slice(2)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`,
      ]);
    }
    const copies = duplicate > 0 && Math.random() < duplicate ? 2 : 1;
    if (copies === 2) this.countFault("callbackDuplicated");
    for (let i = 0; i < copies; i++) {
      this.deliver({ url: msg.statusCallback, params, kind: "status", messageSid: msg.sid, phone: msg.to });
    }
  }

  private deliver(req: {
    url: string;
    params: [string, string][];
    kind: HeldRequest["kind"];
    messageSid: string;
    phone: string;
  }) {
    const body = new URLSearchParams(req.params).toString();
    const account = req.params.find(([k]) => k === "AccountSid")?.[1] ?? "";
    const signature = signTwilio(this.tokenFor(account), req.url, req.params);
    if (this.callbackMode === "hold") {
      this.held.push({ url: req.url, body, signature, kind: req.kind, messageSid: req.messageSid, phone: req.phone });
      return;
    }
    void this.post(req.url, body, signature, 3);
  }

  /** POSTs a signed form like Twilio does; retries connection failures a few times. */
  private async post(
    url: string,
    body: string,
    signature: string,
    tries: number,
    target = url,
  ): Promise<Response | null> {
    for (let i = 0; i < tries; i++) {
      try {
        const res = await fetch(target, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": randomBytes(8).toString("hex"),
            "User-Agent": "TwilioProxy/1.1",
          },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        this.stats.callbacksSent++;
        return res;
      } catch {
        await sleep(200 * (i + 1));
      }
    }
    this.stats.callbacksFailed++;
    return null;
  }

  private list(res: ServerResponse, accountSid: string, url: URL) {
    const q = url.searchParams;
    const to = q.get("To");
    const from = q.get("From");
    const dayOf = (value: string) => value.slice(0, 10);
    const after = q.get("DateSent>");
    const before = q.get("DateSent<");
    const on = q.get("DateSent");
    const pageSize = Math.min(1000, Math.max(1, Number(q.get("PageSize") ?? 50)));
    const page = Math.max(0, Number(q.get("Page") ?? 0));
    // As at Twilio, a message still held (queued, date_sent empty) matches no DateSent filter.
    const sentDay = (m: EmulatedMessage) => m.dateSent?.toISOString().slice(0, 10) ?? null;
    const hasDateFilter = Boolean(q.get("DateSent>") ?? q.get("DateSent<") ?? q.get("DateSent"));
    const all = [...this.messages.values()]
      .filter((m) => m.accountSid === accountSid)
      .filter((m) => (to ? m.to === to : true) && (from ? m.from === from : true))
      .filter((m) => !hasDateFilter || sentDay(m) !== null)
      .filter((m) => (after ? (sentDay(m) ?? "") >= dayOf(after) : true))
      .filter((m) => (before ? (sentDay(m) ?? "") <= dayOf(before) : true))
      .filter((m) => (on ? sentDay(m) === dayOf(on) : true))
      .sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime());
    const items = all.slice(page * pageSize, (page + 1) * pageSize);
    const base = `/2010-04-01/Accounts/${accountSid}/Messages.json`;
    const next = new URLSearchParams(q);
    next.set("Page", String(page + 1));
    next.set("PageSize", String(pageSize));
    const last = items.at(-1);
    if (last) next.set("PageToken", `PA${last.sid}`);
    sendJson(res, 200, {
      messages: items.map((m) => this.toJson(m)),
      start: page * pageSize,
      end: page * pageSize + Math.max(0, items.length - 1),
      page,
      page_size: pageSize,
      uri: `${base}?${q.toString()}`,
      first_page_uri: `${base}?PageSize=${pageSize}&Page=0`,
      next_page_uri: (page + 1) * pageSize < all.length ? `${base}?${next.toString()}` : null,
      previous_page_uri: page > 0 ? `${base}?PageSize=${pageSize}&Page=${page - 1}` : null,
    });
  }

  private fetchOne(res: ServerResponse, accountSid: string, sid: string) {
    const fault = this.faults.fetchBySid[sid]?.shift();
    if (fault) this.countFault(`fetch_${fault}`);
    if (fault === "error429") return twilioError(res, 429, 20429, "Too Many Requests");
    if (fault === "error500") return twilioError(res, 500, 20500, "Internal Server Error");
    const msg = this.messages.get(sid);
    if (!msg || msg.accountSid !== accountSid)
      return twilioError(
        res,
        404,
        20404,
        `The requested resource /2010-04-01/Accounts/${accountSid}/Messages/${sid}.json was not found`,
      );
    sendJson(res, 200, this.toJson(msg));
  }

  private async update(req: IncomingMessage, res: ServerResponse, accountSid: string, sid: string) {
    const form = new URLSearchParams(await readBody(req));
    const msg = this.messages.get(sid);
    if (!msg || msg.accountSid !== accountSid)
      return twilioError(res, 404, 20404, "The requested resource was not found");
    const status = form.get("Status");
    const body = form.get("Body");
    if (
      (status !== null && body !== null) ||
      (body !== null && body !== "") ||
      (status !== null && status !== "canceled")
    ) {
      return twilioError(res, 400, 30400, "Invalid update: send Body= (empty) or Status=canceled");
    }
    if (status === "canceled") {
      if (msg.status !== "scheduled") return twilioError(res, 400, 30409, "Message can no longer be canceled");
      msg.status = "canceled";
    }
    if (body === "") msg.body = "";
    msg.dateUpdated = new Date();
    sendJson(res, 200, this.toJson(msg));
  }

  toJson(m: EmulatedMessage) {
    const uri = `/2010-04-01/Accounts/${m.accountSid}/Messages/${m.sid}.json`;
    return {
      account_sid: m.accountSid,
      api_version: "2010-04-01",
      body: m.body,
      date_created: rfc2822(m.dateCreated),
      date_sent: m.dateSent ? rfc2822(m.dateSent) : null,
      date_updated: rfc2822(m.dateUpdated),
      direction: m.direction,
      error_code: m.errorCode,
      error_message: m.errorMessage,
      from: m.from,
      messaging_service_sid: null,
      num_media: String(m.mediaUrls.length),
      num_segments: String(m.numSegments),
      price: null,
      price_unit: "USD",
      sid: m.sid,
      status: m.status,
      subresource_uris: {
        media: `/2010-04-01/Accounts/${m.accountSid}/Messages/${m.sid}/Media.json`,
        feedback: `/2010-04-01/Accounts/${m.accountSid}/Messages/${m.sid}/Feedback.json`,
      },
      to: m.to,
      uri,
    };
  }

  /**
   * Simulates a customer's text: a signed inbound webhook to the app (pushed, or held). `times`
   * delivers the very same request repeatedly, as Twilio's retries would. Returns the app's TwiML reply.
   */
  async simulateInbound(input: {
    from: string;
    to: string;
    body: string;
    mediaUrls?: string[];
    /** Files the customer sends: kept here and offered at Twilio-style URLs behind the account's auth. */
    media?: { contentType: string; base64: string }[];
    optOutType?: string;
    times?: number;
    accountSid?: string;
  }): Promise<{ sid: string; status: number | null; twiml: string | null; replies: string[] }> {
    const accountSid = input.accountSid ?? this.accountOf(input.to);
    const files = input.media ?? [];
    const sid = newSid(files.length > 0 || (input.mediaUrls ?? []).length > 0 ? "MM" : "SM");
    const types: string[] = (input.mediaUrls ?? []).map(() => "image/jpeg");
    const media = [...(input.mediaUrls ?? [])];
    for (const file of files) {
      const id = `ME${randomBytes(16).toString("hex")}`;
      this.media.set(id, { contentType: file.contentType, bytes: Buffer.from(file.base64, "base64"), accountSid });
      media.push(`${this.url}/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media/${id}`);
      types.push(file.contentType);
    }
    if (input.from.startsWith("whatsapp:")) this.whatsappLastInbound.set(`${input.from}|${input.to}`, Date.now());
    const params: [string, string][] = [
      ["ToCountry", "US"],
      ["ToState", ""],
      ["SmsMessageSid", sid],
      ["NumMedia", String(media.length)],
      ["ToCity", ""],
      ["FromZip", ""],
      ["SmsSid", sid],
      ["FromState", ""],
      ["SmsStatus", "received"],
      ["FromCity", ""],
      ["Body", input.body],
      ["FromCountry", "US"],
      ["To", input.to],
      ["ToZip", ""],
      ["NumSegments", String(analyzeSegments(input.body).segments)],
      ["MessageSid", sid],
      ["AccountSid", accountSid],
      ["From", input.from],
      ["ApiVersion", "2010-04-01"],
    ];
    media.forEach((url, i) => {
      params.push([`MediaUrl${i}`, url], [`MediaContentType${i}`, types[i] ?? "image/jpeg"]);
    });
    if (input.optOutType) params.push(["OptOutType", input.optOutType]);
    const now = new Date();
    this.messages.set(sid, {
      sid,
      accountSid,
      direction: "inbound",
      from: input.from,
      to: input.to,
      body: input.body,
      mediaUrls: media,
      status: "received",
      errorCode: null,
      errorMessage: null,
      numSegments: 1,
      statusCallback: null,
      dateCreated: now,
      dateUpdated: now,
      dateSent: now,
    });
    this.stats.inbound++;
    const path = "/webhooks/twilio/inbound";
    const signedUrl = `${(this.options.publicAppUrl ?? this.options.appUrl ?? "").replace(/\/$/, "")}${path}`;
    const targetUrl = `${(this.options.appUrl ?? "").replace(/\/$/, "")}${path}`;
    const times = Math.max(1, Math.min(10, input.times ?? 1));
    if (this.callbackMode === "hold") {
      for (let i = 0; i < times; i++) {
        this.deliver({ url: signedUrl, params, kind: "inbound", messageSid: sid, phone: input.from });
      }
      return { sid, status: null, twiml: null, replies: [] };
    }
    const body = new URLSearchParams(params).toString();
    const signature = signTwilio(this.tokenFor(accountSid), signedUrl, params);
    let status: number | null = null;
    let twiml: string | null = null;
    for (let i = 0; i < times; i++) {
      const res = await this.post(signedUrl, body, signature, 3, targetUrl);
      status = res?.status ?? null;
      const text = res ? await res.text() : null;
      if (i === 0) twiml = text;
    }
    const replies = this.recordReplies(twiml, input.to, input.from, accountSid);
    return { sid, status, twiml, replies };
  }

  /** TwiML <Message> replies become outbound-reply messages, so the phone page shows them. */
  recordReplies(twiml: string | null, from: string, to: string, accountSid: string): string[] {
    const replies = [...(twiml ?? "").matchAll(/<Message>([\s\S]*?)<\/Message>/g)].map((m) =>
      (m[1] ?? "")
        .replaceAll("&lt;", "<")
        .replaceAll("&gt;", ">")
        .replaceAll("&quot;", '"')
        .replaceAll("&apos;", "'")
        .replaceAll("&amp;", "&"),
    );
    for (const text of replies) {
      const now = new Date();
      const sid = newSid("SM");
      this.messages.set(sid, {
        sid,
        accountSid,
        direction: "outbound-reply",
        from,
        to,
        body: text,
        mediaUrls: [],
        status: "delivered",
        errorCode: null,
        errorMessage: null,
        numSegments: analyzeSegments(text).segments,
        statusCallback: null,
        dateCreated: now,
        dateUpdated: now,
        dateSent: now,
      });
    }
    return replies;
  }

  private async control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.slice("/_control".length);
    const readJson = async () => {
      const text = await readBody(req);
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };
    if (path === "/reset" && req.method === "POST") {
      this.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/faults" && req.method === "POST") {
      const input = await readJson();
      const callbacks = (input.callbacks ?? {}) as Partial<FaultConfig["callbacks"]>;
      this.faults = {
        script: Array.isArray(input.script) ? (input.script as CreateFault[]) : [],
        scriptByTo: (input.scriptByTo ?? {}) as Record<string, CreateFault[]>,
        fetchBySid: (input.fetchBySid ?? {}) as Record<string, FetchFault[]>,
        rates: (input.rates ?? {}) as FaultConfig["rates"],
        latencyMs: Number(input.latencyMs ?? 0),
        callbacks: { drop: callbacks.drop ?? 0, duplicate: callbacks.duplicate ?? 0, reorder: callbacks.reorder ?? 0 },
      };
      return sendJson(res, 200, this.faults);
    }
    if (path === "/config" && req.method === "POST") {
      const input = await readJson();
      if (input.callbackMode === "push" || input.callbackMode === "hold")
        this.options.callbackMode = input.callbackMode;
      if (input.delays && typeof input.delays === "object")
        this.options.delays = input.delays as EmulatorOptions["delays"];
      return sendJson(res, 200, { callbackMode: this.callbackMode, delays: this.options.delays ?? null });
    }
    if (path === "/stats" && req.method === "GET") {
      return sendJson(res, 200, {
        ...this.stats,
        messages: this.messages.size,
        held: this.held.length,
        email: this.email.stats,
      });
    }
    if (path === "/messages" && req.method === "GET") {
      const phone = url.searchParams.get("phone");
      const items = [...this.messages.values()]
        .filter((m) => (phone ? m.to === phone || m.from === phone : true))
        .sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime())
        // Control-only extra: millisecond creation time (Twilio's dates have second precision).
        .map((m) => ({
          ...this.toJson(m),
          created_ms: m.dateCreated.getTime(),
          media_urls: m.mediaUrls,
          content_sid: m.contentSid ?? null,
          media_previews: this.previews(m),
        }));
      return sendJson(res, 200, { messages: items });
    }
    if (path === "/held" && req.method === "POST") {
      // Takes held requests (optionally only one customer's), oldest first.
      const input = await readJson();
      const phone = typeof input.phone === "string" ? input.phone : null;
      const sid = typeof input.sid === "string" ? input.sid : null;
      const taken: HeldRequest[] = [];
      for (let i = 0; i < this.held.length; ) {
        const item = this.held[i] as HeldRequest;
        if ((phone === null || item.phone === phone) && (sid === null || item.messageSid === sid))
          taken.push(...this.held.splice(i, 1));
        else i++;
      }
      return sendJson(res, 200, { requests: taken });
    }
    if (path === "/set-status" && req.method === "POST") {
      // Sets what Twilio "knows" about a message, e.g. a carrier that never sends a receipt.
      const input = await readJson();
      const msg = typeof input.sid === "string" ? this.messages.get(input.sid) : undefined;
      if (!msg || typeof input.status !== "string")
        return sendJson(res, 404, { error: "unknown sid or missing status" });
      msg.status = input.status;
      msg.errorCode = typeof input.errorCode === "number" ? input.errorCode : null;
      msg.dateUpdated = new Date();
      return sendJson(res, 200, this.toJson(msg));
    }
    if (path === "/faults/to" && req.method === "POST") {
      // Adds scripted faults for one To number without touching anyone else's.
      const input = await readJson();
      if (typeof input.to !== "string" || !Array.isArray(input.script)) {
        return sendJson(res, 400, { error: "to (string) and script (array) are required" });
      }
      this.faults.scriptByTo[input.to] = [
        ...(this.faults.scriptByTo[input.to] ?? []),
        ...(input.script as CreateFault[]),
      ];
      return sendJson(res, 200, { to: input.to, script: this.faults.scriptByTo[input.to] });
    }
    if (path === "/faults/fetch" && req.method === "POST") {
      // Adds scripted faults for the next fetches of one message sid (e.g. a 429 for reconciliation).
      const input = await readJson();
      if (typeof input.sid !== "string" || !Array.isArray(input.script)) {
        return sendJson(res, 400, { error: "sid (string) and script (array) are required" });
      }
      this.faults.fetchBySid[input.sid] = [
        ...(this.faults.fetchBySid[input.sid] ?? []),
        ...(input.script as FetchFault[]),
      ];
      return sendJson(res, 200, { sid: input.sid, script: this.faults.fetchBySid[input.sid] });
    }
    if (path === "/outcomes/to" && req.method === "POST") {
      // Final outcomes ("failed", "undelivered", "delivered") for the next messages to one number.
      const input = await readJson();
      if (typeof input.to !== "string" || !Array.isArray(input.outcomes)) {
        return sendJson(res, 400, { error: "to (string) and outcomes (array) are required" });
      }
      this.outcomesByTo[input.to] = [...(this.outcomesByTo[input.to] ?? []), ...(input.outcomes as string[])];
      return sendJson(res, 200, { to: input.to, outcomes: this.outcomesByTo[input.to] });
    }
    if (path === "/lifecycle" && req.method === "POST") {
      // {to, paused: true}: new messages to `to` stay queued with no date_sent; {to, paused: false}
      // lets them (and the ones held so far) go on.
      const input = await readJson();
      if (typeof input.to !== "string") return sendJson(res, 400, { error: "to (string) is required" });
      const to = input.to;
      if (input.paused === true) {
        this.lifecyclePaused.add(to);
      } else {
        this.lifecyclePaused.delete(to);
        const waiting = this.pausedLifecycles.filter((m) => m.to === to);
        for (const m of waiting) {
          this.pausedLifecycles.splice(this.pausedLifecycles.indexOf(m), 1);
          this.scheduleLifecycle(m);
        }
      }
      return sendJson(res, 200, { to, paused: this.lifecyclePaused.has(to) });
    }
    if (path === "/down" && req.method === "POST") {
      // {down: true}: Twilio is out; every REST call answers 503 until {down: false}.
      // {from, down}: the same for one sender's calls only (creates, lookups and fetches).
      const input = await readJson();
      if (typeof input.from === "string") {
        if (input.down === true) this.downFrom.add(input.from);
        else this.downFrom.delete(input.from);
      } else {
        this.down = input.down === true;
      }
      return sendJson(res, 200, { down: this.down, downFrom: [...this.downFrom] });
    }
    if (path === "/numbers" && req.method === "GET") {
      return sendJson(res, 200, { numbers: [...this.numbers.values()] });
    }
    if (path === "/numbers" && req.method === "POST") {
      // {phoneNumber, owned}: add a number to the account (owned: true) or release it (owned: false).
      const input = await readJson();
      if (typeof input.phoneNumber !== "string") return sendJson(res, 400, { error: "phoneNumber is required" });
      if (input.owned === false) {
        this.released.add(input.phoneNumber);
      } else {
        this.released.delete(input.phoneNumber);
        this.numberRecord(input.phoneNumber);
      }
      return sendJson(res, 200, { phoneNumber: input.phoneNumber, owned: this.ownsNumber(input.phoneNumber) });
    }
    if (path === "/inbound" && req.method === "POST") {
      const input = await readJson();
      if (typeof input.from !== "string" || typeof input.to !== "string" || typeof input.body !== "string") {
        return sendJson(res, 400, { error: "from, to and body are required strings" });
      }
      const result = await this.simulateInbound({
        from: input.from,
        to: input.to,
        body: input.body,
        mediaUrls: Array.isArray(input.mediaUrls) ? (input.mediaUrls as string[]) : undefined,
        media: Array.isArray(input.media) ? (input.media as { contentType: string; base64: string }[]) : undefined,
        accountSid: typeof input.accountSid === "string" ? input.accountSid : undefined,
        optOutType: typeof input.optOutType === "string" ? input.optOutType : undefined,
        times: typeof input.times === "number" ? input.times : undefined,
      });
      return sendJson(res, 200, result);
    }
    if (path === "/accounts" && req.method === "POST") {
      // {accountSid, authToken, numbers?}: another Twilio account, owning these numbers.
      const input = await readJson();
      if (typeof input.accountSid !== "string" || typeof input.authToken !== "string") {
        return sendJson(res, 400, { error: "accountSid and authToken are required" });
      }
      this.accounts.set(input.accountSid, input.authToken);
      for (const n of Array.isArray(input.numbers) ? (input.numbers as string[]) : []) {
        this.numberAccounts.set(n, input.accountSid);
        this.numberRecord(n);
      }
      return sendJson(res, 200, { accountSid: input.accountSid });
    }
    if (path === "/whatsapp/window" && req.method === "POST") {
      // {customer, business, lastInboundAt}: when the customer last wrote (null: never), to open or close the window.
      const input = await readJson();
      if (typeof input.customer !== "string" || typeof input.business !== "string") {
        return sendJson(res, 400, { error: "customer and business are required" });
      }
      const key = `${input.customer}|${input.business}`;
      if (typeof input.lastInboundAt === "number") this.whatsappLastInbound.set(key, input.lastInboundAt);
      else this.whatsappLastInbound.delete(key);
      return sendJson(res, 200, { open: this.whatsappWindowOpen(input.customer, input.business) });
    }
    if (path === "/hooks" && req.method === "POST") {
      // {name, secret, status?}: a webhook receiver at /_hooks/<name> (status: what it answers, default 200).
      const input = await readJson();
      if (typeof input.name !== "string" || typeof input.secret !== "string") {
        return sendJson(res, 400, { error: "name and secret are required" });
      }
      const had = this.hooks.get(input.name);
      this.hooks.set(input.name, {
        secret: input.secret,
        status: typeof input.status === "number" ? input.status : 200,
        received: had?.received ?? [],
      });
      return sendJson(res, 200, { url: `${this.url}/_hooks/${input.name}` });
    }
    if (path.startsWith("/hooks/") && req.method === "GET") {
      const hook = this.hooks.get(path.slice("/hooks/".length));
      return sendJson(res, hook ? 200 : 404, { received: hook?.received ?? [] });
    }
    if (path === "/whatsapp/templates" && req.method === "POST") {
      const input = await readJson();
      if (typeof input.contentSid !== "string" || typeof input.body !== "string") {
        return sendJson(res, 400, { error: "contentSid and body are required" });
      }
      this.contentTemplates.set(input.contentSid, input.body);
      return sendJson(res, 200, { contentSid: input.contentSid });
    }
    sendJson(res, 404, { error: `unknown control route ${path}` });
  }

  /** Control-only: the message's images as data URLs, for the phone page (inbound from the store, outbound as fetched). */
  private previews(m: EmulatedMessage): { contentType: string | null; dataUrl: string | null; url: string }[] {
    if (m.direction === "inbound") {
      return m.mediaUrls.map((url) => {
        const item = this.media.get(/\/Media\/(ME[0-9a-f]{32})$/.exec(url)?.[1] ?? "");
        const inline = item && /^image\//.test(item.contentType) && item.bytes.length <= 2_000_000;
        return {
          url,
          contentType: item?.contentType ?? null,
          dataUrl: inline ? `data:${item.contentType};base64,${item.bytes.toString("base64")}` : null,
        };
      });
    }
    return (m.fetchedMedia ?? []).map((f) => ({ url: f.url, contentType: f.contentType, dataUrl: f.dataUrl }));
  }

  private async receiveHook(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const hook = this.hooks.get(name);
    const body = await readBody(req);
    if (!hook) return sendJson(res, 404, { error: `no receiver ${name}` });
    const headers = {
      "webhook-id": String(req.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
    };
    let verified = false;
    try {
      new Webhook(hook.secret).verify(body, headers);
      verified = true;
    } catch {
      verified = false;
    }
    hook.received.push({
      id: headers["webhook-id"],
      timestamp: headers["webhook-timestamp"],
      signature: headers["webhook-signature"],
      body,
      verified,
      at: Date.now(),
    });
    res.writeHead(hook.status, { "Content-Type": "text/plain" });
    res.end(hook.status < 300 ? "ok" : "failing on purpose");
  }

  /** WhatsApp's 24-hour customer-service window between a customer and a business sender. */
  whatsappWindowOpen(customer: string, business: string): boolean {
    const last = this.whatsappLastInbound.get(`${customer}|${business}`);
    return last !== undefined && Date.now() - last < 24 * 60 * 60 * 1000;
  }

  /** Fetches an outbound message's media as Twilio would; false when one cannot be fetched. */
  private async fetchMedia(msg: EmulatedMessage): Promise<boolean> {
    msg.fetchedMedia = [];
    // Held mode (the workerd tests): the app is not reachable over HTTP; the tests fetch the links themselves.
    if (this.callbackMode === "hold") return true;
    const publicOrigin = (this.options.publicAppUrl ?? this.options.appUrl ?? "").replace(/\/$/, "");
    const appOrigin = (this.options.appUrl ?? "").replace(/\/$/, "");
    for (const url of msg.mediaUrls) {
      try {
        const target = publicOrigin && url.startsWith(publicOrigin) ? appOrigin + url.slice(publicOrigin.length) : url;
        const res = await fetch(target, { signal: AbortSignal.timeout(10_000) });
        const bytes = Buffer.from(await res.arrayBuffer());
        const contentType = res.headers.get("Content-Type");
        const inline = res.ok && /^image\//.test(contentType ?? "") && bytes.length <= 2_000_000;
        msg.fetchedMedia.push({
          url,
          status: res.status,
          contentType,
          size: bytes.length,
          dataUrl: inline ? `data:${contentType};base64,${bytes.toString("base64")}` : null,
        });
        if (!res.ok) return false;
      } catch {
        msg.fetchedMedia.push({ url, status: 0, contentType: null, size: 0, dataUrl: null });
        return false;
      }
    }
    return true;
  }
}

export async function startEmulator(options: EmulatorOptions): Promise<TwilioEmulator> {
  const emulator = new TwilioEmulator(options);
  await emulator.start();
  return emulator;
}
