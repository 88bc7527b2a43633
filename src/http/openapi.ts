/**
 * The OpenAPI document's finishing touches, applied once every route is mounted: an `operationId` for
 * every operation (so generated clients get method names: `listConversations`, `getConversation`,
 * `createConversationMessage`, `startCampaign`…), explicit `security: []` on the public ones, and the
 * deployment's origin as the server. A name chosen by hand in `createRoute` wins.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context";
import { ErrorSchema, jsonContent } from "./schemas";

/** Trailing path segments that name an action on the resource before them. */
const ACTIONS = new Set([
  "start",
  "pause",
  "resume",
  "cancel",
  "retry",
  "merge",
  "preview",
  "read",
  "accept",
  "switch",
  "logout",
  "login",
  "signup",
  "redeliver",
  "confirm",
  "reset",
]);

/** Names the rules below would get wrong, or that read better by hand. */
const NAMED: Record<string, string> = {
  "post /api/auth/signup": "signUp",
  "post /api/auth/login": "logIn",
  "post /api/auth/logout": "logOut",
  "post /api/auth/switch": "switchWorkspace",
  "post /api/auth/password": "changePassword",
  "post /api/auth/password/reset": "requestPasswordReset",
  "post /api/auth/password/reset/confirm": "confirmPasswordReset",
  "post /api/notifications/read": "markNotificationsRead",
  "post /api/conversations/{id}/read": "markConversationRead",
  "get /api/healthz": "getHealth",
  "get /api/search": "search",
  "get /api/audit": "listAuditLog",
  "get /api/imports/{id}/errors.csv": "getImportErrors",
  "get /api/exports/{id}/download": "downloadExport",
};

const IRREGULAR: Record<string, string> = {
  ops: "ops",
  audit: "audit",
  search: "search",
  me: "me",
  workspace: "workspace",
  healthz: "health",
  history: "history",
  content: "content",
  delivery: "delivery",
  reads: "reads",
  ws: "socket",
};

function singular(word: string): string {
  if (IRREGULAR[word]) return IRREGULAR[word] as string;
  if (word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.endsWith("sses") || word.endsWith("xes")) return word.slice(0, -2);
  if (word.endsWith("s")) return word.slice(0, -1);
  return word;
}

function camel(parts: string[]): string {
  const words = parts.flatMap((p) => p.split(/[-_.]/)).filter(Boolean);
  return words.map((w, i) => (i === 0 ? w : `${w[0]?.toUpperCase()}${w.slice(1)}`)).join("");
}

/** A readable operation id from the method and path: `GET /api/conversations/{id}/messages` → `listConversationMessages`. */
export function operationIdFor(method: string, path: string): string {
  const named = NAMED[`${method} ${path}`];
  if (named) return named;
  const segments = path
    .replace(/^\/api\/?/, "")
    .split("/")
    .filter(Boolean);
  const last = segments.at(-1) ?? "";
  const endsWithId = /^\{.+\}$/.test(last);
  const nouns = segments.filter((s) => !/^\{.+\}$/.test(s));
  const action = !endsWithId && ACTIONS.has(last) && method === "post" ? last : null;
  const resource = action ? nouns.slice(0, -1) : nouns;
  if (resource.length === 0 && action) return action;
  // Every noun but the last names a parent (singular); the last is the collection or, by id, one item.
  const parents = resource.slice(0, -1).map(singular);
  const leaf = resource.at(-1) ?? "api";
  if (action) return camel([action, ...parents, singular(leaf)]);
  const collection = !endsWithId;
  switch (method) {
    case "get":
      return collection && leaf !== singular(leaf)
        ? camel(["list", ...parents, leaf])
        : camel(["get", ...parents, singular(leaf)]);
    case "post":
      return camel(["create", ...parents, singular(leaf)]);
    case "patch":
    case "put":
      return camel(["update", ...parents, singular(leaf)]);
    case "delete":
      return camel(["delete", ...parents, singular(leaf)]);
    default:
      return camel([method, ...parents, leaf]);
  }
}

interface RouteDefinition {
  type: string;
  route?: {
    method: string;
    path: string;
    operationId?: string;
    security?: unknown[];
    responses?: Record<string, unknown>;
  };
}

/** Names every operation (unique ids), and marks the public ones as needing no credentials. */
export function finishOpenApi(app: OpenAPIHono<AppEnv>, isPublic: (path: string) => boolean): void {
  const seen = new Map<string, string>();
  for (const def of app.openAPIRegistry.definitions as RouteDefinition[]) {
    if (def.type !== "route" || !def.route) continue;
    const route = def.route;
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    route.operationId ??= operationIdFor(route.method, path);
    const clash = seen.get(route.operationId);
    if (clash) throw new Error(`operationId ${route.operationId} names both ${clash} and ${route.method} ${path}`);
    seen.set(route.operationId, `${route.method} ${path}`);
    if (isPublic(path) && route.security === undefined) route.security = [];
    // Every operation documents its errors (the one error shape), also those that declared none.
    route.responses ??= {};
    if (!Object.keys(route.responses).some((code) => code.startsWith("4"))) {
      route.responses["4XX"] = jsonContent(ErrorSchema, "A client error, in the one error shape");
    }
  }
}
