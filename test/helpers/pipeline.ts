/** A workspace ready to text: account, API key, sender number, and a fresh customer number. */
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
