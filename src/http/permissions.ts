/**
 * The permission table: which API key scope each route needs (sessions are checked by their member's
 * role in the route itself). Fails closed: an /api route missing here needs `admin`, and a unit test
 * checks every route in the OpenAPI document has a row.
 */
import type { Scope } from "../shared/scopes";

type Rule = [method: string, path: RegExp, scope: Scope | null];

const ID = "[^/]+";
export const PERMISSIONS: Rule[] = [
  ["GET", /^\/api\/me$/, null],
  ["POST", /^\/api\/auth\/logout$/, null],
  // Administration.
  ["*", /^\/api\/api-keys(\/.*)?$/, "admin"],
  ["*", /^\/api\/ops(\/.*)?$/, "admin"],
  ["PATCH", /^\/api\/workspace$/, "admin"],
  ["POST", /^\/api\/numbers$/, "admin"],
  ["PATCH", new RegExp(`^/api/numbers/${ID}$`), "admin"],
  ["DELETE", new RegExp(`^/api/numbers/${ID}$`), "admin"],
  // Contacts.
  ["POST", /^\/api\/contacts$/, "contacts:write"],
  ["PATCH", new RegExp(`^/api/contacts/${ID}$`), "contacts:write"],
  ["DELETE", new RegExp(`^/api/contacts/${ID}$`), "contacts:write"],
  // Sending and conversation state.
  ["POST", /^\/api\/messages$/, "messages:send"],
  ["PATCH", new RegExp(`^/api/messages/${ID}$`), "messages:send"],
  ["POST", new RegExp(`^/api/messages/${ID}/(cancel|retry)$`), "messages:send"],
  ["POST", /^\/api\/conversations$/, "messages:send"],
  ["PATCH", new RegExp(`^/api/conversations/${ID}$`), "messages:send"],
  ["POST", new RegExp(`^/api/conversations/${ID}/(messages|read)$`), "messages:send"],
  // Reading (WebSocket upgrades are GETs too).
  ["GET", /^\/api\/.*$/, "messages:read"],
];

/** The table's row for this request, if it has one. */
export function permissionFor(method: string, path: string): Rule | undefined {
  return PERMISSIONS.find(([m, pattern]) => (m === "*" || m === method) && pattern.test(path));
}

/** The scope a key needs for this request; `admin` for anything the table does not name. */
export function requiredScope(method: string, path: string): Scope | null {
  const rule = permissionFor(method, path);
  return rule ? rule[2] : "admin";
}
