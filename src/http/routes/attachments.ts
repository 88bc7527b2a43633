/**
 * Attachments: upload a file before sending it (`POST /api/attachments`, the raw bytes with their
 * Content-Type and `?name=`, or multipart with a `file` field), then name it in a send's
 * `attachmentIds`. Members read a workspace's files at `/api/attachments/:id/content`; providers
 * fetch them through signed, expiring links (`/media/:id`, see src/messaging/outgoing.ts).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { Hono } from "hono";
import { getAttachment, getAttachmentById } from "../../db/queries/attachments";
import { ApiError, notFound } from "../../domain/errors";
import { iso } from "../../domain/time";
import { attachmentUrl, storeUpload } from "../../messaging/attachments";
import { verifyLink } from "../../security/sealed";
import { MAX_ATTACHMENT_BYTES } from "../../shared/limits";
import type { AppEnv } from "../context";
import { errorResponses, IdParam, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const AttachmentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    contentType: z.string(),
    size: z.number().int(),
    url: z.string().openapi({ description: "Where members (signed in) read it" }),
    messageId: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("Attachment");

const uploadRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["attachments"],
  summary: `Upload a file to send (≤ ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB; MMS takes ≤ 5 MB in all and ≤ 10 files): the raw bytes with their Content-Type and ?name=, or multipart/form-data with a "file" field`,
  security,
  request: { query: z.object({ name: z.string().max(200).optional() }) },
  responses: { 201: jsonContent(AttachmentSchema, "Kept"), ...errorResponses },
});

const getRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["attachments"],
  summary: "An attachment's details",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(AttachmentSchema, "The attachment"), ...errorResponses },
});

const contentRoute = createRoute({
  method: "get",
  path: "/{id}/content",
  tags: ["attachments"],
  summary: "An attachment's bytes (images inline, other files as downloads)",
  security,
  request: { params: IdParam },
  responses: { 200: { description: "The file" }, ...errorResponses },
});

/** Types a browser may show inline from our origin; anything else downloads (no HTML or SVG runs here). */
const INLINE = /^(image\/(jpeg|png|gif|webp)|audio\/|video\/|application\/pdf$|text\/plain$)/;

function fileResponse(object: R2ObjectBody, row: { name: string; contentType: string }, cache: string) {
  const inline = INLINE.test(row.contentType);
  return new Response(object.body, {
    headers: {
      "Content-Type": row.contentType,
      "Content-Length": String(object.size),
      "Content-Disposition": `${inline ? "inline" : "attachment"}; filename="${row.name.replace(/"/g, "")}"`,
      "Cache-Control": cache,
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
    },
  });
}

async function readUpload(c: { req: { header(name: string): string | undefined; raw: Request } }) {
  const type = c.req.header("Content-Type") ?? "";
  const declared = Number(c.req.header("Content-Length") ?? "0");
  if (declared > MAX_ATTACHMENT_BYTES + 64 * 1024) {
    throw new ApiError(413, "payload_too_large", `A file may be at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB.`);
  }
  if (type.toLowerCase().startsWith("multipart/form-data")) {
    const form = await c.req.raw.formData();
    const file = form.get("file");
    if (!file || typeof file === "string") {
      throw new ApiError(400, "bad_request", 'Send the file in a multipart field named "file".');
    }
    return { name: file.name, contentType: file.type || "application/octet-stream", bytes: await file.arrayBuffer() };
  }
  return { name: null, contentType: type || "application/octet-stream", bytes: await c.req.raw.arrayBuffer() };
}

export const attachmentRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(uploadRoute, async (c) => {
    const principal = c.get("principal");
    const file = await readUpload(c);
    const media = await storeUpload(c.env, c.get("db"), principal, {
      ...file,
      name: c.req.valid("query").name ?? file.name,
    });
    return c.json(
      {
        id: media.attachmentId ?? "",
        name: media.name ?? "",
        contentType: media.contentType ?? "application/octet-stream",
        size: media.size ?? 0,
        url: media.url,
        messageId: null,
        createdAt: new Date().toISOString(),
      },
      201,
    );
  })
  .openapi(getRoute, async (c) => {
    const row = await getAttachment(c.get("db"), c.get("principal").workspaceId, c.req.valid("param").id);
    if (!row) throw notFound("Attachment");
    return c.json(
      {
        id: row.id,
        name: row.name,
        contentType: row.contentType,
        size: row.size,
        url: attachmentUrl(row.id),
        messageId: row.messageId,
        createdAt: iso(row.createdAt) ?? "",
      },
      200,
    );
  })
  .openapi(contentRoute, async (c) => {
    const row = await getAttachment(c.get("db"), c.get("principal").workspaceId, c.req.valid("param").id);
    if (!row) throw notFound("Attachment");
    const object = await c.env.FILES.get(row.key);
    if (!object) throw notFound("Attachment");
    return fileResponse(object, row, "private, max-age=3600") as never;
  });

/** `/media/:id?expires&sig`: the signed link a provider fetches (no session). */
export const mediaRoutes = new Hono<AppEnv>().get("/:id", async (c) => {
  const id = c.req.param("id");
  if (!(await verifyLink(c.env, `/media/${id}`, c.req.query("expires"), c.req.query("sig")))) {
    throw new ApiError(403, "invalid_link", "This media link is invalid or has expired.");
  }
  const row = await getAttachmentById(c.get("db"), id);
  const object = row ? await c.env.FILES.get(row.key) : null;
  if (!row || !object) throw notFound("Media");
  return fileResponse(object, row, "private, max-age=300");
});
