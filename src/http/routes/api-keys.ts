/**
 * API keys: created by signed-in owners/admins, shown once, stored as a SHA-256 hash with a visible
 * prefix, each with scopes (messages:send, messages:read, contacts:write, admin).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { audit, auditValues } from "../../db/queries/audit";
import { apiKeys, auditLog } from "../../db/schema";
import { notFound } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { iso } from "../../domain/time";
import { inboxFor } from "../../rooms/inbox-stream";
import { randomToken, sha256Hex } from "../../security/crypto";
import { API_KEY_SCOPES, DEFAULT_KEY_SCOPES, parseScopes } from "../../shared/scopes";
import type { AppEnv } from "../context";
import { API_KEY_PREFIX, requireAdmin, requireSessionRole } from "../middleware/auth";
import { ApiKeySchema, errorResponses, IdParam, jsonBody, jsonContent, listOf, security } from "../schemas";
import { validationHook } from "../validation";

const ScopeList = z
  .array(z.enum(API_KEY_SCOPES))
  .min(1, "name at least one scope")
  .max(API_KEY_SCOPES.length)
  .openapi({ description: `Any of ${API_KEY_SCOPES.join(", ")}; default ${DEFAULT_KEY_SCOPES.join(" ")}` });

const CreatedKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    key: z.string(),
    scopes: z.array(z.string()),
    createdAt: z.string(),
  })
  .openapi("CreatedApiKey");

const createKey = createRoute({
  method: "post",
  path: "/",
  tags: ["api-keys"],
  summary: "Create an API key (the key is in this response only)",
  security,
  request: { body: jsonBody(z.object({ name: z.string().trim().min(1).max(100), scopes: ScopeList.optional() })) },
  responses: { 201: jsonContent(CreatedKeySchema, "The new key"), ...errorResponses },
});

const listKeys = createRoute({
  method: "get",
  path: "/",
  tags: ["api-keys"],
  summary: "List the workspace's active API keys",
  security,
  responses: { 200: jsonContent(listOf(ApiKeySchema, "ApiKeyList"), "Keys"), ...errorResponses },
});

const revokeKey = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["api-keys"],
  summary: "Revoke an API key",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});

export const apiKeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createKey, async (c) => {
    const principal = requireSessionRole(c, "owner", "admin");
    const { name, scopes: requested } = c.req.valid("json");
    const scopes = API_KEY_SCOPES.filter((s) => (requested ?? DEFAULT_KEY_SCOPES).includes(s));
    const key = `${API_KEY_PREFIX}${randomToken(32)}`;
    const row = {
      id: newId("key"),
      workspaceId: principal.workspaceId,
      name,
      prefix: key.slice(0, 11),
      keyHash: await sha256Hex(key),
      createdBy: principal.userId,
      createdAt: Date.now(),
      scopes: scopes.join(" "),
    };
    const db = c.get("db");
    await db.batch([
      db.insert(apiKeys).values(row),
      db.insert(auditLog).values(auditValues(principal, "api_key.created", "api_key", row.id, { name, scopes })),
    ]);
    return c.json({ id: row.id, name, prefix: row.prefix, key, scopes, createdAt: iso(row.createdAt) }, 201);
  })
  .openapi(listKeys, async (c) => {
    const principal = requireAdmin(c);
    const rows = await c
      .get("db")
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.workspaceId, principal.workspaceId), isNull(apiKeys.revokedAt)))
      .orderBy(desc(apiKeys.createdAt));
    const items = rows.map((r) => ({
      id: r.id,
      name: r.name,
      prefix: r.prefix,
      createdAt: iso(r.createdAt),
      lastUsedAt: iso(r.lastUsedAt),
      scopes: [...parseScopes(r.scopes)],
    }));
    return c.json({ items, nextCursor: null }, 200);
  })
  .openapi(revokeKey, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const [revoked] = await db
      .update(apiKeys)
      .set({ revokedAt: Date.now() })
      .where(and(eq(apiKeys.id, id), eq(apiKeys.workspaceId, principal.workspaceId), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    if (!revoked) throw notFound("API key");
    await audit(db, principal, "api_key.revoked", "api_key", id);
    // Its open sockets end within a minute (the rooms re-check their sockets' credentials); the
    // workspace's inbox stream is told now.
    c.executionCtx.waitUntil(
      inboxFor(c.env, principal.workspaceId)
        .closeCredential(id)
        .catch(() => 0),
    );
    return c.body(null, 204);
  });
