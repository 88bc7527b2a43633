/**
 * The channel factory: every channel Parley speaks, by kind. Adding a channel is a folder beside
 * these and one line here.
 */
import type { ChannelKind } from "../shared/channels";
import { email } from "./email";
import { sms } from "./sms";
import type { Channel } from "./types";
import { whatsapp } from "./whatsapp";

const CHANNELS: Record<ChannelKind, Channel> = {
  sms,
  whatsapp,
  email,
};

export function channelFor(kind: ChannelKind): Channel {
  return CHANNELS[kind];
}
