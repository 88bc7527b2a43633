/** Provider error codes in words, whichever channel's they are. */
import { EMAIL_ERROR } from "./email/resend";
import { describeTwilioError } from "./twilio/error-codes";

const EMAIL_DESCRIPTIONS: Record<number, string> = {
  [EMAIL_ERROR.rejected]: "The email provider refused this email",
  [EMAIL_ERROR.credentials]: "The email provider refused our credentials",
  [EMAIL_ERROR.bounced]: "The email bounced: the recipient's server did not accept it",
  [EMAIL_ERROR.complained]: "The recipient marked the email as spam",
  [EMAIL_ERROR.suppressed]: "The provider suppressed this address after earlier bounces or complaints",
};

export function describeProviderError(code: number | null | undefined): string | null {
  if (code === null || code === undefined) return null;
  return EMAIL_DESCRIPTIONS[code] ?? describeTwilioError(code);
}
