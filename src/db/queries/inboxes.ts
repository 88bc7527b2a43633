/** Inbox lookups the webhooks and the channels need (the table is `numbers`, see the schema). */
import { and, eq, isNotNull } from "drizzle-orm";
import type { InboxRecord } from "../../channels/types";
import type { Db } from "../client";
import { numbers } from "../schema";

function toRecord(row: typeof numbers.$inferSelect): InboxRecord {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    channel: row.channel,
    address: row.phoneNumber,
    accountSid: row.accountSid,
    credentials: row.credentials,
  };
}

/** An inbox of this Twilio account that holds its credentials (any will do: they share the Auth Token). */
export async function findInboxOfAccount(db: Db, accountSid: string): Promise<InboxRecord | null> {
  const row = await db.query.numbers.findFirst({
    where: and(eq(numbers.accountSid, accountSid), isNotNull(numbers.credentials)),
  });
  return row ? toRecord(row) : null;
}

/** The inbox at this address (deployment-wide: addresses route inbound messages). */
export async function findInboxByAddress(db: Db, address: string): Promise<InboxRecord | null> {
  const row = await db.query.numbers.findFirst({ where: eq(numbers.phoneNumber, address) });
  return row ? toRecord(row) : null;
}
