/**
 * Consent keywords (DESIGN.md invariant 6, TWILIO.md §7): a single word, any case.
 * "STOP PLEASE" is an ordinary message.
 */
export type Keyword = "opt_out" | "opt_in" | "help";

const OPT_OUT = new Set(["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]);
const OPT_IN = new Set(["START", "UNSTOP", "YES"]);
const HELP = new Set(["HELP", "INFO"]);

export function classifyKeyword(body: string): Keyword | null {
  const word = body.trim().toUpperCase();
  if (!/^[A-Z]+$/.test(word)) return null;
  if (OPT_OUT.has(word)) return "opt_out";
  if (OPT_IN.has(word)) return "opt_in";
  if (HELP.has(word)) return "help";
  return null;
}

/** Twilio Advanced Opt-Out's `OptOutType` parameter, when present, decides instead of our own match. */
export function keywordFromOptOutType(optOutType: string | undefined): Keyword | null {
  switch (optOutType?.toUpperCase()) {
    case "STOP":
      return "opt_out";
    case "START":
      return "opt_in";
    case "HELP":
      return "help";
    default:
      return null;
  }
}
