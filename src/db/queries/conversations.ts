/**
 * Conversations: one thread between a contact and one of the workspace's sender numbers.
 * `last_message_at` doubles as the list's sort key (set to the creation time until a message exists).
 */
import { and, desc, eq, isNull, lte, or, type Placeholder, type SQL, sql } from "drizzle-orm";
import type { ConversationStatus } from "../../shared/status";
import type { Db } from "../client";
import { compiled, compiledShapes, named, type Placeholders } from "../compiled";
import { contacts, conversationReads, conversations, messages, numbers, users } from "../schema";
import { credentialSql, type PresentedCredential } from "./auth";
import { containsPattern, findOrCreateContact, suppressedSql } from "./contacts";

export type ConversationListRow = Awaited<ReturnType<typeof listConversations>>[number];

/** Unread inbound messages after the reader's last read seq (for API keys: the furthest any member read). */
function unreadCount(userId: string | SQL | null): SQL<number> {
  const lastRead =
    userId === null
      ? sql`(select max(r.last_read_seq) from conversation_reads r where r.conversation_id = ${conversations.id})`
      : sql`(select r.last_read_seq from conversation_reads r where r.conversation_id = ${conversations.id} and r.user_id = ${userId})`;
  return sql<number>`(select count(*) from messages mi where mi.conversation_id = ${conversations.id} and mi.direction = 'inbound' and mi.seq > coalesce(${lastRead}, 0))`.mapWith(
    Number,
  );
}

function selectConversation(db: Db, userId: string | SQL | null) {
  return db
    .select({
      conversation: conversations,
      contact: contacts,
      lastMessage: messages,
      unread: unreadCount(userId),
      assigneeName: assigneeNameSql,
      labels: labelsJsonSql(conversations.id),
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .leftJoin(messages, eq(messages.id, conversations.lastMessageId));
}

/**
 * SQL: whether this member may see a conversation of inbox `fromNumber`. Members limited to some
 * inboxes (memberships.inbox_ids) see only those; everyone else, and API keys (`userId` null), all.
 * Read inside the caller's own statement: no round trip of its own.
 */
export function inboxScopeSql(
  workspaceId: string | SQL,
  userId: string | SQL | null,
  fromNumber: SQL = sql.raw("conversations.from_number"),
): SQL {
  if (userId === null) return sql`1`;
  const limits = sql`(select m.inbox_ids from memberships m where m.workspace_id = ${workspaceId} and m.user_id = ${userId})`;
  return sql`(${limits} is null or ${fromNumber} in (select n.phone_number from numbers n, json_each(${limits}) j where n.id = j.value))`;
}

export interface ListOptions {
  status?: ConversationStatus;
  /** "me" needs a member; "none" is unassigned; otherwise a user id. */
  assignee?: string;
  label?: string;
  q?: string;
  limit: number;
  before?: { key: number; id: string } | null;
}

/**
 * A page of the inbox for a presented credential, in one statement: the credential check is folded in
 * (credentialSql), so a credential that does not hold finds nothing. Compiled per shape of filters.
 */
export async function listConversations(
  d1: D1Database,
  credential: PresentedCredential,
  now: number,
  opts: ListOptions,
) {
  const digits = opts.q ? opts.q.replace(/\D/g, "") : "";
  const shape = [
    credential.kind,
    opts.status ? "status" : "",
    opts.assignee === "none" || opts.assignee === "me" ? opts.assignee : opts.assignee ? "user" : "",
    opts.label ? "label" : "",
    opts.q ? (digits.length >= 3 ? "q+phone" : "q") : "",
    opts.before ? "before" : "",
  ].join("/") as ListShape;
  return listQuery(shape).all(d1, {
    hash: credential.hash,
    now,
    scope: "messages:read",
    status: opts.status,
    assignee: opts.assignee,
    label: opts.label,
    pattern: opts.q ? containsPattern(opts.q) : undefined,
    digits: `%${digits}%`,
    beforeKey: opts.before?.key,
    beforeId: opts.before?.id,
    limit: opts.limit + 1,
  });
}

type ListShape = `${PresentedCredential["kind"]}/${string}`;

const listQuery = compiledShapes(
  (
    db,
    p: Placeholders<
      | "hash"
      | "now"
      | "scope"
      | "status"
      | "assignee"
      | "label"
      | "pattern"
      | "digits"
      | "beforeKey"
      | "beforeId"
      | "limit"
    >,
    shape: ListShape,
  ) => {
    const [kind, status, assignee, label, q, before] = shape.split("/") as [PresentedCredential["kind"], ...string[]];
    const who = credentialSql({ kind, hash: p.hash }, p.now, p.scope);
    const userId = kind === "session" ? who.userId : null;
    const conditions: (SQL | undefined)[] = [
      eq(conversations.workspaceId, who.workspaceId),
      inboxScopeSql(who.workspaceId, userId, sql`${conversations.fromNumber}`),
    ];
    if (status) conditions.push(sql`${conversations.status} = ${p.status}`);
    if (assignee === "none") conditions.push(isNull(conversations.assignedUserId));
    else if (assignee === "me") conditions.push(userId === null ? sql`0` : eq(conversations.assignedUserId, userId));
    else if (assignee) conditions.push(sql`${conversations.assignedUserId} = ${p.assignee}`);
    if (label) {
      conditions.push(
        sql`exists (select 1 from conversation_labels cl join labels l on l.id = cl.label_id
          where cl.conversation_id = ${conversations.id} and (l.id = ${p.label} or l.name = ${p.label}))`,
      );
    }
    if (q) {
      conditions.push(
        or(
          sql`${contacts.name} like ${p.pattern} escape '\\'`,
          sql`${contacts.email} like ${p.pattern} escape '\\'`,
          q === "q+phone" ? sql`${contacts.phone} like ${p.digits}` : undefined,
        ),
      );
    }
    if (before) {
      conditions.push(
        or(
          sql`${conversations.lastMessageAt} < ${p.beforeKey}`,
          and(sql`${conversations.lastMessageAt} = ${p.beforeKey}`, sql`${conversations.id} < ${p.beforeId}`),
        ),
      );
    }
    return selectConversation(db, userId)
      .where(and(...conditions))
      .orderBy(desc(conversations.lastMessageAt), desc(conversations.id))
      .limit(p.limit);
  },
);

export async function getConversationView(db: Db, workspaceId: string, userId: string | null, id: string) {
  const rows = await selectConversation(db, userId)
    .where(
      and(
        eq(conversations.id, id),
        eq(conversations.workspaceId, workspaceId),
        inboxScopeSql(workspaceId, userId, sql`${conversations.fromNumber}`),
      ),
    )
    .limit(1);
  return rows[0];
}

/**
 * A conversation's list entry for several readers at once (the inbox stream's connected users), in one
 * query: the shared view plus each reader's unread count (`""` stands for API keys, which count from
 * the furthest any member read).
 */
export async function getConversationViewForReaders(
  db: Db,
  workspaceId: string,
  readers: (string | null)[],
  id: string,
) {
  const unreadByReader = sql<string>`(select json_group_object(coalesce(u.value, ''),
      (select count(*) from messages mi
        where mi.conversation_id = ${conversations.id} and mi.direction = 'inbound' and mi.seq > coalesce(
          case when u.value is null
            then (select max(r.last_read_seq) from conversation_reads r where r.conversation_id = ${conversations.id})
            else (select r.last_read_seq from conversation_reads r where r.conversation_id = ${conversations.id} and r.user_id = u.value)
          end, 0)))
    from json_each(${JSON.stringify(readers)}) u)`;
  // Readers limited to inboxes this conversation is not in: they are not told of it.
  const hiddenFrom = sql<string>`(select json_group_array(u.value) from json_each(${JSON.stringify(readers)}) u
      join memberships m on m.user_id = u.value and m.workspace_id = ${workspaceId}
      where m.inbox_ids is not null and conversations.from_number not in
        (select n.phone_number from numbers n, json_each(m.inbox_ids) j where n.id = j.value))`;
  const [row] = await db
    .select({
      conversation: conversations,
      contact: contacts,
      lastMessage: messages,
      unreadByReader,
      hiddenFrom,
      assigneeName: assigneeNameSql,
      labels: labelsJsonSql(conversations.id),
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .leftJoin(messages, eq(messages.id, conversations.lastMessageId))
    .where(and(eq(conversations.id, id), eq(conversations.workspaceId, workspaceId)))
    .limit(1);
  if (!row) return undefined;
  const counts = JSON.parse(row.unreadByReader ?? "{}") as Record<string, number>;
  const hidden = new Set(JSON.parse(row.hiddenFrom ?? "[]") as string[]);
  return {
    hiddenFrom: (reader: string | null) => reader !== null && hidden.has(reader),
    view: {
      conversation: row.conversation,
      contact: row.contact,
      lastMessage: row.lastMessage,
      assigneeName: row.assigneeName,
      labels: row.labels,
    },
    unreadFor: (reader: string | null) => counts[reader ?? ""] ?? 0,
  };
}

/** A conversation of the workspace, if `userId` (a member limited to some inboxes) may see it. */
export async function getConversation(db: Db, workspaceId: string, id: string, userId: string | null = null) {
  return db
    .select()
    .from(conversations)
    .where(
      and(
        eq(conversations.id, id),
        eq(conversations.workspaceId, workspaceId),
        inboxScopeSql(workspaceId, userId, sql`${conversations.fromNumber}`),
      ),
    )
    .get();
}

/** The workspace's inbox at `address`, or (none given) its first inbox of `channel` (SMS by default). */
export async function findWorkspaceNumber(
  db: Db,
  workspaceId: string,
  address?: string,
  channel: "sms" | "whatsapp" | "email" = "sms",
) {
  return db.query.numbers.findFirst({
    where: address
      ? and(eq(numbers.workspaceId, workspaceId), eq(numbers.phoneNumber, address))
      : and(eq(numbers.workspaceId, workspaceId), eq(numbers.channel, channel)),
    orderBy: [numbers.createdAt, numbers.id],
  });
}

/** Finds the thread for (contact, sender) or creates it; returns whether it was created. */
export async function findOrCreateConversation(
  db: Db,
  workspaceId: string,
  contactId: string,
  fromNumber: string,
  newIdValue: string,
  on: ThreadChannel = {},
) {
  const now = Date.now();
  const inserted = await db
    .insert(conversations)
    .values({
      id: newIdValue,
      workspaceId,
      contactId,
      fromNumber,
      channel: on.channel ?? "sms",
      customerAddress: on.customerAddress ?? null,
      lastMessageAt: now,
      openedAt: now,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning({ id: conversations.id });
  const row = await db.query.conversations.findFirst({
    where: and(
      eq(conversations.workspaceId, workspaceId),
      eq(conversations.contactId, contactId),
      eq(conversations.fromNumber, fromNumber),
    ),
  });
  if (!row) throw new Error("conversation vanished after upsert");
  return { conversation: row, created: inserted.length > 0 };
}

/**
 * The contact with `phone` and its thread from `fromNumber`, in one joined lookup; either may be
 * missing (null conversation when the contact exists but has no thread from that number yet).
 */
export async function findThread(db: Db, workspaceId: string, phone: string, fromNumber: string) {
  return db
    .select({ contact: contacts, conversation: conversations })
    .from(contacts)
    .leftJoin(
      conversations,
      and(
        eq(conversations.contactId, contacts.id),
        eq(conversations.fromNumber, fromNumber),
        eq(conversations.workspaceId, workspaceId),
      ),
    )
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.phone, phone)))
    .get();
}

/** Join conditions from an inbox (`numbers`): the workspace's contact with `phone`, and its thread with that inbox. */
function contactOfInbox(phone: Placeholder) {
  return and(eq(contacts.workspaceId, numbers.workspaceId), sql`${contacts.phone} = ${phone}`);
}
const threadOfInbox = and(
  eq(conversations.workspaceId, numbers.workspaceId),
  eq(conversations.contactId, contacts.id),
  eq(conversations.fromNumber, numbers.phoneNumber),
);

/**
 * Where an inbound text goes, in one statement: the workspace that owns `to` (no row when none does),
 * whether this sid was stored already (a replay), and the existing contact and thread if there are.
 */
export async function routeInbound(d1: D1Database, to: string, phone: string, sid: string) {
  return routeInboundQuery.get(d1, { to, phone, sid });
}

/** routeInbound's statement, for a batch (read its row with routeFromBatch). */
export function routeInboundStatement(d1: D1Database, to: string, phone: string, sid: string) {
  return routeInboundQuery.statement(d1, { to, phone, sid });
}

export function routeFromBatch(result: D1Result | undefined) {
  return routeInboundQuery.fromBatch(result)[0];
}

const routeInboundQuery = compiled(routeInboundSelect);

function routeInboundSelect(db: Db, p: Placeholders<"to" | "phone" | "sid">) {
  // Named columns: the inbound webhook reads this row from a batch.
  return db
    .select(
      named({
        workspaceId: numbers.workspaceId,
        inboxId: numbers.id,
        inboxChannel: numbers.channel,
        /** The inbox's own Twilio account (null: the deployment's): the webhook must be signed by it. */
        inboxAccountSid: numbers.accountSid,
        replay: sql<boolean>`exists (select 1 from messages m where m.provider_sid = ${p.sid})`.mapWith(Boolean),
        contactId: contacts.id,
        optedOut: contacts.optedOut,
        conversationId: conversations.id,
        conversationStatus: conversations.status,
        assigneeId: conversations.assignedUserId,
        awaySentAt: conversations.awaySentAt,
        /** The workspace's away reply settings (JSON hours, message, zone), read in the same statement. */
        away: sql<
          string | null
        >`(select json_object('hours', json(w.business_hours), 'message', w.away_message, 'zone', w.timezone)
        from workspaces w where w.id = ${numbers.workspaceId} and w.business_hours is not null and w.away_message is not null)`,
        contactName: contacts.name,
        autoAssign: sql<boolean>`(select w.auto_assign from workspaces w where w.id = ${numbers.workspaceId})`.mapWith(
          Boolean,
        ),
        /** Whether the workspace has an enabled integration endpoint (none: no event goes on the queue). */
        integrations:
          sql<boolean>`exists (select 1 from webhook_endpoints e where e.workspace_id = ${numbers.workspaceId} and e.enabled = 1)`.mapWith(
            Boolean,
          ),
        /** Whether the thread's room may have a socket open (see conversations.room_listeners). */
        roomListening: sql<boolean>`coalesce(${conversations.roomListeners}, 1)`.mapWith(Boolean),
        /** Whether the workspace's inbox stream may have a socket open (see InboxStream's presence). */
        listening:
          sql<boolean>`(select w.inbox_listeners from workspaces w where w.id = ${numbers.workspaceId})`.mapWith(
            Boolean,
          ),
      }),
    )
    .from(numbers)
    .leftJoin(contacts, contactOfInbox(p.phone))
    .leftJoin(conversations, threadOfInbox)
    .where(eq(numbers.phoneNumber, p.to));
}

/**
 * A conversation and its contact, in one lookup, with what a send needs to know: whether the
 * contact's number is suppressed (opted out), whether the thread's sender is still one of the
 * workspace's numbers, and (given an Idempotency-Key) which message that key already stored.
 */
export async function getConversationWithContact(
  db: Db,
  workspaceId: string,
  id: string,
  idempotencyKey?: string,
  userId: string | null = null,
) {
  return db
    .select({
      contact: contacts,
      conversation: conversations,
      /** The message an earlier request with this Idempotency-Key stored, if any (answered instead). */
      replayId: idempotencyKey
        ? sql<
            string | null
          >`(select m.id from messages m where m.workspace_id = ${workspaceId} and m.idempotency_key = ${idempotencyKey})`
        : sql<null>`null`,
      suppressed: suppressedSql(workspaceId, contacts.phone),
      senderActive:
        sql<boolean>`exists (select 1 from numbers n where n.workspace_id = ${workspaceId} and n.phone_number = ${conversations.fromNumber})`.mapWith(
          Boolean,
        ),
      /** The workspace's sending policy, read in the same statement. */
      quietHours: sql<string | null>`(select w.quiet_hours from workspaces w where w.id = ${workspaceId})`,
      workspaceZone: sql<string>`(select w.timezone from workspaces w where w.id = ${workspaceId})`,
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(
      and(
        eq(conversations.id, id),
        eq(conversations.workspaceId, workspaceId),
        inboxScopeSql(workspaceId, userId, sql`${conversations.fromNumber}`),
      ),
    )
    .get();
}

/**
 * What a send to a phone number needs, in one statement: the sending inbox (`from`, else the
 * workspace's first of `channel`, as findWorkspaceNumber picks it), the contact with that phone and its
 * thread with that inbox if they exist, whether the number is suppressed, the message an earlier
 * request with this Idempotency-Key stored, and the workspace's sending policy. No row: no such inbox.
 */
export async function findDirectThread(
  d1: D1Database,
  input: { workspaceId: string; from?: string; channel: string; phone: string; idempotencyKey?: string },
) {
  return directThreadQuery(input.from ? "from" : "channel").get(d1, {
    workspaceId: input.workspaceId,
    from: input.from,
    channel: input.channel,
    phone: input.phone,
    idempotencyKey: input.idempotencyKey ?? null,
  });
}

const directThreadQuery = compiledShapes(
  (db, p: Placeholders<"workspaceId" | "from" | "channel" | "phone" | "idempotencyKey">, shape: "from" | "channel") =>
    db
      .select({
        sender: numbers,
        contact: contacts,
        conversation: conversations,
        replayId: sql<
          string | null
        >`(select m.id from messages m where m.workspace_id = ${p.workspaceId} and m.idempotency_key = ${p.idempotencyKey})`,
        suppressed: suppressedSql(sql`${p.workspaceId}`, sql`${p.phone}`),
        quietHours: sql<string | null>`(select w.quiet_hours from workspaces w where w.id = ${p.workspaceId})`,
        workspaceZone: sql<string>`(select w.timezone from workspaces w where w.id = ${p.workspaceId})`,
      })
      .from(numbers)
      .leftJoin(contacts, contactOfInbox(p.phone))
      .leftJoin(conversations, threadOfInbox)
      .where(
        sql`${numbers.id} = (select n.id from numbers n where n.workspace_id = ${p.workspaceId} and ${
          shape === "from" ? sql`n.phone_number = ${p.from}` : sql`n.channel = ${p.channel}`
        } order by n.created_at, n.id limit 1)`,
      ),
);

/** The channel of a thread being created, and the customer's address on it when it is not their phone. */
export interface ThreadChannel {
  channel?: "sms" | "whatsapp" | "email";
  customerAddress?: string | null;
}

export async function ensureThread(
  db: Db,
  workspaceId: string,
  phone: string,
  fromNumber: string,
  ids: () => { contact: string; conversation: string },
  on: ThreadChannel = {},
) {
  const found = await findThread(db, workspaceId, phone, fromNumber);
  if (found?.conversation) return { contact: found.contact, conversation: found.conversation };
  const fresh = ids();
  const contact = found?.contact ?? (await findOrCreateContact(db, workspaceId, phone, fresh.contact));
  const { conversation } = await findOrCreateConversation(
    db,
    workspaceId,
    contact.id,
    fromNumber,
    fresh.conversation,
    on,
  );
  return { contact, conversation };
}

/** Like ensureThread, for a customer known by email: the contact with that address (made with no phone), and its thread. */
export async function ensureEmailThread(
  db: Db,
  workspaceId: string,
  email: string,
  inboxAddress: string,
  name: string | null,
  ids: () => { contact: string; conversation: string },
) {
  const fresh = ids();
  let contact = await db.query.contacts.findFirst({
    where: and(eq(contacts.workspaceId, workspaceId), eq(contacts.email, email)),
    orderBy: contacts.createdAt,
  });
  if (!contact) {
    const now = Date.now();
    [contact] = await db
      .insert(contacts)
      .values({ id: fresh.contact, workspaceId, phone: "", email, name, createdAt: now, updatedAt: now })
      .returning();
  }
  if (!contact) throw new Error("contact vanished after insert");
  const { conversation } = await findOrCreateConversation(
    db,
    workspaceId,
    contact.id,
    inboxAddress,
    fresh.conversation,
    {
      channel: "email",
      customerAddress: email,
    },
  );
  return { contact, conversation };
}

/** SQL: a conversation's labels as a JSON array of `{id, name, color}`, by name. */
export function labelsJsonSql(conversationId: typeof conversations.id | string) {
  // The column is written out qualified: drizzle drops the table name of columns in a one-table
  // select's fields, and a bare "id" here would mean labels.id.
  const id = typeof conversationId === "string" ? sql`${conversationId}` : sql.raw("conversations.id");
  // Unordered (the presenter sorts by name): one index range per conversation, no temporary b-tree.
  return sql<string>`(select json_group_array(json_object('id', l.id, 'name', l.name, 'color', l.color))
      from conversation_labels cl join labels l on l.id = cl.label_id
      where cl.conversation_id = ${id})`;
}

/** SQL: the name of the conversation's assignee (qualified, as above). */
export const assigneeNameSql = sql<
  string | null
>`(select u.name from users u where u.id = conversations.assigned_user_id)`;

/** A change to a conversation's workflow state (undefined fields stay as they are). */
export interface ConversationChange {
  status?: "open" | "pending" | "snoozed" | "resolved";
  snoozedUntil?: number | null;
  assigneeId?: string | null;
  labelIds?: string[];
  /** Apply only to a conversation still snoozed until at most this time (the wake-up job's guard). */
  dueBy?: number;
}

/**
 * The statements that apply `change`, ending with the UPDATE of the conversation (RETURNING its id):
 * a room appends its seq statement after it, so the change takes a seq only if it applied. Labels are
 * replaced as a set, and only labels of the conversation's own workspace are taken.
 */
export function conversationChangeStatements(
  d1: D1Database,
  workspaceId: string,
  conversationId: string,
  change: ConversationChange,
): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  if (change.labelIds) {
    statements.push(
      d1
        .prepare(
          `DELETE FROM conversation_labels WHERE conversation_id = ?1
             AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = ?1 AND c.workspace_id = ?2)`,
        )
        .bind(conversationId, workspaceId),
      d1
        .prepare(
          `INSERT OR IGNORE INTO conversation_labels (conversation_id, label_id, workspace_id)
           SELECT ?1, l.id, l.workspace_id FROM labels l
           WHERE l.workspace_id = ?2 AND l.id IN (SELECT value FROM json_each(?3))
             AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = ?1 AND c.workspace_id = ?2)`,
        )
        .bind(conversationId, workspaceId, JSON.stringify(change.labelIds)),
    );
  }
  const sets: string[] = [];
  const params: unknown[] = [];
  const nowMs = "cast(unixepoch('subsec') * 1000 as integer)";
  if (change.status === "resolved" && change.dueBy === undefined) {
    // The episode that ends: the source row of resolution times (analytics), written only when the
    // conversation was not resolved already.
    statements.push(
      d1
        .prepare(
          `INSERT INTO conversation_resolutions (workspace_id, conversation_id, inbox, agent_id, opened_at, resolved_at)
           SELECT workspace_id, id, from_number, assigned_user_id, coalesce(opened_at, created_at), ${nowMs}
           FROM conversations WHERE id = ?1 AND workspace_id = ?2 AND status <> 'resolved'`,
        )
        .bind(conversationId, workspaceId),
    );
  }
  if (change.status !== undefined) {
    params.push(change.status);
    sets.push(`status = ?${params.length + 2}`);
    // Only a snoozed conversation has a wake time.
    if (change.status !== "snoozed") sets.push("snoozed_until = NULL");
    // Reopened: a new episode begins (SET reads the row as it was).
    if (change.status !== "resolved")
      sets.push(`opened_at = CASE WHEN status = 'resolved' THEN ${nowMs} ELSE opened_at END`);
  }
  if (change.snoozedUntil !== undefined && change.status === "snoozed") {
    params.push(change.snoozedUntil);
    sets.push(`snoozed_until = ?${params.length + 2}`);
  }
  if (change.assigneeId !== undefined) {
    params.push(change.assigneeId);
    sets.push(`assigned_user_id = ?${params.length + 2}`);
  }
  // With nothing to set (labels only), the UPDATE still touches the row so the change takes a seq.
  if (sets.length === 0) sets.push("status = status");
  let guard = "";
  if (change.dueBy !== undefined) {
    params.push(change.dueBy);
    guard = ` AND status = 'snoozed' AND snoozed_until <= ?${params.length + 2}`;
  }
  statements.push(
    d1
      .prepare(`UPDATE conversations SET ${sets.join(", ")} WHERE id = ?1 AND workspace_id = ?2${guard} RETURNING id`)
      .bind(conversationId, workspaceId, ...params),
  );
  return statements;
}

/** The conversation's workflow state, as the room's `conversation` frame carries it. */
export function conversationStateStatement(
  d1: D1Database,
  conversationId: string,
  opts: { ifChanged?: boolean } = {},
): D1PreparedStatement {
  return d1
    .prepare(
      `SELECT c.id, c.status, c.snoozed_until AS snoozedUntil, c.assigned_user_id AS assigneeId,
         (SELECT u.name FROM users u WHERE u.id = c.assigned_user_id) AS assigneeName,
         (SELECT json_group_array(json_object('id', l.id, 'name', l.name, 'color', l.color))
            FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
            WHERE cl.conversation_id = c.id) AS labels
       FROM conversations c WHERE c.id = ?1${opts.ifChanged ? " AND changes() > 0" : ""}`,
    )
    .bind(conversationId);
}

export interface ConversationStateRow {
  id: string;
  status: "open" | "pending" | "snoozed" | "resolved";
  snoozedUntil: number | null;
  assigneeId: string | null;
  assigneeName: string | null;
  labels: string;
}

/** Snoozed conversations whose time has come (for the wake-up job). */
export async function dueSnoozes(db: Db, now: number, limit: number) {
  return db
    .select({ id: conversations.id, workspaceId: conversations.workspaceId })
    .from(conversations)
    .where(and(eq(conversations.status, "snoozed"), lte(conversations.snoozedUntil, now)))
    .limit(limit);
}

/** Sets or clears a conversation's room presence flag (see src/rooms/presence.ts). */
export function setRoomListeners(d1: D1Database, conversationId: string, on: boolean) {
  return d1
    .prepare("UPDATE conversations SET room_listeners = ?1 WHERE id = ?2")
    .bind(on ? 1 : 0, conversationId)
    .run();
}

/**
 * Appended right after a batch's last UPDATE: when that UPDATE changed a row, takes the
 * conversation's next seq — the room's `proposed` one, or D1's next if D1 is ahead (a room that
 * restarted after a crash between D1's commit and its own) — and RETURNs it as `seq`, with whether
 * the room may have a socket open (`room`: see conversations.room_listeners).
 */
export function mirrorSeqStatement(d1: D1Database, conversationId: string, proposed: number): D1PreparedStatement {
  return d1
    .prepare(
      `UPDATE conversations SET last_seq = max(last_seq + 1, ?1,
         coalesce((SELECT max(seq) FROM messages WHERE conversation_id = ?2), 0) + 1)
       WHERE id = ?2 AND changes() > 0
       RETURNING last_seq AS seq, room_listeners AS room`,
    )
    .bind(proposed, conversationId);
}

/**
 * Reopening a snoozed or resolved conversation in an inbound message's batch, in three statements:
 * reopen it (RETURNING its id), take the next seq if it did (mirrorSeqStatement), and read the state back
 * (a ConversationStateRow) if it did. Nothing happens to an open or pending conversation.
 */
export function reopenStatements(d1: D1Database, conversationId: string, proposedSeq: number): D1PreparedStatement[] {
  return [
    d1
      .prepare(
        `UPDATE conversations SET status = 'open', snoozed_until = NULL,
           opened_at = CASE WHEN status = 'resolved' THEN cast(unixepoch('subsec') * 1000 as integer) ELSE opened_at END
         WHERE id = ?1 AND status IN ('snoozed', 'resolved') RETURNING id`,
      )
      .bind(conversationId),
    mirrorSeqStatement(d1, conversationId, proposedSeq),
    conversationStateStatement(d1, conversationId, { ifChanged: true }),
  ];
}

/** Each member's read marker in a conversation, with their name (for "Seen by"). */
export async function readMarkers(db: Db, workspaceId: string, conversationId: string) {
  return db
    .select({ userId: conversationReads.userId, name: users.name, seq: conversationReads.lastReadSeq })
    .from(conversationReads)
    .innerJoin(users, eq(users.id, conversationReads.userId))
    .where(and(eq(conversationReads.workspaceId, workspaceId), eq(conversationReads.conversationId, conversationId)));
}

/** A workspace's sending policy settings. */
export async function workspacePolicy(db: Db, workspaceId: string) {
  return db.query.workspaces.findFirst({
    where: (w, { eq }) => eq(w.id, workspaceId),
    columns: { quietHours: true, timezone: true },
  });
}

/**
 * Takes the conversation's away-reply slot (at most one per `everyMs`): true when this caller may send
 * it. The condition is in the UPDATE, so two texts at once send one reply.
 */
export async function claimAwayReply(d1: D1Database, conversationId: string, now: number, everyMs: number) {
  const row = await d1
    .prepare(
      `UPDATE conversations SET away_sent_at = ?2
       WHERE id = ?1 AND (away_sent_at IS NULL OR away_sent_at <= ?3) RETURNING id`,
    )
    .bind(conversationId, now, now - everyMs)
    .first<{ id: string }>();
  return row !== null;
}
