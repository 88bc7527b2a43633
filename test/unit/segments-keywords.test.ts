import { describe, expect, it } from "vitest";
import { classifyKeyword, keywordFromOptOutType } from "../../src/domain/keywords";
import { analyzeSegments } from "../../src/domain/segments";

describe("segments and encoding (TWILIO.md §10 table)", () => {
  const a = (n: number) => "a".repeat(n);
  const cases: [string, string, "GSM-7" | "UCS-2", number][] = [
    ["a×160", a(160), "GSM-7", 1],
    ["a×161", a(161), "GSM-7", 2],
    ["a×306", a(306), "GSM-7", 2],
    ["a×307", a(307), "GSM-7", 3],
    ["a×459", a(459), "GSM-7", 3],
    ["a×460", a(460), "GSM-7", 4],
    ["a×1600", a(1600), "GSM-7", 11],
    ["a×158 + €", `${a(158)}€`, "GSM-7", 1],
    ["a×159 + €", `${a(159)}€`, "GSM-7", 2],
    ["a×152 + € + a×152 (€ never split)", `${a(152)}€${a(152)}`, "GSM-7", 3],
    ["a×69 + ó", `${a(69)}ó`, "UCS-2", 1],
    ["a×70 + ó", `${a(70)}ó`, "UCS-2", 2],
    ["ó + a×133", `ó${a(133)}`, "UCS-2", 2],
    ["ó + a×134", `ó${a(134)}`, "UCS-2", 3],
    ["😀×35", "😀".repeat(35), "UCS-2", 1],
    ["😀×36 (pairs never split)", "😀".repeat(36), "UCS-2", 2],
  ];
  for (const [name, body, encoding, segments] of cases) {
    it(`${name} → ${encoding}, ${segments} segment(s)`, () => {
      const info = analyzeSegments(body);
      expect(info.encoding).toBe(encoding);
      expect(info.segments).toBe(segments);
    });
  }

  it("counts extension characters as two septets and names the characters that force UCS-2", () => {
    expect(analyzeSegments("{}").units).toBe(4);
    expect(analyzeSegments("Ça va").encoding).toBe("GSM-7");
    const info = analyzeSegments("ça va `ok`");
    expect(info.encoding).toBe("UCS-2");
    expect(info.nonGsmCharacters).toEqual(["ç", "`"]);
  });
});

describe("consent keywords (invariant 6)", () => {
  it("matches single words in any case, with surrounding whitespace", () => {
    for (const w of [
      "STOP",
      "stop",
      " Stop\n",
      "STOPALL",
      "unsubscribe",
      "Cancel",
      "END",
      "quit",
      "REVOKE",
      "optout",
    ]) {
      expect(classifyKeyword(w)).toBe("opt_out");
    }
    for (const w of ["START", "unstop", "Yes"]) expect(classifyKeyword(w)).toBe("opt_in");
    for (const w of ["HELP", "info"]) expect(classifyKeyword(w)).toBe("help");
  });

  it("ignores keywords inside longer messages", () => {
    for (const w of ["STOP PLEASE", "please stop", "stop.", "", "stopp", "yes please"])
      expect(classifyKeyword(w)).toBeNull();
  });

  it("honours Advanced Opt-Out's OptOutType", () => {
    expect(keywordFromOptOutType("STOP")).toBe("opt_out");
    expect(keywordFromOptOutType("START")).toBe("opt_in");
    expect(keywordFromOptOutType("HELP")).toBe("help");
    expect(keywordFromOptOutType(undefined)).toBeNull();
  });
});
