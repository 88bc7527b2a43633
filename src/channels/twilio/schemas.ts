/** Twilio REST shapes (TWILIO.md §1.2, §1.4, §2), validated on the way in. Unknown fields pass through. */
import { z } from "zod";

export const TwilioMessageSchema = z.object({
  sid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/),
  account_sid: z.string(),
  status: z.string(),
  to: z.string(),
  from: z.string().nullable(),
  body: z.string().nullable().default(""),
  num_segments: z.string().nullable().optional(),
  num_media: z.string().nullable().optional(),
  error_code: z.number().int().nullable().optional(),
  error_message: z.string().nullable().optional(),
  date_created: z.string().nullable().optional(),
  date_sent: z.string().nullable().optional(),
  date_updated: z.string().nullable().optional(),
  direction: z.string().optional(),
});
export type TwilioMessage = z.infer<typeof TwilioMessageSchema>;

export const TwilioMessageListSchema = z.object({
  messages: z.array(TwilioMessageSchema),
  next_page_uri: z.string().nullable().optional(),
});

/** An IncomingPhoneNumber (the fields we read). */
export const IncomingNumberSchema = z.object({
  sid: z.string().regex(/^PN[0-9a-fA-F]{32}$/),
  phone_number: z.string(),
  sms_url: z.string().nullable().optional(),
  sms_fallback_url: z.string().nullable().optional(),
  status_callback: z.string().nullable().optional(),
});
export type IncomingNumber = z.infer<typeof IncomingNumberSchema>;

export const IncomingNumberListSchema = z.object({ incoming_phone_numbers: z.array(IncomingNumberSchema) });

export const TwilioErrorBodySchema = z.object({
  code: z.number().int().nullable().optional(),
  message: z.string().optional(),
  status: z.number().int().optional(),
  more_info: z.string().optional(),
});
