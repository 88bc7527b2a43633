/**
 * InboxStream: one Durable Object per workspace that pushes `conversation {conversation}` to the
 * browsers' inbox sockets whenever a conversation's last message, status, unread count or
 * assignment changes, so the list view never polls. Unread counts are per user: one query computes
 * the view with every connected user's count, and nothing is read when nobody is connected.
 *
 * Presence: most of the time nobody has a workspace's inbox open, and telling the stream of every
 * message, status and read marker would cost a call each for nothing. So the stream keeps the
 * workspace's `inbox_listeners` flag in D1: set (and committed) before it accepts a socket, cleared
 * when it finds itself without one. Writers read the flag in the batch that commits their change and
 * skip the publish when it is clear. That is safe because a socket accepted after such a commit loads
 * the list after it opens (the browser reloads the list on every open), so it has the change already;
 * a flag left set (a crash) only costs the publishes it would have cost anyway, until the next clear.
 */
import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { countingD1, type D1Count, newCount } from "../db/counted";
import { getConversationViewForReaders } from "../db/queries/conversations";
import { agentsAmong, setInboxListeners } from "../db/queries/team";
import { log } from "../log";
import { presentConversation } from "../messaging/present";
import type { InboxFrame, NotificationJson } from "../shared/frames";
import { PresenceFlag } from "./presence";
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
  /** Sockets on their way in (fetch between the presence write and acceptWebSocket). */
  private accepting = 0;
  /** The workspace's inbox_listeners flag: set while a socket is open or on its way in. */
  private readonly presence: PresenceFlag;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    const workspaceId = ctx.id.name ?? "";
    this.presence = new PresenceFlag(
      (leaving) =>
        this.accepting > 0 ||
        this.ctx.getWebSockets().some((ws) => ws !== leaving && ws.readyState !== WebSocket.CLOSED),
      (on) => setInboxListeners(this.env.DB, workspaceId, on),
      { workspaceId },
    );
  }

  override async fetch(request: Request): Promise<Response> {
    const parsed = SocketIdentitySchema.safeParse(JSON.parse(request.headers.get(IDENTITY_HEADER) ?? "null"));
    if (!parsed.success || request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("the inbox stream is reached through the Worker", { status: 400 });
    }
    // Writers must see the flag set before this socket can get (or miss) anything: committed first.
    this.accepting++;
    try {
      await this.presence.sync();
    } finally {
      this.accepting--;
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
    const agents = await agentsAmong(this.env.DB, this.ctx.id.name ?? "", [...online]);
    const last = (await this.ctx.storage.get<string>("lastAssigned")) ?? "";
    const next = agents.find((id) => id > last) ?? agents[0];
    if (!next) return null;
    await this.ctx.storage.put("lastAssigned", next);
    return next;
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
    if (sockets.length === 0) return this.presence.sync();
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
    if (sockets.length === 0) {
      // Told while nobody listens (the flag was set, or the writer did not read it): clear it.
      this.ctx.waitUntil(this.presence.sync());
      return { sent: 0, d1: count };
    }
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
    await this.presence.sync(ws);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    log("warn", "inbox socket error", { error: String(error) });
    await this.presence.sync(ws);
  }
}

export function inboxFor(env: Env, workspaceId: string): DurableObjectStub<InboxStream> {
  return env.INBOX_STREAM.get(env.INBOX_STREAM.idFromName(workspaceId));
}

/** Asks the workspace's inbox stream to publish a conversation; a failure is logged, never thrown. */
export function publishConversation(env: Env, workspaceId: string, conversationId: string): Promise<unknown> {
  return inboxFor(env, workspaceId)
    .publish(conversationId)
    .catch((err: unknown) => log("warn", "inbox publish failed", { conversationId, error: String(err) }));
}
