/**
 * Parley's Worker: composition only. `fetch` is the Hono app (API, webhooks, docs), `queue` the
 * outbound consumer, `scheduled` the cron jobs; the Durable Object classes are exported beside it.
 */
import { createApp } from "./http/app";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;

export { ConversationRoom } from "./rooms/conversation-room";
export { InboxStream } from "./rooms/inbox-stream";
