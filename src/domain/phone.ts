/**
 * Phone numbers: everything we store or send is E.164. Parsing and validation come from
 * libphonenumber-js (its "min" metadata keeps the Worker small).
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/min";

/**
 * Numbers parsed lately (input and default country → E.164 or null). Parsing with the metadata is a
 * large share of an inbound webhook's CPU, and the same few numbers (the inboxes, active customers)
 * come back all the time. Bounded: cleared when full.
 */
const parsedNumbers = new Map<string, string | null>();
const PARSED_NUMBERS_MAX = 10_000;

/** Returns the E.164 form of `input`, or null when it is not a valid number. */
export function toE164(input: string, defaultCountry: string = "US"): string | null {
  const trimmed = input.trim();
  if (trimmed.length === 0 || trimmed.length > 32) return null;
  const key = `${defaultCountry}:${trimmed}`;
  const known = parsedNumbers.get(key);
  if (known !== undefined) return known;
  const parsed = parsePhoneNumberFromString(trimmed, defaultCountry as CountryCode);
  const e164 = parsed?.isValid() ? parsed.number : null;
  if (parsedNumbers.size >= PARSED_NUMBERS_MAX) parsedNumbers.clear();
  parsedNumbers.set(key, e164);
  return e164;
}

/** Masks a phone number for logs, keeping at most its last 4 digits: `•••2671`. */
export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return "";
  const digits = phone.replace(/\D/g, "");
  return digits.length <= 6 ? "•••" : `•••${digits.slice(-4)}`;
}

/** The ISO region (e.g. "US", "FR") a number belongs to, when its metadata says. */
export function regionOf(e164: string): string | null {
  return parsePhoneNumberFromString(e164)?.country ?? null;
}
