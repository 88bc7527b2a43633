/** The channels an inbox can be, shared by the Worker and the browser. */
export const CHANNEL_KINDS = ["sms", "whatsapp", "email"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export const CHANNEL_LABELS: Record<ChannelKind, string> = { sms: "SMS", whatsapp: "WhatsApp", email: "Email" };
