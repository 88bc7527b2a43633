/**
 * Structured log lines (one JSON object each, as Workers Logs index them). Phone numbers go
 * through maskPhone; message bodies and secrets are never logged.
 */
import { maskPhone } from "./domain/phone";

type Level = "debug" | "info" | "warn" | "error";

export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export { maskPhone };
