/**
 * Attachments: files people send (uploaded to R2 before the send) and media customers send (copied
 * from the provider into R2 by a job, with the inbox account's credentials, because the provider's
 * links need those credentials and may be deleted there). Every object lives under the workspace's
 * prefix in FILES and has a row in `attachments`.
 */
import { z } from "zod";
import { openCredentials, type TwilioCredentials } from "../channels/credentials";
import type { Channel, InboxRecord } from "../channels/types";
import type { Db } from "../db/client";
import { createDb } from "../db/client";
import { getAttachments, insertAttachment, linkAttachments } from "../db/queries/attachments";
import { findInboxByAddress } from "../db/queries/inboxes";
import { getMessageById } from "../db/queries/messages";
import type { MediaItem } from "../db/schema";
import { unprocessable } from "../domain/errors";
import { newId } from "../domain/ids";
import type { Principal } from "../domain/principal";
import { log } from "../log";
import { roomFor } from "../rooms/conversation-room";
import { MAX_ATTACHMENT_BYTES } from "../shared/limits";

export const MediaJobSchema = z.object({ kind: z.literal("media"), messageId: z.string().min(1).max(64) });

/** The largest file a customer's message may bring in (Twilio caps inbound MMS at 5 MB; email may be more). */
const MAX_INBOUND_FILE_BYTES = 20 * 1024 * 1024;

export function attachmentUrl(id: string): string {
  return `/api/attachments/${id}/content`;
}

function objectKey(workspaceId: string, id: string): string {
  return `attachments/${workspaceId}/${id}`;
}

/** A safe file name to show and to offer as the download's name. */
export function cleanName(name: string | null | undefined, contentType: string): string {
  const base = [...(name ?? "")]
    .map((ch) => (ch.charCodeAt(0) < 32 || ch === "/" || ch === "\\" || ch === '"' ? "_" : ch))
    .join("")
    .trim()
    .slice(0, 120);
  if (base) return base;
  const ext = contentType.split("/")[1]?.replace(/[^a-z0-9]/gi, "") ?? "bin";
  return `file.${ext}`;
}

/** A received file's name when the provider gives none: "photo-1.jpg", "file-2.pdf". */
function inboundName(contentType: string, index: number): string {
  const ext =
    contentType
      .split("/")[1]
      ?.replace(/[^a-z0-9]/gi, "")
      .slice(0, 8) || "bin";
  return `${contentType.startsWith("image/") ? "photo" : "file"}-${index + 1}.${ext}`;
}

/** Keeps an uploaded (or received) file: the object in R2, then its row. */
export async function keepFile(
  env: Env,
  db: Db,
  file: {
    workspaceId: string;
    name: string;
    contentType: string;
    bytes: ArrayBuffer;
    createdBy: string | null;
    messageId?: string | null;
  },
): Promise<MediaItem> {
  const id = newId("att");
  const key = objectKey(file.workspaceId, id);
  await env.FILES.put(key, file.bytes, {
    httpMetadata: { contentType: file.contentType },
    customMetadata: { workspaceId: file.workspaceId, name: file.name },
  });
  await insertAttachment(db, {
    id,
    workspaceId: file.workspaceId,
    messageId: file.messageId ?? null,
    key,
    name: file.name,
    contentType: file.contentType,
    size: file.bytes.byteLength,
    createdBy: file.createdBy,
    createdAt: Date.now(),
  });
  return {
    url: attachmentUrl(id),
    contentType: file.contentType,
    attachmentId: id,
    name: file.name,
    size: file.bytes.byteLength,
  };
}

export async function storeUpload(
  env: Env,
  db: Db,
  principal: Principal,
  file: { name: string | null; contentType: string; bytes: ArrayBuffer },
): Promise<MediaItem> {
  if (file.bytes.byteLength === 0) throw unprocessable("empty_file", "The file is empty.");
  if (file.bytes.byteLength > MAX_ATTACHMENT_BYTES) {
    throw unprocessable(
      "attachment_too_large",
      `A file may be at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB (MMS: 5 MB for all files of a message).`,
      { size: file.bytes.byteLength, max: MAX_ATTACHMENT_BYTES },
    );
  }
  return keepFile(env, db, {
    workspaceId: principal.workspaceId,
    name: cleanName(file.name, file.contentType),
    contentType: file.contentType.split(";")[0]?.trim().toLowerCase() || "application/octet-stream",
    bytes: file.bytes,
    createdBy: principal.userId ?? principal.credentialId,
  });
}

/**
 * The files a send names, checked against what the channel takes (Twilio's MMS: ≤ 10 files, 5 MB in
 * all, known types), as the message's media.
 */
export async function mediaForSend(db: Db, workspaceId: string, ids: string[], channel: Channel): Promise<MediaItem[]> {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)];
  const rows = await getAttachments(db, workspaceId, unique);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const missing = unique.filter((id) => !byId.has(id));
  if (missing.length > 0) {
    throw unprocessable("attachment_not_found", `No such attachment: ${missing.join(", ")}. Upload it first.`, {
      attachmentIds: missing,
    });
  }
  const caps = channel.capabilities.media;
  if (!caps) throw unprocessable("media_not_supported", `${channel.label} messages cannot carry files.`);
  if (unique.length > caps.max) {
    throw unprocessable("too_many_attachments", `${channel.label} takes at most ${caps.max} file(s) per message.`, {
      max: caps.max,
    });
  }
  const total = rows.reduce((sum, r) => sum + r.size, 0);
  if (total > caps.maxTotalBytes) {
    throw unprocessable(
      "attachments_too_large",
      `${channel.label} takes at most ${(caps.maxTotalBytes / 1024 / 1024).toFixed(0)} MB of files per message; these are ${(total / 1024 / 1024).toFixed(1)} MB.`,
      { size: total, max: caps.maxTotalBytes },
    );
  }
  if (caps.types !== "any") {
    const types = caps.types;
    const refused = rows.filter((r) => !types.includes(r.contentType));
    if (refused.length > 0) {
      throw unprocessable(
        "attachment_type_not_supported",
        `${channel.label} cannot send ${refused.map((r) => `${r.name} (${r.contentType})`).join(", ")}. It takes: ${types.join(", ")}.`,
        { contentTypes: refused.map((r) => r.contentType) },
      );
    }
  }
  return unique.flatMap((id) => {
    const r = byId.get(id);
    return r
      ? [{ url: attachmentUrl(r.id), contentType: r.contentType, attachmentId: r.id, name: r.name, size: r.size }]
      : [];
  });
}

export async function linkSentAttachments(db: Db, workspaceId: string, media: MediaItem[], messageId: string) {
  const ids = media.flatMap((m) => (m.attachmentId ? [m.attachmentId] : []));
  await linkAttachments(db, workspaceId, ids, messageId);
}

export async function enqueueMediaCopy(env: Env, messageId: string): Promise<void> {
  await env.JOBS.send({ kind: "media", messageId } satisfies z.infer<typeof MediaJobSchema>);
}

/** Basic auth for the inbox's Twilio account (media links are behind it when the account enforces auth). */
async function providerAuth(env: Env, inbox: InboxRecord | null): Promise<string> {
  const own = inbox ? await openCredentials<TwilioCredentials>(env, inbox) : null;
  const sid = own?.accountSid ?? env.TWILIO_ACCOUNT_SID;
  const token = own?.authToken ?? env.TWILIO_AUTH_TOKEN;
  return `Basic ${btoa(`${sid}:${token}`)}`;
}

/**
 * The media copy job: fetches each of an inbound message's provider links (with the inbox's account),
 * keeps the bytes in R2, and puts Parley's links in the message (the room re-broadcasts it). Idempotent:
 * files already kept are skipped, so a redelivered job copies only what is missing.
 */
export async function copyInboundMedia(env: Env, messageId: string): Promise<"done" | "gone"> {
  const db = createDb(env.DB);
  const msg = await getMessageById(db, messageId);
  if (!msg) return "gone";
  if (msg.media.every((m) => m.attachmentId)) return "done";
  const inbox = await findInboxByAddress(db, msg.toNumber);
  const auth = await providerAuth(env, inbox);
  const kept: MediaItem[] = [];
  for (const [i, item] of msg.media.entries()) {
    if (item.attachmentId) {
      kept.push(item);
      continue;
    }
    const res = await fetch(item.url, { headers: { Authorization: auth }, redirect: "follow" });
    if (!res.ok) throw new Error(`media ${i} answered HTTP ${res.status}`);
    const bytes = await res.arrayBuffer();
    if (bytes.byteLength > MAX_INBOUND_FILE_BYTES) {
      log("warn", "inbound media too large to keep; the provider's link stays", { messageId, size: bytes.byteLength });
      kept.push(item);
      continue;
    }
    const contentType = (item.contentType ?? res.headers.get("Content-Type") ?? "application/octet-stream")
      .split(";")[0]
      ?.trim()
      .toLowerCase() as string;
    kept.push(
      await keepFile(env, db, {
        workspaceId: msg.workspaceId,
        name: cleanName(item.name ?? inboundName(contentType, i), contentType),
        contentType,
        bytes,
        createdBy: null,
        messageId: msg.id,
      }),
    );
  }
  await roomFor(env, msg.conversationId).replaceMedia(msg.id, kept);
  return "done";
}
