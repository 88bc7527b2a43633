/**
 * @mentions in a note: `@` followed by a member's full name, first name (when only one member has it)
 * or email, case-insensitively, ending at a non-word character or the end. Returns user ids, in the
 * order the members are given, each once.
 */
export interface Mentionable {
  userId: string;
  name: string;
  email: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function mentioned(body: string, handle: string): boolean {
  if (!handle) return false;
  return new RegExp(`(^|[^\\w@])@${escapeRegExp(handle)}(?![\\w@.-]*[\\w])`, "i").test(body);
}

export function findMentions(body: string, members: Mentionable[]): string[] {
  if (!body.includes("@")) return [];
  const firstNames = new Map<string, number>();
  for (const m of members) {
    const first = m.name.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
    firstNames.set(first, (firstNames.get(first) ?? 0) + 1);
  }
  const found: string[] = [];
  for (const m of members) {
    const first = m.name.trim().split(/\s+/)[0] ?? "";
    const byFirst = (firstNames.get(first.toLowerCase()) ?? 0) === 1 && mentioned(body, first);
    if (mentioned(body, m.name.trim()) || mentioned(body, m.email) || byFirst) found.push(m.userId);
  }
  return [...new Set(found)];
}
