/**
 * WebSocket upgrades: `GET /api/conversations/:id/ws` (the room) and `GET /api/ws` (the inbox
 * stream). The caller is authenticated (requireAuth ran) and the conversation checked against its
 * workspace here, in the Worker, before any Durable Object is touched; the room receives the
 * identity in a header the Worker sets.
 */

import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { Hono } from "hono";
import { getConversation } from "../../db/queries/conversations";
import { users } from "../../db/schema";
import { ApiError, notFound } from "../../domain/errors";
import { roomFor } from "../../rooms/conversation-room";
import { inboxFor } from "../../rooms/inbox-stream";
import { IDENTITY_HEADER, type SocketIdentity } from "../../rooms/sockets";
import type { AppEnv } from "../context";

function requireUpgrade(c: Context<AppEnv>): void {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(
      426,
      "upgrade_required",
      "This endpoint speaks WebSocket; send an Upgrade: websocket request.",
      undefined,
      {
        Upgrade: "websocket",
      },
    );
  }
  // Browsers send cookies with cross-site WebSocket upgrades too: a cookie-authenticated socket must be same-origin.
  const principal = c.get("principal");
  const origin = c.req.header("Origin");
  if (principal.kind === "session" && origin !== undefined) {
    const allowed = new Set([new URL(c.req.url).origin, new URL(c.env.PUBLIC_BASE_URL).origin]);
    if (!allowed.has(origin))
      throw new ApiError(403, "cross_origin", "Cross-origin WebSocket connections are not allowed.");
  }
}

async function identity(c: Context<AppEnv>, conversationId?: string): Promise<SocketIdentity> {
  const principal = c.get("principal");
  let name = "API integration";
  if (principal.userId) {
    const user = await c.get("db").query.users.findFirst({ where: eq(users.id, principal.userId) });
    name = user?.name ?? "Someone";
  }
  return {
    workspaceId: principal.workspaceId,
    conversationId,
    userId: principal.userId,
    name,
    credential: { kind: principal.kind, id: principal.credentialId, expiresAt: principal.expiresAt },
  };
}

function forward(c: Context<AppEnv>, who: SocketIdentity): Request {
  const headers = new Headers(c.req.raw.headers);
  headers.set(IDENTITY_HEADER, JSON.stringify(who));
  return new Request(c.req.raw.url, { method: "GET", headers });
}

export const socketRoutes = new Hono<AppEnv>()
  .get("/conversations/:id/ws", async (c) => {
    requireUpgrade(c);
    const conversation = await getConversation(
      c.get("db"),
      c.get("principal").workspaceId,
      c.req.param("id"),
      c.get("principal").userId,
    );
    if (!conversation) throw notFound("Conversation");
    return roomFor(c.env, conversation.id).fetch(forward(c, await identity(c, conversation.id)));
  })
  .get("/ws", async (c) => {
    requireUpgrade(c);
    return inboxFor(c.env, c.get("principal").workspaceId).fetch(forward(c, await identity(c)));
  });
