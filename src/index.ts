/**
 * Parley's Worker: composition only. `fetch` is the Hono app (API, webhooks, docs), `queue` the
 * outbound consumer, `scheduled` the cron jobs; the Durable Object classes are exported beside it.
 */
import { handleScheduled } from "./cron";
import { handleEmail } from "./email";
import { createApp } from "./http/app";
import { handleEventsBatch } from "./jobs/events";
import { handleJobsBatch } from "./jobs/imports";
import { handleOutboundBatch } from "./queue/consumer";
import { handleDeadLetterBatch } from "./queue/dead-letters";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    if (batch.queue.endsWith("-dlq")) await handleDeadLetterBatch(batch, env);
    else if (batch.queue.endsWith("-events")) await handleEventsBatch(batch, env);
    else if (batch.queue.endsWith("-jobs")) await handleJobsBatch(batch, env);
    else await handleOutboundBatch(batch, env);
  },
  async scheduled(controller, env, _ctx) {
    await handleScheduled(controller, env);
  },
  async email(message, env, _ctx) {
    await handleEmail(message, env);
  },
} satisfies ExportedHandler<Env>;

export { ConversationRoom } from "./rooms/conversation-room";
export { InboxStream } from "./rooms/inbox-stream";
export { SenderPacer } from "./rooms/sender-pacer";
export { TwilioBreaker } from "./rooms/twilio-breaker";
export { WorkspaceLimiter } from "./rooms/workspace-limiter";
