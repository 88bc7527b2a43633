import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DOCS_SCRIPT } from "../../../src/http/app";
import { call, signup } from "../../helpers/api";
import { countRows } from "../../helpers/db";

const PROTECTED: [string, string][] = [
  ["GET", "/api/me"],
  ["GET", "/api/api-keys"],
  ["POST", "/api/api-keys"],
  ["DELETE", "/api/api-keys/key_x"],
  ["GET", "/api/numbers"],
  ["POST", "/api/numbers"],
  ["DELETE", "/api/numbers/num_x"],
  ["GET", "/api/contacts"],
  ["POST", "/api/contacts"],
  ["GET", "/api/contacts/ct_x"],
  ["PATCH", "/api/contacts/ct_x"],
  ["DELETE", "/api/contacts/ct_x"],
  ["GET", "/api/conversations"],
  ["POST", "/api/conversations"],
  ["GET", "/api/conversations/cv_x"],
  ["PATCH", "/api/conversations/cv_x"],
  ["GET", "/api/conversations/cv_x/messages"],
  ["POST", "/api/conversations/cv_x/messages"],
  ["POST", "/api/conversations/cv_x/read"],
  ["POST", "/api/messages"],
  ["GET", "/api/messages/msg_x"],
  ["POST", "/api/messages/msg_x/cancel"],
  ["POST", "/api/messages/msg_x/retry"],
  ["GET", "/api/workspace"],
  ["PATCH", "/api/workspace"],
];

describe("the one error path", () => {
  for (const [method, path] of PROTECTED) {
    it(`${method} ${path} without credentials → 401 in the error shape`, async () => {
      const res = await call(method, path, {}, method === "GET" || method === "DELETE" ? {} : { body: {} });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    });
  }

  it("an invalid session cookie is 401, not 500", async () => {
    expect((await call("GET", "/api/me", { cookie: "parley_session=forged" })).status).toBe(401);
  });

  it("malformed JSON → 400 invalid_json, nothing stored", async () => {
    const a = await signup();
    const before = await countRows("contacts");
    const res = await call("POST", "/api/contacts", a, {
      rawBody: '{"phone": "+1415',
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("invalid_json");
    expect(await countRows("contacts")).toBe(before);
  });

  it("a body that is not JSON at all → 415 naming the expected type", async () => {
    const a = await signup();
    const res = await call("POST", "/api/contacts", a, {
      rawBody: "phone=1",
      headers: { "Content-Type": "text/plain" },
    });
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe("unsupported_media_type");
  });

  it("an oversized body → 413 before parsing", async () => {
    const a = await signup();
    const res = await call("POST", "/api/contacts", a, { body: { name: "x".repeat(70_000), phone: "+14155550100" } });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("payload_too_large");
  });

  it("unknown fields are refused with 422 (strict bodies), unknown routes with a JSON 404", async () => {
    const a = await signup();
    const extra = await call("POST", "/api/contacts", a, { body: { phone: "+14155550100", workspaceId: "ws_other" } });
    expect(extra.status).toBe(422);
    const missing = await call("GET", "/api/nope", a);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("not_found");
    const webhookMissing = await call("GET", "/webhooks/nope");
    expect(webhookMissing.status).toBe(404);
  });

  it("wrong types name the field", async () => {
    const a = await signup();
    const res = await call("POST", "/api/contacts", a, { body: { phone: 4155550100 } });
    expect(res.status).toBe(422);
    expect(res.json.error.details.fields[0].path).toBe("phone");
  });

  it("sets security headers on every response, including errors", async () => {
    for (const res of [
      await call("GET", "/api/me"),
      await call("GET", "/api/openapi.json"),
      await call("GET", "/api/nope"),
    ]) {
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(res.headers.get("X-Frame-Options")).toBe("DENY");
      expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
      expect(res.headers.get("Referrer-Policy")).toBe("strict-origin-when-cross-origin");
      expect(res.headers.get("Strict-Transport-Security")).toContain("max-age=");
    }
  });
});

describe("OpenAPI", () => {
  it("serves the document generated from the route schemas, covering every route", async () => {
    const res = await call("GET", "/api/openapi.json");
    expect(res.status).toBe(200);
    const paths = Object.keys(res.json.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/api/auth/signup",
        "/api/auth/login",
        "/api/auth/logout",
        "/api/me",
        "/api/api-keys",
        "/api/api-keys/{id}",
        "/api/numbers",
        "/api/contacts",
        "/api/contacts/{id}",
        "/api/conversations",
        "/api/conversations/{id}",
        "/api/conversations/{id}/messages",
        "/api/conversations/{id}/read",
        "/api/messages",
        "/api/messages/{id}",
        "/api/messages/{id}/cancel",
        "/api/messages/{id}/retry",
        "/api/workspace",
      ]),
    );
    expect(res.json.components.schemas).toHaveProperty("Error");
    expect(res.json.components.securitySchemes).toHaveProperty("bearerAuth");
  });

  it("has a browsable docs page", async () => {
    const res = await call("GET", "/api/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/text\/html/);
    expect(res.text).toContain("/api/openapi.json");
  });

  it("loads its script from our own assets, not a CDN, so it works offline", async () => {
    const res = await call("GET", "/api/docs");
    expect(res.text).toContain(`src="${DOCS_SCRIPT}"`);
    expect(res.text).not.toMatch(/https?:\/\/(?!parley)[a-z0-9.-]+\/[^"]*\.js/i);
    expect(res.headers.get("Content-Security-Policy")).not.toMatch(/https:/);
    const script = await env.ASSETS.fetch(new Request(`https://parley.test${DOCS_SCRIPT}`));
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(100_000);
  });
});
