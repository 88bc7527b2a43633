/** Where a provider reports on one of our messages. */
export function statusCallbackUrl(env: Env, messageId: string): string {
  return `${env.PUBLIC_BASE_URL.replace(/\/$/, "")}/webhooks/twilio/status?mid=${encodeURIComponent(messageId)}`;
}
