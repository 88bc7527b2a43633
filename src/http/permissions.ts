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
  // A person's own account (session-only, checked in the route).
  ["POST", /^\/api\/auth\/(switch|password)$/, null],
  ["POST", /^\/api\/invitations\/accept$/, null],
  // Your own notifications (members only, checked in the route).
  ["POST", /^\/api\/notifications\/read$/, null],
  // Leaving is your own; removing someone else needs owner/admin (checked in the route).
  ["DELETE", new RegExp(`^/api/members/${ID}$`), null],
  // Administration.
  ["*", /^\/api\/api-keys(\/.*)?$/, "admin"],
  ["*", /^\/api\/ops(\/.*)?$/, "admin"],
  ["*", /^\/api\/webhooks(\/.*)?$/, "admin"],
  ["GET", /^\/api\/alerts$/, "admin"],
  ["*", /^\/api\/analytics(\/.*)?$/, "admin"],
  ["*", /^\/api\/archive(\/.*)?$/, "admin"],
  ["GET", /^\/api\/audit$/, "admin"],
  // Templates: admins write them; previewing is reading.
  ["POST", new RegExp(`^/api/templates/${ID}/preview$`), "messages:read"],
  ["POST", /^\/api\/templates$/, "admin"],
  ["PATCH", new RegExp(`^/api/templates/${ID}$`), "admin"],
  ["DELETE", new RegExp(`^/api/templates/${ID}$`), "admin"],
  ["PATCH", /^\/api\/workspace$/, "admin"],
  ["DELETE", /^\/api\/workspace$/, "admin"],
  ["*", /^\/api\/invitations(\/.*)?$/, "admin"],
  ["PATCH", new RegExp(`^/api/members/${ID}$`), "admin"],
  ["POST", /^\/api\/numbers$/, "admin"],
  ["PATCH", new RegExp(`^/api/numbers/${ID}$`), "admin"],
  ["DELETE", new RegExp(`^/api/numbers/${ID}$`), "admin"],
  ["POST", /^\/api\/inboxes$/, "admin"],
  ["PATCH", new RegExp(`^/api/inboxes/${ID}$`), "admin"],
  ["DELETE", new RegExp(`^/api/inboxes/${ID}$`), "admin"],
  // Contacts.
  ["POST", /^\/api\/contacts$/, "contacts:write"],
  ["PATCH", new RegExp(`^/api/contacts/${ID}$`), "contacts:write"],
  ["DELETE", new RegExp(`^/api/contacts/${ID}$`), "contacts:write"],
  ["POST", new RegExp(`^/api/contacts/${ID}/merge$`), "contacts:write"],
  ["POST", /^\/api\/imports$/, "contacts:write"],
  // Exports carry every contact or message: administrators only.
  ["POST", /^\/api\/exports$/, "admin"],
  ["GET", new RegExp(`^/api/exports/${ID}$`), "admin"],
  // The download link carries its own token (checked in the route).
  ["GET", new RegExp(`^/api/exports/${ID}/download$`), null],
  // Campaigns text many people at once: owners and admins create and control them; everyone watches.
  ["POST", /^\/api\/campaigns$/, "admin"],
  ["DELETE", new RegExp(`^/api/campaigns/${ID}$`), "admin"],
  ["POST", new RegExp(`^/api/campaigns/${ID}/(start|pause|resume|cancel)$`), "admin"],
  // Labels and notes are the agents' work.
  ["POST", /^\/api\/labels$/, "messages:send"],
  ["PATCH", new RegExp(`^/api/labels/${ID}$`), "messages:send"],
  ["DELETE", new RegExp(`^/api/labels/${ID}$`), "messages:send"],
  ["POST", new RegExp(`^/api/conversations/${ID}/notes$`), "messages:send"],
  // Files to send are part of sending.
  ["POST", /^\/api\/attachments$/, "messages:send"],
  // Sending and conversation state.
  ["POST", /^\/api\/messages$/, "messages:send"],
  ["PATCH", new RegExp(`^/api/messages/${ID}$`), "messages:send"],
  ["POST", new RegExp(`^/api/messages/${ID}/(cancel|retry)$`), "messages:send"],
  ["POST", /^\/api\/conversations$/, "messages:send"],
  ["PATCH", new RegExp(`^/api/conversations/${ID}$`), "messages:send"],
  ["POST", new RegExp(`^/api/conversations/${ID}/messages$`), "messages:send"],
  // Marking read is reading.
  ["POST", new RegExp(`^/api/conversations/${ID}/read$`), "messages:read"],
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
