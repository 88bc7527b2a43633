/** Opaque keyset cursors: base64url of `<sort key>:<id>`. A cursor that does not decode is a 400. */
import { badRequest } from "../domain/errors";

export interface Cursor {
  key: number;
  id: string;
}

export function encodeCursor(key: number, id: string): string {
  return btoa(`${key}:${id}`).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): Cursor | null {
  if (cursor === undefined || cursor === "") return null;
  try {
    const text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const sep = text.indexOf(":");
    const key = Number(text.slice(0, sep));
    const id = text.slice(sep + 1);
    if (sep < 1 || !Number.isFinite(key) || id.length === 0) throw new Error("bad cursor");
    return { key, id };
  } catch {
    throw badRequest("The cursor is not valid; pass nextCursor from a previous page.", { field: "cursor" });
  }
}
