/**
 * The Worker's email() handler: Cloudflare Email Routing delivers each email for an inbox's address
 * here (locally: POST /cdn-cgi/handler/email). Parsed, then received like any message; an address no
 * inbox has is rejected back to the sender, and a failure throws so Email Routing retries.
 */
import { parseEmail } from "./channels/email/inbound";
import { log } from "./log";
import { receiveEmail } from "./messaging/receive-email";

/** Email Routing refuses larger messages anyway; a runaway one must not exhaust the Worker. */
const MAX_RAW_BYTES = 25 * 1024 * 1024;

export async function handleEmail(message: ForwardableEmailMessage, env: Env): Promise<void> {
  if (message.rawSize > MAX_RAW_BYTES) {
    message.setReject("Message too large.");
    return;
  }
  const parsed = await parseEmail(message.raw, message.from);
  const result = await receiveEmail(env, message.to, parsed);
  if (result.outcome === "no_inbox") message.setReject("No such mailbox.");
  log("info", "email received", { outcome: result.outcome });
}
