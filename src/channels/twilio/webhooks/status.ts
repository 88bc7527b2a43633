/**
 * POST /webhooks/twilio/status: a delivery report. After the signature check, the permitted fields
 * go to the status step (src/messaging/status.ts); Twilio always gets 200 (also for an unknown sid).
 */

import type { Context } from "hono";
import { z } from "zod";
import { ApiError } from "../../../domain/errors";
import { log } from "../../../log";
import { applyStatusReport } from "../../../messaging/status";
import { EMPTY_TWIML, twimlResponse } from "./twiml";
import { firstValues, type WebhookEnv } from "./verify";

const StatusSchema = z.object({
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, "not a Twilio message sid"),
  MessageStatus: z.string().min(1).max(32),
  ErrorCode: z.coerce.number().int().optional().catch(undefined),
  ErrorMessage: z.string().max(500).optional(),
});

export async function handleStatus(c: Context<WebhookEnv>): Promise<Response> {
  const parsed = StatusSchema.safeParse(firstValues(c.get("twilioParams")));
  if (!parsed.success) {
    log("warn", "status webhook with invalid parameters", { issues: parsed.error.issues.map((i) => i.path.join(".")) });
    throw new ApiError(400, "invalid_webhook", "The status webhook's parameters are not valid.");
  }
  await applyStatusReport(
    { env: c.env, db: c.get("db"), count: c.get("d1Count") },
    {
      mid: c.req.query("mid") ?? null,
      cid: c.req.query("cid") ?? null,
      ...parsed.data,
      account: c.get("twilioAccountSid"),
    },
  );
  return twimlResponse(EMPTY_TWIML);
}
