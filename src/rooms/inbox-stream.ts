/**
 * InboxStream: one Durable Object per workspace that pushes `conversation {conversation}` to the
 * browsers' inbox sockets whenever a conversation's last message, status, unread count or
 * assignment changes, so the list view never polls. Unread counts are per user: one query computes
 * the view with every connected user's count, and nothing is read when nobody is connected.
 */
import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { countingD1, type D1Count, newCount } from "../db/counted";
import { getConversationViewForReaders } from "../db/queries/conversations";
import { log } from "../log";
import { presentConversation } from "../messaging/present";
import type { InboxFrame, NotificationJson } from "../shared/frames";
import {
  CREDENTIAL_CHECK_MS,
  closeForCredentials,
  IDENTITY_HEADER,
  reciprocalCloseCode,
  SocketIdentitySchema,
  type SocketState,
  socketsWithEndedCredentials,
} from "./sockets";

export class InboxStream extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  override async fetch(request: Request): Promise<Response> {
    const parsed = SocketIdentitySchema.safeParse(JSON.parse(request.headers.get(IDENTITY_HEADER) ?? "null"));
    if (!parsed.success || request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("the inbox stream is reached through the Worker", { status: 400 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`user:${parsed.data.userId ?? "api-key"}`]);
    const state: SocketState = { ...parsed.data, typingWindowStart: 0, typingCount: 0, typingUntil: 0, strikes: 0 };
    server.serializeAttachment(state);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null) await this.ctx.storage.setAlarm(Date.now() + CREDENTIAL_CHECK_MS);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Closes the sockets opened with this credential (a logout or a revoked key) now. */
  async closeCredential(credentialId: string): Promise<number> {
    let closed = 0;
    for (const ws of this.ctx.getWebSockets()) {
      const state = ws.deserializeAttachment() as SocketState | null;
      if (state?.credential?.id === credentialId) {
        closeForCredentials(ws, state.credential.kind === "session" ? "signed out" : "API key revoked");
        closed++;
      }
    }
    return closed;
  }

  /** Sends each notification to its member's open inboxes; returns how many sockets got one. */
  async deliver(items: { userId: string; notification: NotificationJson }[]): Promise<number> {
    let sent = 0;
    for (const { userId, notification } of items) {
      const text = JSON.stringify({ type: "notification", notification } satisfies InboxFrame);
      for (const ws of this.ctx.getWebSockets(`user:${userId}`)) {
        try {
          ws.send(text);
          sent++;
        } catch {
          // closing
        }
      }
    }
    return sent;
  }

  /**
   * The next agent to get a new conversation: round-robin over the workspace's agents who have the
   * inbox open now, after the one picked last. Null when no agent is online.
   */
  async nextOnlineAgent(): Promise<string | null> {
    const online = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      const state = ws.deserializeAttachment() as SocketState | null;
      if (state?.userId) online.add(state.userId);
    }
    if (online.size === 0) return null;
    const { results } = await this.env.DB.prepare(
      `SELECT user_id AS id FROM memberships WHERE workspace_id = ?1 AND role = 'agent'
         AND user_id IN (SELECT value FROM json_each(?2)) ORDER BY user_id`,
    )
      .bind(this.ctx.id.name ?? "", JSON.stringify([...online]))
      .all<{ id: string }>();
    if (results.length === 0) return null;
    const last = (await this.ctx.storage.get<string>("lastAssigned")) ?? "";
    const next = results.find((r) => r.id > last) ?? results[0];
    if (!next) return null;
    await this.ctx.storage.put("lastAssigned", next.id);
    return next.id;
  }

  /** Sends a frame to every socket of the workspace (import progress). */
  async broadcast(frame: InboxFrame): Promise<number> {
    const text = JSON.stringify(frame);
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      try {
        ws.send(text);
      } catch {
        // closing
      }
    }
    return sockets.length;
  }

  /** Closes every socket (the workspace was deleted). */
  async closeAll(why: string): Promise<number> {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) closeForCredentials(ws, why);
    return sockets.length;
  }

  /** Closes a user's sockets now (they were removed from the workspace). */
  async closeUser(userId: string): Promise<number> {
    const sockets = this.ctx.getWebSockets(`user:${userId}`);
    for (const ws of sockets) closeForCredentials(ws, "removed from the workspace");
    return sockets.length;
  }

  /** Every CREDENTIAL_CHECK_MS while sockets are open: close those whose credentials ended (4401). */
  override async alarm(): Promise<void> {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    try {
      for (const { ws, why } of await socketsWithEndedCredentials(this.env.DB, sockets, Date.now())) {
        closeForCredentials(ws, why);
      }
    } finally {
      if (this.ctx.getWebSockets().length > 0) await this.ctx.storage.setAlarm(Date.now() + CREDENTIAL_CHECK_MS);
    }
  }

  /** Pushes the conversation's current list entry to every inbox socket; returns how many got it and the D1 cost. */
  async publish(conversationId: string): Promise<{ sent: number; d1: D1Count }> {
    const count = newCount();
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return { sent: 0, d1: count };
    const byReader = new Map<string | null, WebSocket[]>();
    const now = Date.now();
    for (const ws of sockets) {
      const state = ws.deserializeAttachment() as SocketState | null;
      if (!state) continue;
      if (state.credential?.expiresAt != null && state.credential.expiresAt <= now) {
        closeForCredentials(ws, "session expired");
        continue;
      }
      byReader.set(state.userId, [...(byReader.get(state.userId) ?? []), ws]);
    }
    if (byReader.size === 0) return { sent: 0, d1: count };
    // One query however many users are connected: the shared view plus each user's unread count. The
    // stream's own name is its workspace (one stream per workspace).
    const found = await getConversationViewForReaders(
      createDb(countingD1(this.env.DB, count)),
      this.ctx.id.name ?? "",
      [...byReader.keys()],
      conversationId,
    );
    let sent = 0;
    if (!found) return { sent, d1: count };
    for (const [reader, group] of byReader) {
      if (found.hiddenFrom(reader)) continue;
      const frame = JSON.stringify({
        type: "conversation",
        conversation: presentConversation({ ...found.view, unread: found.unreadFor(reader) }),
      });
      for (const ws of group) {
        try {
          ws.send(frame);
          sent++;
        } catch {
          // closing socket
        }
      }
    }
    return { sent, d1: count };
  }

  override async webSocketMessage(ws: WebSocket, _message: string | ArrayBuffer): Promise<void> {
    // The inbox stream is server → client only (pings are answered by the auto-response).
    try {
      ws.send(
        JSON.stringify({ type: "error", code: "read_only", message: "The inbox stream takes no frames besides ping." }),
      );
    } catch {
      // closing
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(reciprocalCloseCode(code), reason);
    } catch {
      // already closed
    }
  }

  override async webSocketError(_ws: WebSocket, error: unknown): Promise<void> {
    log("warn", "inbox socket error", { error: String(error) });
  }
}

export function inboxFor(env: Env, workspaceId: string): DurableObjectStub<InboxStream> {
  return env.INBOX_STREAM.get(env.INBOX_STREAM.idFromName(workspaceId));
}
