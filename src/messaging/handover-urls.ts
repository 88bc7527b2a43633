/**
 * Where a provider reports on one of our messages: our message id, and its conversation's (so the
 * report goes straight to the conversation's room in one D1 round trip: see applyStatusReport).
 */
export function statusCallbackUrl(env: Env, messageId: string, conversationId?: string): string {
  const base = `${env.PUBLIC_BASE_URL.replace(/\/$/, "")}/webhooks/twilio/status?mid=${encodeURIComponent(messageId)}`;
  return conversationId ? `${base}&cid=${encodeURIComponent(conversationId)}` : base;
}
