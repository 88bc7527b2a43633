/**
 * The Hono app: middleware, the API routers, OpenAPI, and the one error path.
 * Webhooks (src/webhooks) are mounted here too so they share headers, limits and error rendering.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { createDb } from "../db/client";
import { countingD1, newCount, serverTiming } from "../db/counted";
import { ApiError, errorBody, unauthorized } from "../domain/errors";
import { emailWebhookRoutes, twilioWebhookRoutes } from "../webhooks/routes";
import type { AppEnv } from "./context";
import { foldsCredential, presentedCredential, requireAuth } from "./middleware/auth";
import { originCheck, securityHeaders } from "./middleware/security";
import { finishOpenApi } from "./openapi";
import { addExamples } from "./openapi-examples";
import { analyticsRoutes } from "./routes/analytics";
import { apiKeyRoutes } from "./routes/api-keys";
import { archiveRoutes } from "./routes/archive";
import { attachmentRoutes, mediaRoutes } from "./routes/attachments";
import { auditRoutes } from "./routes/audit";
import { authRoutes, meRoutes } from "./routes/auth";
import { campaignRoutes } from "./routes/campaigns";
import { contactRoutes } from "./routes/contacts";
import { conversationRoutes } from "./routes/conversations";
import { exportRoutes } from "./routes/exports";
import { importRoutes } from "./routes/imports";
import { inboxRoutes } from "./routes/inboxes";
import { labelRoutes } from "./routes/labels";
import { messageRoutes } from "./routes/messages";
import { noteRoutes } from "./routes/notes";
import { notificationRoutes } from "./routes/notifications";
import { numberRoutes } from "./routes/numbers";
import { opsRoutes } from "./routes/ops";
import { searchRoutes } from "./routes/search";
import { socketRoutes } from "./routes/sockets";
import { teamRoutes } from "./routes/team";
import { templateRoutes } from "./routes/templates";
import { webhookRoutes } from "./routes/webhooks";
import { workspaceRoutes } from "./routes/workspace";
import { validationHook } from "./validation";

/** JSON bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

const PUBLIC_API_PATHS = new Set([
  "/api/healthz",
  "/api/auth/signup",
  "/api/auth/login",
  "/api/auth/logout",
  "/api/auth/password/reset",
  "/api/auth/password/reset/confirm",
  "/api/openapi.json",
  "/api/docs",
]);

/** Export downloads authenticate by the link's own token (they open in a browser tab, or a script). */
const TOKEN_LINK = /^\/api\/exports\/[^/]+\/download$/;

/** Scalar's bundle, served from our own assets (copied there by web/vite.config.ts). */
export const DOCS_SCRIPT = "/vendor/scalar-api-reference.js";

const DOCS_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use("*", securityHeaders);
  // One counted D1 binding per request; the response says what the request cost the database.
  app.use("*", async (c, next) => {
    const count = newCount();
    const d1 = countingD1(c.env.DB, count);
    c.set("d1Count", count);
    c.set("d1", d1);
    c.set("db", createDb(d1));
    await next();
    if (c.res.status !== 101) c.res.headers.set("Server-Timing", serverTiming(count));
  });
  // CSV imports stream their body to R2 with their own limit (10 MB); everything else is JSON ≤ 64 KB.
  const jsonLimit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json(errorBody("payload_too_large", `The request body is over ${MAX_BODY_BYTES} bytes.`), 413),
  });
  // Uploads (CSV imports, attachments) check their own, larger limits.
  const ownLimit = new Set(["/api/imports", "/api/attachments"]);
  app.use("*", (c, next) => (c.req.method === "POST" && ownLimit.has(c.req.path) ? next() : jsonLimit(c, next)));
  app.use("/api/*", originCheck);
  app.use("/api/*", async (c, next) => {
    if (PUBLIC_API_PATHS.has(c.req.path) || TOKEN_LINK.test(c.req.path)) return next();
    if (foldsCredential(c.req.method, c.req.path)) {
      const credential = await presentedCredential(c);
      if (!credential) throw unauthorized();
      c.set("credential", credential);
      return next();
    }
    return requireAuth(c, next);
  });

  app.route("/api", socketRoutes);
  app.route("/api/auth", authRoutes);
  app.route("/api", meRoutes);
  app.route("/api/api-keys", apiKeyRoutes);
  app.route("/api/numbers", numberRoutes);
  app.route("/api/inboxes", inboxRoutes);
  app.route("/api/attachments", attachmentRoutes);
  app.route("/api/webhooks", webhookRoutes);
  app.route("/api/analytics", analyticsRoutes);
  app.route("/api/archive", archiveRoutes);
  app.route("/api/contacts", contactRoutes);
  app.route("/api/conversations", conversationRoutes);
  app.route("/api/conversations", noteRoutes);
  app.route("/api", messageRoutes);
  app.route("/api/workspace", workspaceRoutes);
  app.route("/api", teamRoutes);
  app.route("/api/labels", labelRoutes);
  app.route("/api/audit", auditRoutes);
  app.route("/api/templates", templateRoutes);
  app.route("/api/search", searchRoutes);
  app.route("/api/imports", importRoutes);
  app.route("/api/exports", exportRoutes);
  app.route("/api/campaigns", campaignRoutes);
  app.route("/api/notifications", notificationRoutes);
  app.route("/api", opsRoutes);
  app.route("/webhooks/twilio", twilioWebhookRoutes);
  app.route("/media", mediaRoutes);
  app.route("/webhooks/email", emailWebhookRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "cookieAuth", {
    type: "apiKey",
    in: "cookie",
    name: "parley_session",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key from POST /api/api-keys",
  });
  finishOpenApi(app, (path) => PUBLIC_API_PATHS.has(path) || TOKEN_LINK.test(path));
  // The document, with an example on every operation (src/http/openapi-examples.ts); built once per origin.
  const documents = new Map<string, unknown>();
  app.get("/api/openapi.json", (c) => {
    let doc = documents.get(c.env.PUBLIC_BASE_URL);
    if (!doc) {
      const built = app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "Parley API",
          version: "0.1.0",
          description:
            "Team inbox for SMS, MMS, WhatsApp and email. Errors share one shape: `{ error: { code, message, details? } }`. Lists are `{ items, nextCursor }`.",
          license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
        },
        // This deployment's origin (PUBLIC_BASE_URL): what generated clients call by default.
        servers: [{ url: c.env.PUBLIC_BASE_URL.replace(/\/$/, ""), description: "This Parley deployment" }],
        // getOpenAPI31Document is typed with the 3.0 config (no license identifier); doc31 takes this shape.
      } as Parameters<typeof app.getOpenAPI31Document>[0]);
      addExamples(built as Parameters<typeof addExamples>[0]);
      doc = built;
      documents.set(c.env.PUBLIC_BASE_URL, doc);
    }
    return c.json(doc);
  });
  app.get("/api/docs", async (c, next) => {
    await next();
    c.res.headers.set("Content-Security-Policy", DOCS_CSP);
  });
  app.get(
    "/api/docs",
    Scalar({ url: "/api/openapi.json", pageTitle: "Parley API", cdn: DOCS_SCRIPT, withDefaultFonts: false }),
  );

  app.notFound((c) => c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}.`), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      for (const [name, value] of Object.entries(err.headers ?? {})) c.header(name, value);
      return c.json(errorBody(err.code, err.message, err.details), err.status);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code =
        status === 400 && /json/i.test(err.message)
          ? "invalid_json"
          : status === 415
            ? "unsupported_media_type"
            : status === 413
              ? "payload_too_large"
              : "bad_request";
      const message =
        code === "invalid_json"
          ? "The request body is not valid JSON."
          : code === "unsupported_media_type"
            ? "Send the body as application/json."
            : err.message || "Bad request.";
      return c.json(errorBody(code, message), status);
    }
    console.error(JSON.stringify({ level: "error", msg: "unhandled error", path: c.req.path, error: String(err) }));
    return c.json(errorBody("internal", "Something went wrong on our side; it has been logged."), 500);
  });

  return app;
}
