/** Recognises a unique-key clash from D1 (the message may sit on the error or on its cause). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err);
  if (!/UNIQUE constraint failed/i.test(text)) return false;
  return constraint === undefined || text.includes(constraint);
}
