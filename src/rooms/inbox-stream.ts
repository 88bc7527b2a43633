/**
 * InboxStream: one Durable Object per workspace that fans out conversation-list changes to the
 * browsers' inbox sockets, so the list view never polls.
 */
import { DurableObject } from "cloudflare:workers";

export class InboxStream extends DurableObject<Env> {
  /** Sends a `conversation` frame (already serialized) to every connected inbox socket. */
  async publish(frame: string): Promise<number> {
    let sent = 0;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
        sent++;
      } catch {
        // closing socket
      }
    }
    return sent;
  }
}

export function inboxFor(env: Env, workspaceId: string): DurableObjectStub<InboxStream> {
  return env.INBOX_STREAM.get(env.INBOX_STREAM.idFromName(workspaceId));
}
