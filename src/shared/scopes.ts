/** API key scopes: what an integration's key may do. Sessions act by their member's role instead. */
export const API_KEY_SCOPES = ["messages:send", "messages:read", "contacts:write", "admin"] as const;
export type Scope = (typeof API_KEY_SCOPES)[number];

/** A key created without scopes can send and read messages and keep contacts, not administer. */
export const DEFAULT_KEY_SCOPES: readonly Scope[] = ["messages:send", "messages:read", "contacts:write"];

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  "messages:send": "send, schedule, cancel and retry messages; start conversations",
  "messages:read": "read conversations, messages, contacts and numbers; live sockets",
  "contacts:write": "create, edit and delete contacts",
  admin: "workspace settings, retention, sender numbers, API keys, operations",
};

export function parseScopes(text: string): Set<Scope> {
  const known = new Set<string>(API_KEY_SCOPES);
  return new Set(text.split(/\s+/).filter((s): s is Scope => known.has(s)));
}

/** What a signed-in member may do, by role, in the same terms as API key scopes (one permission table). */
export const ROLE_SCOPES: Record<"owner" | "admin" | "agent" | "viewer", readonly Scope[]> = {
  owner: API_KEY_SCOPES,
  admin: API_KEY_SCOPES,
  agent: DEFAULT_KEY_SCOPES,
  viewer: ["messages:read"],
};
