/**
 * WebSocket frames (JSON text) between the rooms and the browsers; shared by the Worker and web/.
 * Server → client frames carry the room's `seq` where they are part of the ordered event log.
 */
import { z } from "zod";

export interface MessageJson {
  id: string;
  conversationId: string;
  seq: number;
  direction: "inbound" | "outbound";
  channel: "sms" | "mms" | "whatsapp";
  from: string;
  to: string;
  body: string;
  media: { url: string; contentType: string | null }[];
  status: string;
  errorCode: number | null;
  errorMessage: string | null;
  segments: number;
  encoding: "GSM-7" | "UCS-2";
  providerSid: string | null;
  sendAt: string | null;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
}

export type MessageFrame = { type: "message"; seq: number; message: MessageJson };
export type StatusFrame = {
  type: "status";
  seq: number;
  messageId: string;
  status: string;
  errorCode: number | null;
  at: string;
};
/** Frames kept in the room's event log and replayed on resume. */
export type LoggedFrame = MessageFrame | StatusFrame;

export type ServerFrame =
  | { type: "hello"; conversationId: string; lastSeq: number }
  | LoggedFrame
  | { type: "typing"; userId: string; name: string; active: boolean }
  | { type: "read"; userId: string; seq: number }
  | { type: "reset" }
  | { type: "error"; code: string; message: string };

export const ClientFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("resume"), afterSeq: z.number().int().min(0) }),
  z.object({ type: z.literal("typing"), active: z.boolean() }),
  z.object({ type: z.literal("read"), seq: z.number().int().min(0) }),
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
