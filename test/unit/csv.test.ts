import { describe, expect, it } from "vitest";
import { csvCell, parseCsvChunk } from "../../src/domain/csv";

describe("CSV", () => {
  it("parses quoted fields with commas, quotes and line breaks, CRLF or LF", () => {
    const text = 'name,phone\r\n"Lee, Ana","+1 415 555 0101"\n"Say ""hi""\nthere",x\n';
    expect(parseCsvChunk(text, true)).toEqual({
      records: [
        ["name", "phone"],
        ["Lee, Ana", "+1 415 555 0101"],
        ['Say "hi"\nthere', "x"],
      ],
      consumed: text.length,
    });
  });

  it("returns only complete records of a chunk, and the next chunk continues exactly", () => {
    const text = 'a,b\n"multi\nline",2\nlast,3';
    for (let cut = 1; cut < text.length; cut++) {
      const first = parseCsvChunk(text.slice(0, cut), false);
      const rest = parseCsvChunk(text.slice(first.consumed), true);
      expect([...first.records, ...rest.records]).toEqual([
        ["a", "b"],
        ["multi\nline", "2"],
        ["last", "3"],
      ]);
    }
  });

  it("writes cells safely (quotes, and no spreadsheet formulas)", () => {
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    expect(csvCell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvCell(null)).toBe("");
  });
});
