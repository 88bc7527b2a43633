/**
 * The OpenAPI document integrators generate clients from: every operation named (unique operationId),
 * summarised, secured, with its errors and an example of each response (Redocly's lint, in
 * test/node/openapi-client.test.ts, checks each example against its schema), and the committed copy (clients/openapi.json, which the generated TypeScript
 * client is built from) equal to what the Worker serves — `npx vitest run --project workers
 * test/integration/http/openapi.test.ts -u` refreshes it after the API changes.
 */
import { describe, expect, it } from "vitest";
import { call } from "../../helpers/api";

describe("the OpenAPI document", () => {
  it("names, summarises, secures and exemplifies every operation, and matches clients/openapi.json", async () => {
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
        // An example of what it answers (its success response, or an error for a 204), every error with one.
        const responses = Object.entries(op.responses as Record<string, { content?: Record<string, any> }>);
        const examples = responses.flatMap(([code, r]) =>
          Object.values(r.content ?? {}).map((m) => ({ code, example: m.example })),
        );
        expect(
          examples.some((e) => e.example !== undefined),
          `${method} ${path} example`,
        ).toBe(true);
        expect(
          examples.filter((e) => !e.code.startsWith("2") && e.example === undefined),
          `${method} ${path} error examples`,
        ).toEqual([]);
        const success = responses.find(([code]) => code.startsWith("2"));
        if (success?.[1].content) {
          expect(
            Object.values(success[1].content).every((m) => m.example !== undefined),
            `${method} ${path} success example`,
          ).toBe(true);
        }
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
