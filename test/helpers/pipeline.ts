/** A workspace ready to text: account, API key, sender number, and a fresh customer number. */
import { env } from "cloudflare:workers";
import { roomFor } from "../../src/rooms/conversation-room";
import { addNumber, call, createKey, randomUsNumber, signup } from "./api";
import { deliver, eventually, takeHeld } from "./twilio";

export async function textingWorkspace() {
  const account = await signup();
  const key = await createKey(account);
  const number = await addNumber({ key });
  return { account, key, from: number.phoneNumber, customer: randomUsNumber() };
}

export async function getMessage(key: string, id: string) {
  return (await call("GET", `/api/messages/${id}`, { key })).json;
}

/** Delivers every held callback for `phone` until the message reaches one of `statuses`. */
export async function settle(
  key: string,
  phone: string,
  id: string,
  statuses = ["delivered", "undelivered", "failed"],
) {
  return eventually(
    async () => {
      for (const req of await takeHeld(phone)) await deliver(req);
      const msg = await getMessage(key, id);
      return statuses.includes(msg.status) ? msg : undefined;
    },
    20_000,
    `message ${id} to reach ${statuses.join("/")}`,
  );
}

export type TextingWorkspace = Awaited<ReturnType<typeof textingWorkspace>>;

/**
 * A pending outbound message stored through its room but never enqueued, so a test drives the
 * consumer, the cron jobs or the DLQ itself. `createdAt` backdates it.
 */
export async function pendingMessage(ws: TextingWorkspace, body = "test message", createdAt?: number): Promise<string> {
  const conv = (await call("POST", "/api/conversations", { key: ws.key }, { body: { phone: ws.customer } })).json;
  const id = `msg_t${crypto.randomUUID().replaceAll("-", "").slice(0, 18)}`;
  const result = await roomFor(env, conv.id).appendMessage({
    id,
    workspaceId: ws.account.workspaceId,
    conversationId: conv.id,
    direction: "outbound",
    fromNumber: ws.from,
    toNumber: ws.customer,
    body,
    status: "pending",
    segments: 1,
    encoding: "GSM-7",
    createdAt,
  });
  if (result.outcome !== "created") throw new Error(`pending message not stored: ${result.outcome}`);
  return id;
}
