/**
 * SMS segment math, as Twilio's own calculator (TWILIO.md §10) does it.
 *
 * GSM-7 when every character is in the basic or extension table (extension characters cost two
 * septets); otherwise UCS-2 for the whole message. One segment holds 160 septets / 70 UTF-16 units;
 * a multipart message holds 153 / 67 per segment. Segments are filled with whole characters, so an
 * extension character or a surrogate pair is never split and the count is not always ceil(n / 153).
 */

const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM_EXTENSION = new Set("^{}\\[~]|€\f");

export type Encoding = "GSM-7" | "UCS-2";

export interface SegmentInfo {
  encoding: Encoding;
  segments: number;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) the body uses. */
  units: number;
  /** Characters that forced UCS-2 (empty for GSM-7), for the composer's warning. */
  nonGsmCharacters: string[];
}

function countSegments(sizes: number[], single: number, multi: number): number {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total === 0) return 1;
  if (total <= single) return 1;
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > multi) {
      segments++;
      used = 0;
    }
    used += size;
  }
  return segments;
}

export function analyzeSegments(body: string): SegmentInfo {
  const chars = Array.from(body);
  const nonGsm = chars.filter((ch) => !GSM_BASIC.has(ch) && !GSM_EXTENSION.has(ch));
  if (nonGsm.length === 0) {
    const sizes = chars.map((ch) => (GSM_EXTENSION.has(ch) ? 2 : 1));
    return {
      encoding: "GSM-7",
      segments: countSegments(sizes, 160, 153),
      units: sizes.reduce((a, b) => a + b, 0),
      nonGsmCharacters: [],
    };
  }
  const sizes = chars.map((ch) => ch.length);
  return {
    encoding: "UCS-2",
    segments: countSegments(sizes, 70, 67),
    units: body.length,
    nonGsmCharacters: [...new Set(nonGsm)],
  };
}
