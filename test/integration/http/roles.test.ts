/**
 * Roles, route by route: every route in the OpenAPI document, called by an owner, an admin, an agent
 * and a viewer of one workspace. A role whose scopes (ROLE_SCOPES) lack what the permission table
 * names for the route gets 403 and changes nothing; a role that has it never gets 403 from the table.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { requiredScope } from "../../../src/http/permissions";
import { ROLE_SCOPES } from "../../../src/shared/scopes";
import { type Account, call, signup } from "../../helpers/api";
import { addMember } from "../../helpers/db";

const PUBLIC = new Set([
  "/api/healthz",
  "/api/auth/signup",
  "/api/auth/login",
  "/api/auth/logout",
  "/api/auth/password/reset",
  "/api/auth/password/reset/confirm",
  "/api/openapi.json",
  "/api/docs",
]);

/** Routes whose own check is stricter than the table's row (documented in the README's table). */
const ROUTE_CHECKED: Record<string, Partial<Record<"owner" | "admin" | "agent" | "viewer", number>>> = {};

type Role = "owner" | "admin" | "agent" | "viewer";

describe("every route with every role", () => {
  let owner: Account;
  const who: Record<Role, { cookie: string }> = {} as Record<Role, { cookie: string }>;
  let routes: [string, string][] = [];

  beforeAll(async () => {
    owner = await signup();
    who.owner = { cookie: owner.cookie };
    for (const role of ["admin", "agent", "viewer"] as const) who[role] = await addMember(owner.workspaceId, role);
    const doc = (await call("GET", "/api/openapi.json")).json as { paths: Record<string, Record<string, unknown>> };
    routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => [m.toUpperCase(), path] as [string, string]),
    );
  });

  for (const role of ["owner", "admin", "agent", "viewer"] as const) {
    it(`${role}: 403 exactly where the permission table says the role may not`, async () => {
      const wrong: string[] = [];
      for (const [method, path] of routes) {
        const concrete = path.replace(/\{[^}]+\}/g, "does_not_exist");
        if (PUBLIC.has(concrete) || concrete.endsWith("/ws")) continue;
        const scope = requiredScope(method, concrete);
        const allowed = scope === null || ROLE_SCOPES[role].includes(scope);
        const res = await call(method, concrete, who[role], { body: method === "GET" ? undefined : {} });
        const expected = ROUTE_CHECKED[`${method} ${path}`]?.[role];
        if (expected !== undefined) {
          if (res.status !== expected) wrong.push(`${method} ${path}: ${res.status}, expected ${expected}`);
        } else if (allowed && res.status === 403) {
          wrong.push(`${method} ${path}: 403 for ${role}, which holds ${scope}: ${res.text}`);
        } else if (!allowed && res.status !== 403) {
          wrong.push(`${method} ${path}: ${res.status} for ${role}, which lacks ${scope}`);
        }
      }
      expect(wrong).toEqual([]);
      expect(routes.length).toBeGreaterThan(40);
    });
  }

  it("the viewer reads but changes nothing; the agent works conversations but administers nothing", async () => {
    const viewer = who.viewer;
    expect((await call("GET", "/api/conversations", viewer)).status).toBe(200);
    expect((await call("GET", "/api/members", viewer)).status).toBe(200);
    expect((await call("POST", "/api/contacts", viewer, { body: { phone: "+14155550100" } })).status).toBe(403);
    expect((await call("POST", "/api/labels", viewer, { body: { name: "vip" } })).status).toBe(403);
    expect((await call("POST", "/api/labels", who.agent, { body: { name: "vip" } })).status).toBe(201);
    expect((await call("PATCH", "/api/workspace", who.agent, { body: { name: "x" } })).status).toBe(403);
    expect((await call("GET", "/api/audit", who.agent)).status).toBe(403);
    expect((await call("GET", "/api/audit", who.admin)).status).toBe(200);
  });
});
