/**
 * The OpenAPI document integrators generate clients from: every operation named (unique operationId),
 * summarised and secured, and the committed copy (clients/openapi.json, which the generated TypeScript
 * client is built from) equal to what the Worker serves — `npx vitest run --project workers
 * test/integration/http/openapi.test.ts -u` refreshes it after the API changes.
 */
import { describe, expect, it } from "vitest";
import { call } from "../../helpers/api";

describe("the OpenAPI document", () => {
  it("names, summarises and secures every operation, and matches clients/openapi.json", async () => {
    const res = await call("GET", "/api/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.json;
    const ops: { id: string; summary: string; security: unknown; responses: Record<string, unknown> }[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        ops.push({ id: op.operationId, summary: op.summary, security: op.security, responses: op.responses });
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(op.security, `${method} ${path}`).toBeDefined();
        expect(
          Object.keys(op.responses).some((code) => code.startsWith("4")),
          `${method} ${path} errors`,
        ).toBe(true);
      }
    }
    expect(new Set(ops.map((o) => o.id)).size).toBe(ops.length);
    expect(ops.map((o) => o.id)).toEqual(
      expect.arrayContaining([
        "listConversations",
        "getConversation",
        "createConversationMessage",
        "createMessage",
        "startCampaign",
        "listInboxes",
        "createAttachment",
      ]),
    );
    expect(doc.servers).toEqual([{ url: "https://parley.test", description: "This Parley deployment" }]);
    await expect(`${JSON.stringify(doc, null, 2)}\n`).toMatchFileSnapshot("../../../clients/openapi.json");
  });
});
