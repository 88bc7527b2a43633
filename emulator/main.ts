/**
 * `node --import tsx emulator/main.ts`: the Twilio emulator as a process (npm run dev starts it).
 * Environment: EMULATOR_PORT (8788), TWILIO_AUTH_TOKEN (required), PARLEY_URL (where inbound
 * webhooks go, http://127.0.0.1:8787), PUBLIC_BASE_URL (what they are signed for, default PARLEY_URL),
 * EMULATOR_SENT_MS / EMULATOR_FINAL_MS (callback delays), EMULATOR_VERBOSE=1, RESEND_API_KEY and
 * RESEND_WEBHOOK_SECRET (the email API's key and the secret its events are signed with).
 */
import { startEmulator } from "./server";

const authToken = process.env.TWILIO_AUTH_TOKEN;
if (!authToken) {
  console.error("TWILIO_AUTH_TOKEN is required (the same token the Worker verifies signatures with)");
  process.exit(1);
}
const appUrl = process.env.PARLEY_URL ?? "http://127.0.0.1:8787";
const emulator = await startEmulator({
  port: Number(process.env.EMULATOR_PORT ?? 8788),
  authToken,
  appUrl,
  publicAppUrl: process.env.PUBLIC_BASE_URL ?? appUrl,
  callbackMode: "push",
  delays: {
    sentMs: Number(process.env.EMULATOR_SENT_MS ?? 300),
    finalMs: Number(process.env.EMULATOR_FINAL_MS ?? 700),
  },
  verbose: process.env.EMULATOR_VERBOSE === "1",
  resendApiKey: process.env.RESEND_API_KEY,
  resendWebhookSecret: process.env.RESEND_WEBHOOK_SECRET,
});
console.log(
  `Twilio and email emulator on ${emulator.url} (phone at /, mailbox at /mailbox, Resend API at /resend, control API at /_control/*)`,
);

const stop = async () => {
  await emulator.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
