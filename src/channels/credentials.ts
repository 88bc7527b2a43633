/**
 * Per-inbox provider credentials: sealed at rest (src/security/sealed.ts), opened only where a call
 * needs them. An inbox without its own credentials uses the deployment's (the Worker's secrets).
 */
import { seal, unseal } from "../security/sealed";
import type { ResendConfig } from "./email/resend";
import { type TwilioConfig, twilioConfigFromEnv } from "./twilio/client";
import type { InboxRecord } from "./types";

/** What an admin gives for an SMS/WhatsApp inbox's own Twilio account. */
export interface TwilioCredentials {
  accountSid: string;
  /** Signs the account's webhooks; authenticates REST calls unless an API key is given. */
  authToken: string;
  apiKeySid?: string;
  apiKeySecret?: string;
}

/** What an admin gives for an email inbox's own Resend account. */
export interface EmailCredentials {
  apiKey: string;
  /** The `whsec_…` secret of the account's delivery webhooks. */
  webhookSecret?: string;
}

interface EmailEnv {
  RESEND_API_KEY?: string;
  RESEND_API_BASE?: string;
  RESEND_WEBHOOK_SECRET?: string;
}

export function sealCredentials(env: Env, inboxId: string, credentials: TwilioCredentials | EmailCredentials) {
  return seal(env, `inbox:${inboxId}`, credentials);
}

export function openCredentials<T extends TwilioCredentials | EmailCredentials>(env: Env, inbox: InboxRecord) {
  if (!inbox.credentials) return Promise.resolve(null);
  return unseal<T>(env, `inbox:${inbox.id}`, inbox.credentials);
}

/** The Twilio account an SMS/WhatsApp inbox sends with: its own, or the deployment's. */
export async function twilioConfigFor(env: Env, inbox: InboxRecord, timeoutMs?: number): Promise<TwilioConfig> {
  const own = await openCredentials<TwilioCredentials>(env, inbox);
  if (!own) return twilioConfigFromEnv(env, timeoutMs);
  const apiKey = own.apiKeySid && own.apiKeySecret;
  return {
    accountSid: own.accountSid,
    authToken: apiKey ? (own.apiKeySecret as string) : own.authToken,
    apiKeySid: apiKey ? own.apiKeySid : undefined,
    apiBase: env.TWILIO_API_BASE,
    timeoutMs,
  };
}

/** The Auth Token that signs webhooks of `accountSid`: the deployment's, or an inbox's own account's. */
export async function webhookTokenFor(env: Env, inbox: InboxRecord | null): Promise<string> {
  if (!inbox?.credentials) return env.TWILIO_AUTH_TOKEN;
  const own = await openCredentials<TwilioCredentials>(env, inbox);
  return own?.authToken ?? env.TWILIO_AUTH_TOKEN;
}

export async function resendConfigFor(env: Env, inbox: InboxRecord): Promise<ResendConfig> {
  const own = await openCredentials<EmailCredentials>(env, inbox);
  const e = env as Env & EmailEnv;
  return { apiKey: own?.apiKey ?? e.RESEND_API_KEY ?? "", apiBase: e.RESEND_API_BASE ?? "https://api.resend.com" };
}

export async function emailWebhookSecretFor(env: Env, inbox: InboxRecord | null): Promise<string | null> {
  const own = inbox ? await openCredentials<EmailCredentials>(env, inbox) : null;
  return own?.webhookSecret ?? (env as Env & EmailEnv).RESEND_WEBHOOK_SECRET ?? null;
}
