/**
 * The generated TypeScript client (clients/typescript/, from clients/openapi.json) making real calls to
 * the Worker: its functions are named by the operationIds, and its types match what the API answers.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createClient } from "../../../clients/typescript/client";
import { createMessage, getMessage, listConversations, listInboxes } from "../../../clients/typescript/sdk.gen";
import { textingWorkspace } from "../../helpers/pipeline";

describe("the generated client", () => {
  it("sends a message and reads it back through the API", async () => {
    const ws = await textingWorkspace();
    const client = createClient({
      baseUrl: "https://parley.test",
      headers: { Authorization: `Bearer ${ws.key}` },
      fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init)),
    });
    const sent = await createMessage({ client, body: { to: ws.customer, body: "Sent by the generated client" } });
    expect(sent.response?.status).toBe(202);
    expect(sent.data?.status).toBe("pending");
    const id = sent.data?.id ?? "";
    const read = await getMessage({ client, path: { id } });
    expect(read.data).toMatchObject({ id, body: "Sent by the generated client", to: ws.customer });
    const list = await listConversations({ client, query: { limit: 10 } });
    expect(list.data?.items.map((c) => c.id)).toContain(sent.data?.conversationId);
    const inboxes = await listInboxes({ client });
    expect(inboxes.data?.items.map((i) => i.address)).toEqual([ws.from]);
    // Errors come back in the one error shape, typed.
    const missing = await getMessage({ client, path: { id: "msg_nope" } });
    expect(missing.response?.status).toBe(404);
    expect(missing.error).toMatchObject({ error: { code: "not_found" } });
  });
});
