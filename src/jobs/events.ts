/** The events queue's consumer: a batch of integration events fanned out to webhook deliveries at once. */
import { log } from "../log";
import { EventJobSchema, fanOutEvents } from "../messaging/events";

export async function handleEventsBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const events = [];
  for (const message of batch.messages) {
    const parsed = EventJobSchema.safeParse(message.body);
    if (parsed.success) events.push(parsed.data);
    else log("error", "dropping a malformed event", { id: message.id });
  }
  try {
    await fanOutEvents(env, events);
    batch.ackAll();
  } catch (err) {
    // Delivery rows are unique per event and endpoint: redelivering the batch fans out nothing twice.
    log("warn", "event fan-out failed; the batch comes back", { size: events.length, error: String(err) });
    batch.retryAll({ delaySeconds: 5 });
  }
}
