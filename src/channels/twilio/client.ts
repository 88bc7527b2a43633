/**
 * The only code that talks to Twilio's REST API: ky over fetch, no SDK. Basic auth with the Account
 * SID and Auth Token (or an API key SID and secret), form bodies with repeated keys, a timeout, and
 * no ky retries — the outbound queue owns retries. Every response is validated with zod.
 */
import ky, { isHTTPError, isNetworkError, isTimeoutError, type KyInstance } from "ky";
import type { z } from "zod";
import type { Sent } from "../types";
import { TwilioError } from "./errors";
import {
  type IncomingNumber,
  IncomingNumberListSchema,
  IncomingNumberSchema,
  TwilioErrorBodySchema,
  type TwilioMessage,
  TwilioMessageListSchema,
  TwilioMessageSchema,
} from "./schemas";

export const TWILIO_TIMEOUT_MS = 10_000;

export interface TwilioConfig {
  accountSid: string;
  /** The Basic-auth password: the Auth Token, or the API key's secret when apiKeySid is set. */
  authToken: string;
  /** `https://api.twilio.com`, or the emulator. */
  apiBase: string;
  /** Use an API key (SK…) as the Basic-auth username instead of the Account SID. */
  apiKeySid?: string;
  timeoutMs?: number;
}

/** Optional secrets: an API key (SK…) and its secret authenticate REST calls instead of the Auth Token. */
interface ApiKeyEnv {
  TWILIO_API_KEY_SID?: string;
  TWILIO_API_KEY_SECRET?: string;
}

export function twilioConfigFromEnv(env: Env, timeoutMs?: number): TwilioConfig {
  const { TWILIO_API_KEY_SID: keySid, TWILIO_API_KEY_SECRET: keySecret } = env as Env & ApiKeyEnv;
  return {
    accountSid: env.TWILIO_ACCOUNT_SID,
    // Webhook signatures always use the Auth Token; REST calls may use an API key instead.
    authToken: keySid && keySecret ? keySecret : env.TWILIO_AUTH_TOKEN,
    apiKeySid: keySid && keySecret ? keySid : undefined,
    apiBase: env.TWILIO_API_BASE,
    timeoutMs,
  };
}

export interface CreateMessageParams {
  to: string;
  from: string;
  body: string;
  mediaUrls?: string[];
  statusCallback?: string;
  /** WhatsApp: an approved template (HX…) and its variables ({"1": "Ana"}), instead of Body. */
  contentSid?: string;
  contentVariables?: Record<string, string>;
}

function toForm(entries: [string, string | undefined][]): URLSearchParams {
  const form = new URLSearchParams();
  for (const [key, value] of entries) if (value !== undefined) form.append(key, value);
  return form;
}

export class TwilioClient {
  private readonly http: KyInstance;

  constructor(readonly config: TwilioConfig) {
    const user = config.apiKeySid ?? config.accountSid;
    this.http = ky.create({
      prefix: `${config.apiBase.replace(/\/$/, "")}/2010-04-01/Accounts/${config.accountSid}`,
      timeout: config.timeoutMs ?? TWILIO_TIMEOUT_MS,
      retry: 0,
      throwHttpErrors: true,
      headers: { Authorization: `Basic ${btoa(`${user}:${config.authToken}`)}`, Accept: "application/json" },
    });
  }

  private async request<T extends z.ZodType>(
    schema: T,
    method: "get" | "post",
    path: string,
    opts: { form?: URLSearchParams; searchParams?: URLSearchParams } = {},
  ): Promise<z.infer<T>> {
    let data: unknown;
    try {
      const res = await this.http(path, { method, body: opts.form, searchParams: opts.searchParams });
      data = await res.json();
    } catch (err) {
      throw await toTwilioError(err);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new TwilioError(
        "invalid_response",
        `Unexpected Twilio response: ${parsed.error.message}`,
        null,
        null,
        true,
        true,
      );
    }
    return parsed.data;
  }

  /** POST Messages.json. A TwilioError with `ambiguous` set means the message may exist anyway. */
  createMessage(params: CreateMessageParams): Promise<TwilioMessage> {
    const form = toForm([
      ["To", params.to],
      ["From", params.from],
      ["Body", params.contentSid ? undefined : params.body],
      ["ContentSid", params.contentSid],
      ["ContentVariables", params.contentVariables ? JSON.stringify(params.contentVariables) : undefined],
      ["StatusCallback", params.statusCallback],
    ]);
    for (const url of params.mediaUrls ?? []) form.append("MediaUrl", url);
    return this.request(TwilioMessageSchema, "post", "Messages.json", { form });
  }

  fetchMessage(sid: string): Promise<TwilioMessage> {
    return this.request(TwilioMessageSchema, "get", `Messages/${encodeURIComponent(sid)}.json`);
  }

  /**
   * Messages To/From created at or after `createdAfter`, newest first, following next_page_uri.
   * No DateSent filter: Twilio leaves date_sent empty while it still holds a message, so a filter on
   * it would hide exactly the messages an ambiguous attempt may have created. Twilio lists newest
   * first, so paging stops at the first page that reaches back past `createdAfter` (or `maxPages`).
   */
  async listMessagesSince(filter: {
    to: string;
    from: string;
    createdAfter: number;
    pageSize?: number;
    maxPages?: number;
  }): Promise<TwilioMessage[]> {
    let searchParams = new URLSearchParams({
      To: filter.to,
      From: filter.from,
      PageSize: String(filter.pageSize ?? 50),
    });
    const out: TwilioMessage[] = [];
    for (let page = 0; page < (filter.maxPages ?? 5); page++) {
      const result = await this.request(TwilioMessageListSchema, "get", "Messages.json", { searchParams });
      let reachedBack = false;
      for (const m of result.messages) {
        const created = m.date_created ? Date.parse(m.date_created) : Number.NaN;
        if (Number.isFinite(created) && created < filter.createdAfter) reachedBack = true;
        else out.push(m);
      }
      if (reachedBack || !result.next_page_uri) break;
      searchParams = new URL(result.next_page_uri, "https://api.twilio.com").searchParams;
    }
    return out;
  }

  /** GET IncomingPhoneNumbers.json?PhoneNumber=: the account's number, or null when it has none such. */
  async findIncomingNumber(phoneNumber: string): Promise<IncomingNumber | null> {
    const searchParams = new URLSearchParams({ PhoneNumber: phoneNumber });
    const page = await this.request(IncomingNumberListSchema, "get", "IncomingPhoneNumbers.json", { searchParams });
    return page.incoming_phone_numbers.find((n) => n.phone_number === phoneNumber) ?? null;
  }

  /** POST IncomingPhoneNumbers/{sid}.json: points the number's webhooks at us. */
  updateIncomingNumber(
    sid: string,
    urls: { smsUrl: string; smsFallbackUrl: string; statusCallback: string },
  ): Promise<IncomingNumber> {
    const form = toForm([
      ["SmsUrl", urls.smsUrl],
      ["SmsMethod", "POST"],
      ["SmsFallbackUrl", urls.smsFallbackUrl],
      ["SmsFallbackMethod", "POST"],
      ["StatusCallback", urls.statusCallback],
      ["StatusCallbackMethod", "POST"],
    ]);
    return this.request(IncomingNumberSchema, "post", `IncomingPhoneNumbers/${encodeURIComponent(sid)}.json`, {
      form,
    });
  }
}

async function toTwilioError(err: unknown): Promise<TwilioError> {
  if (isHTTPError(err)) {
    const parsed = TwilioErrorBodySchema.safeParse(err.data);
    const code = parsed.success ? (parsed.data.code ?? null) : null;
    const message =
      parsed.success && parsed.data.message ? parsed.data.message : `Twilio answered HTTP ${err.response.status}`;
    return TwilioError.fromHttp(err.response.status, code, message);
  }
  if (isTimeoutError(err)) {
    return new TwilioError("timeout", "Twilio did not answer in time", null, null, true, true);
  }
  if (isNetworkError(err)) {
    return new TwilioError("network", `Network error talking to Twilio: ${err.message}`, null, null, true, true);
  }
  return new TwilioError("network", `Could not reach Twilio: ${String(err)}`, null, null, true, true);
}

/**
 * Picks the message an ambiguous attempt may have created: same To/From/body, created no earlier than
 * a minute (clock slack) before the attempt began, not already another message's (or another
 * attempt's) sid, and of those the one created closest to the attempt's start. Two identical texts
 * to one customer ("On my way") each adopt their own message this way.
 */
export function findAdoptable(
  candidates: TwilioMessage[],
  want: { to: string; from: string; body: string; attemptStartedAt: number; takenSids: ReadonlySet<string> },
): TwilioMessage | undefined {
  const earliest = want.attemptStartedAt - 60_000;
  let best: { m: TwilioMessage; distance: number } | undefined;
  for (const m of candidates) {
    if (m.to !== want.to || m.from !== want.from || (m.body ?? "") !== want.body || want.takenSids.has(m.sid)) continue;
    const created = m.date_created ? Date.parse(m.date_created) : Number.NaN;
    if (Number.isFinite(created) && created < earliest) continue;
    const distance = Number.isFinite(created) ? Math.abs(created - want.attemptStartedAt) : Number.MAX_SAFE_INTEGER;
    if (!best || distance < best.distance) best = { m, distance };
  }
  return best?.m;
}

/** What Twilio answered about a message, in the channel interface's terms. */
export function sentFromTwilio(tw: TwilioMessage): Sent {
  return {
    providerSid: tw.sid,
    status: tw.status,
    errorCode: tw.error_code ?? null,
    errorMessage: tw.error_message ?? null,
  };
}
