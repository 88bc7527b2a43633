// Starts the Twilio emulator (a real HTTP server) for the workerd tests, on the port vitest.config.ts
// gave the Worker as TWILIO_API_BASE. Callbacks are held, and tests deliver them into the Worker.
import { startEmulator } from "../../emulator/server";

export default async function setup() {
  const emulator = await startEmulator({
    port: Number(process.env.PARLEY_TEST_EMULATOR_PORT),
    authToken: "test-auth-token-0123456789abcdef",
    accountSid: "AC00000000000000000000000000000000",
    appUrl: "https://parley.test",
    callbackMode: "hold",
    resendApiKey: "re_test_key",
    resendWebhookSecret: "whsec_dGVzdC13ZWJob29rLXNlY3JldA==",
  });
  return async () => {
    await emulator.stop();
  };
}
