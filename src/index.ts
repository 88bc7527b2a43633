/**
 * Parley's Worker: composition only. `fetch` is the Hono app (API, webhooks, docs), `queue` the
 * outbound consumer, `scheduled` the cron jobs; the Durable Object classes are exported beside it.
 */
import { createApp } from "./http/app";
import { handleOutboundBatch } from "./queue/consumer";
import { handleDeadLetterBatch } from "./queue/dead-letters";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue.endsWith("-dlq")) await handleDeadLetterBatch(batch, env);
    else await handleOutboundBatch(batch, env);
  },
} satisfies ExportedHandler<Env>;

export { ConversationRoom } from "./rooms/conversation-room";
export { InboxStream } from "./rooms/inbox-stream";
