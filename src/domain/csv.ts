/**
 * CSV (RFC 4180, as spreadsheets write it): quoted fields with commas, quotes ("") and line breaks,
 * CRLF or LF. Parses a chunk of a larger file: only complete records are returned, and `consumed` says
 * how many characters of `text` they used, so the next chunk starts right after the last one.
 */
export function parseCsvChunk(text: string, final: boolean): { records: string[][]; consumed: number } {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let consumed = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        if (i + 1 >= text.length && !final) break; // a quote at the chunk's end: wait for the next chunk
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === "") {
      quoted = true;
      i++;
    } else if (ch === ",") {
      record.push(field);
      field = "";
      i++;
    } else if (ch === "\n" || ch === "\r") {
      record.push(field);
      field = "";
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      if (ch === "\r" && i >= text.length && !final) break; // maybe a CRLF split across chunks
      if (!(record.length === 1 && record[0] === "")) records.push(record);
      record = [];
      consumed = i;
    } else {
      field += ch;
      i++;
    }
  }
  if (final && i >= text.length && (field !== "" || record.length > 0)) {
    record.push(field);
    records.push(record);
    consumed = text.length;
  }
  return { records, consumed };
}

/** A CSV cell, quoted when it must be (for error reports and exports). */
export function csvCell(value: string | number | null | undefined): string {
  const text = value === null || value === undefined ? "" : String(value);
  // A leading =, +, - or @ would be a formula in a spreadsheet: prefix a quote to keep it text.
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
