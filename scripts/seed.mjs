// Seeds the local D1 with an idempotent demo workspace: a team, labels, and conversations in every state.
// Fixed ids plus INSERT OR IGNORE make a re-run a no-op. Hashing matches src/security/crypto.ts.
import { execFileSync } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRANGLER_BIN, wranglerEnv } from "./wrangler-env.mjs";

export const DEMO = {
  email: "demo@parley.local",
  password: "parley-demo-2026",
  workspace: "Parley Demo",
  number: "+15005550006",
  customer: "+14155552671",
  /** The demo's email inbox: write to it from the emulator's mailbox. */
  emailInbox: "support@parley.local",
  /** An approved WhatsApp template of the demo (the emulator knows its text). */
  whatsappTemplate: "HXde000000000000000000000000000001",
};

const sqlText = (value) => `'${String(value).replaceAll("'", "''")}'`;

/** The demo team: everyone signs in with the demo password. */
export const DEMO_TEAM = [
  { id: "usr_demo", member: "mem_demo", email: DEMO.email, name: "Demo Owner", role: "owner" },
  { id: "usr_sam", member: "mem_sam", email: "sam@parley.local", name: "Sam Rivera", role: "agent" },
  { id: "usr_ana", member: "mem_ana", email: "ana@parley.local", name: "Ana Lee", role: "agent" },
  { id: "usr_morgan", member: "mem_morgan", email: "morgan@parley.local", name: "Morgan Admin", role: "admin" },
];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The demo workspace as a team lives in it: agents, labels, and conversations with real history in
 * every state (open, pending, snoozed, resolved), assignees, a note with a mention, a scheduled
 * message and a failed one with its reason. Fixed ids and INSERT OR IGNORE: a re-run changes nothing.
 */
export function seedSql(now = Date.now()) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(DEMO.password, salt, 100_000, 32, "sha256");
  const passwordHash = `pbkdf2-sha256$100000$${salt.toString("base64")}$${hash.toString("base64")}`;
  const q = sqlText;
  const lines = [
    `INSERT OR IGNORE INTO workspaces (id, name, help_text) VALUES ('ws_demo', ${q(DEMO.workspace)}, ${q("Parley Demo: reply STOP to opt out. Msg&data rates may apply.")});`,
    `INSERT OR IGNORE INTO numbers (id, workspace_id, phone_number, label) VALUES ('num_demo', 'ws_demo', ${q(DEMO.number)}, 'Demo line');`,
    // The same number on WhatsApp, and an email inbox (the emulator's phone and mailbox reach both).
    `INSERT OR IGNORE INTO numbers (id, workspace_id, phone_number, label, channel) VALUES ('num_demo_wa', 'ws_demo', ${q(`whatsapp:${DEMO.number}`)}, 'Demo WhatsApp', 'whatsapp');`,
    `INSERT OR IGNORE INTO numbers (id, workspace_id, phone_number, label, channel) VALUES ('num_demo_email', 'ws_demo', ${q(DEMO.emailInbox)}, 'Support email', 'email');`,
    `INSERT OR IGNORE INTO templates (id, workspace_id, name, body, content_sid) VALUES ('tpl_demo_wa', 'ws_demo', 'Order ready (WhatsApp)', ${q("Hi {{1}}, your order is ready for pickup.")}, ${q(DEMO.whatsappTemplate)});`,
  ];
  for (const u of DEMO_TEAM) {
    lines.push(
      `INSERT OR IGNORE INTO users (id, email, name, password_hash) VALUES (${q(u.id)}, ${q(u.email)}, ${q(u.name)}, ${q(passwordHash)});`,
      `INSERT OR IGNORE INTO memberships (id, workspace_id, user_id, role, created_at) VALUES (${q(u.member)}, 'ws_demo', ${q(u.id)}, ${q(u.role)}, ${now - 30 * DAY});`,
    );
  }
  const labels = [
    ["lbl_vip", "VIP", "#b45309"],
    ["lbl_billing", "Billing", "#1d4ed8"],
    ["lbl_urgent", "Urgent", "#b91c1c"],
  ];
  for (const [id, name, color] of labels) {
    lines.push(
      `INSERT OR IGNORE INTO labels (id, workspace_id, name, color) VALUES (${q(id)}, 'ws_demo', ${q(name)}, ${q(color)});`,
    );
  }

  const templates = [
    [
      "tpl_demo_thanks",
      "Thanks",
      "thanks",
      "Thanks {{contact.firstName|there}}! Anything else we can help with? – {{agent.name}}, {{workspace.name}}",
    ],
    [
      "tpl_demo_shipped",
      "Order shipped",
      "shipped",
      "Hi {{contact.firstName|there}}, order {{contact.fields.order}} is on its way. Tracking: {{tracking}}",
    ],
    [
      "tpl_demo_hours",
      "Opening hours",
      "hours",
      "We're open Mon–Fri 9am–6pm and Sat 10am–4pm. Reply here any time and we'll get back to you.",
    ],
  ];
  for (const [id, name, shortcut, body] of templates) {
    lines.push(
      `INSERT OR IGNORE INTO templates (id, workspace_id, name, body, shortcut) VALUES (${q(id)}, 'ws_demo', ${q(name)}, ${q(body)}, ${q(shortcut)});`,
    );
  }

  // [conversation, contact name, phone, status, assignee, labels, snoozedUntil, events]
  // events: [minutesAgo, kind, body, extra]; kind: in | out | note | failed | scheduled
  const threads = [
    [
      "cv_demo",
      "ct_demo",
      "Casey Customer",
      DEMO.customer,
      "open",
      "usr_sam",
      ["lbl_vip"],
      null,
      [
        [180, "in", "Hi! I ordered the walnut desk last week. Any idea when it ships?"],
        [172, "out", "Hi Casey, Sam here. Checking with the warehouse now.", "usr_sam"],
        [150, "out", "Good news: it ships tomorrow. You'll get tracking by text.", "usr_sam"],
        [20, "in", "Great, thanks! Can I change the delivery address?"],
        [
          15,
          "note",
          "@Ana Lee can you update the address in the order system? Casey is a VIP.",
          "usr_sam",
          ["usr_ana"],
        ],
      ],
    ],
    [
      "cv_jordan",
      "ct_jordan",
      "Jordan Park",
      "+14155550143",
      "pending",
      "usr_ana",
      ["lbl_billing"],
      null,
      [
        [26 * 60, "in", "I was charged twice for my subscription this month."],
        [25 * 60, "out", "Sorry about that, Jordan! I've asked billing to refund the duplicate charge.", "usr_ana"],
        [24 * 60, "failed", "Your refund of $29.00 is on its way (3-5 business days).", "usr_ana"],
        [
          23 * 60,
          "note",
          "Refund issued in Stripe. The confirmation text failed (landline?); waiting on Jordan to confirm.",
          "usr_ana",
          [],
        ],
      ],
    ],
    [
      "cv_priya",
      "ct_priya",
      "Priya Shah",
      "+14155550144",
      "snoozed",
      null,
      [],
      now + DAY,
      [
        [3 * 60, "in", "Can you remind me about the spring sale when it starts?"],
        [170, "out", "Absolutely! We'll text you the morning it opens.", "usr_demo"],
        [
          -2 * 24 * 60,
          "scheduled",
          "Good morning Priya! The spring sale starts today: 20% off everything with code SPRING.",
          "usr_demo",
        ],
      ],
    ],
    [
      "cv_miguel",
      "ct_miguel",
      "Miguel Torres",
      "+14155550145",
      "resolved",
      "usr_sam",
      [],
      null,
      [
        [5 * 24 * 60, "in", "Is the store open on Sunday?"],
        [5 * 24 * 60 - 4, "out", "Yes, Sundays 10am-4pm. See you then!", "usr_sam"],
        [5 * 24 * 60 - 10, "in", "Perfect, thank you"],
      ],
    ],
    [
      "cv_lena",
      "ct_lena",
      "Lena Fischer",
      "+14155550146",
      "open",
      null,
      ["lbl_urgent"],
      null,
      [
        [6, "in", "The package arrived damaged. The box was crushed and the lamp is broken."],
        [5, "in", "Can someone help me today?"],
      ],
    ],
  ];
  let sid = 0;
  for (const [cv, ct, name, phone, status, assignee, labelIds, snoozedUntil, events] of threads) {
    lines.push(
      `INSERT OR IGNORE INTO contacts (id, workspace_id, name, phone, fields) VALUES (${q(ct)}, 'ws_demo', ${q(name)}, ${q(phone)}, ${q(JSON.stringify(ct === "ct_demo" ? { order: "W-1042", plan: "Pro" } : {}))});`,
    );
    let seq = 0;
    let lastMessage = null;
    let lastAt = now - 30 * DAY;
    const rows = [];
    for (const [ago, kind, body, by, mentions] of events) {
      seq++;
      const at = now - ago * MINUTE;
      if (kind === "note") {
        rows.push(
          `INSERT OR IGNORE INTO notes (id, workspace_id, conversation_id, user_id, body, mentions, seq, created_at) VALUES (${q(`note_${cv}_${seq}`)}, 'ws_demo', ${q(cv)}, ${q(by)}, ${q(body)}, ${q(JSON.stringify(mentions))}, ${seq}, ${at});`,
        );
        continue;
      }
      const id = `msg_${cv.slice(3)}_${seq}`;
      const inbound = kind === "in";
      const scheduled = kind === "scheduled";
      const created = scheduled ? now - 170 * MINUTE : at;
      const statusOf = inbound ? "received" : kind === "failed" ? "failed" : scheduled ? "scheduled" : "delivered";
      const providerSid = scheduled ? null : `SMdemo${String(++sid).padStart(26, "0")}`;
      const byName = by ? DEMO_TEAM.find((u) => u.id === by)?.name : null;
      rows.push(
        `INSERT OR IGNORE INTO messages (id, workspace_id, conversation_id, seq, direction, channel, from_number, to_number, body, status, error_code, error_message, segments, encoding, provider_sid, send_at, created_by, sent_by_type, sent_by_name, created_at, updated_at, sent_at, delivered_at, failed_at) VALUES (` +
          [
            q(id),
            "'ws_demo'",
            q(cv),
            seq,
            q(inbound ? "inbound" : "outbound"),
            "'sms'",
            q(inbound ? phone : DEMO.number),
            q(inbound ? DEMO.number : phone),
            q(body),
            q(statusOf),
            kind === "failed" ? 30006 : "NULL",
            kind === "failed" ? q("Landline or unreachable carrier: the number cannot receive texts.") : "NULL",
            Math.max(1, Math.ceil(body.length / 153)),
            "'GSM-7'",
            providerSid ? q(providerSid) : "NULL",
            scheduled ? at : "NULL",
            by ? q(by) : "NULL",
            by ? "'user'" : "NULL",
            byName ? q(byName) : "NULL",
            created,
            created,
            inbound || scheduled ? "NULL" : created + 1000,
            statusOf === "delivered" ? created + 4000 : "NULL",
            kind === "failed" ? created + 5000 : "NULL",
          ].join(", ") +
          ");",
      );
      rows.push(
        `INSERT OR IGNORE INTO message_events (workspace_id, message_id, status, source, at) SELECT 'ws_demo', ${q(id)}, ${q(statusOf)}, ${q(inbound ? "webhook" : "api")}, ${created} WHERE NOT EXISTS (SELECT 1 FROM message_events WHERE message_id = ${q(id)});`,
      );
      if (!scheduled && created >= lastAt) {
        lastMessage = id;
        lastAt = created;
      }
    }
    lines.push(
      `INSERT OR IGNORE INTO conversations (id, workspace_id, contact_id, from_number, status, assigned_user_id, snoozed_until, last_seq, last_message_id, last_message_at, created_at) VALUES (${q(cv)}, 'ws_demo', ${q(ct)}, ${q(DEMO.number)}, ${q(status)}, ${assignee ? q(assignee) : "NULL"}, ${snoozedUntil ?? "NULL"}, ${seq}, ${lastMessage ? q(lastMessage) : "NULL"}, ${lastAt}, ${now - 30 * DAY});`,
      ...rows,
    );
    for (const label of labelIds) {
      lines.push(
        `INSERT OR IGNORE INTO conversation_labels (conversation_id, label_id, workspace_id) VALUES (${q(cv)}, ${q(label)}, 'ws_demo');`,
      );
    }
  }
  // The owner has read everything but Lena's two texts; Sam read Casey's thread up to the note.
  lines.push(
    `INSERT OR IGNORE INTO conversation_reads (conversation_id, user_id, workspace_id, last_read_seq) VALUES ('cv_demo', 'usr_demo', 'ws_demo', 5), ('cv_jordan', 'usr_demo', 'ws_demo', 4), ('cv_priya', 'usr_demo', 'ws_demo', 2), ('cv_miguel', 'usr_demo', 'ws_demo', 3), ('cv_demo', 'usr_sam', 'ws_demo', 4);`,
    `INSERT OR IGNORE INTO audit_log (id, workspace_id, actor_type, actor_id, action, target_type, target_id, data, client_ip, at) VALUES
      (900001, 'ws_demo', 'user', 'usr_demo', 'invitation.created', 'invitation', 'inv_demo_sam', '{"email":"sam@parley.local","role":"agent"}', '127.0.0.1', ${now - 29 * DAY}),
      (900002, 'ws_demo', 'user', 'usr_sam', 'invitation.accepted', 'invitation', 'inv_demo_sam', '{"email":"sam@parley.local","role":"agent"}', '127.0.0.1', ${now - 29 * DAY + HOUR}),
      (900003, 'ws_demo', 'user', 'usr_demo', 'member.role_changed', 'member', 'mem_morgan', '{"email":"morgan@parley.local","before":"agent","after":"admin"}', '127.0.0.1', ${now - 20 * DAY}),
      (900004, 'ws_demo', 'user', 'usr_morgan', 'label.created', 'label', 'lbl_vip', '{"name":"VIP","color":"#b45309"}', '127.0.0.1', ${now - 10 * DAY});`,
    `INSERT OR IGNORE INTO notifications (id, workspace_id, user_id, type, conversation_id, actor_type, actor_id, actor_name, created_at) VALUES ('ntf_demo_1', 'ws_demo', 'usr_ana', 'mention', 'cv_demo', 'user', 'usr_sam', 'Sam Rivera', ${now - 15 * MINUTE});`,
    // A draft campaign to the VIP customers, ready to start from the Campaigns page.
    `INSERT OR IGNORE INTO campaigns (id, workspace_id, name, status, audience, body, number_ids, audience_count, created_by, created_at, updated_at)
      SELECT 'cmp_demo', 'ws_demo', 'Holiday opening hours', 'draft', '{"labels":["lbl_vip"]}',
        ${q("Hi {{contact.firstName|there}}! Over the holidays we open 10:00-16:00. Reply STOP to opt out.")}, '["num_demo"]',
        (SELECT count(DISTINCT c.contact_id) FROM conversations c JOIN conversation_labels cl ON cl.conversation_id = c.id WHERE cl.label_id = 'lbl_vip'),
        'usr_demo', ${now - 2 * HOUR}, ${now - 2 * HOUR};`,
  );
  return lines.join("\n");
}

export function seedLocalDb({ quiet = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "parley-seed-"));
  const file = join(dir, "seed.sql");
  writeFileSync(file, seedSql());
  execFileSync(WRANGLER_BIN, ["d1", "execute", "DB", "--local", "--file", file], {
    env: wranglerEnv(),
    stdio: quiet ? "ignore" : ["ignore", "ignore", "inherit"],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  seedLocalDb();
  console.log(
    `seeded: ${DEMO.email} / ${DEMO.password} (teammates: ${DEMO_TEAM.slice(1)
      .map((u) => u.email)
      .join(", ")}, same password)`,
  );
}
