/**
 * The team in the browser: members and invitations, labels, auto-assignment, your password, the audit
 * log, the notification bell and the workspace switcher.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { LabelJson, NotificationJson } from "../../src/shared/frames";
import { api, errorText } from "./api";
import { useInboxes } from "./channels";
import { shortWhen } from "./format";
import type { Me, Page } from "./types";

export interface Member {
  id: string;
  userId: string;
  name: string;
  email: string;
  role: "owner" | "admin" | "agent" | "viewer";
  /** The inboxes this member works in (null: all). */
  inboxIds?: string[] | null;
  joinedAt: string;
}

interface Invitation {
  id: string;
  email: string;
  role: string;
  status: string;
  expiresAt: string;
  createdAt: string;
}

const ROLE_WORDS: Record<Member["role"], string> = {
  owner: "Owner — everything, including deleting the workspace",
  admin: "Admin — numbers, keys, members, settings",
  agent: "Agent — conversations, contacts, notes, sending",
  viewer: "Viewer — reads only",
};

/** A list read once per page load and shared (the thread, the composer and settings all ask); `fresh` reads again. */
function cachedList<T>(path: string): (fresh?: boolean) => Promise<T[]> {
  let cache: Promise<T[]> | null = null;
  return (fresh = false) => {
    if (fresh || !cache) {
      const next = api<{ items: T[] }>("GET", path).then((r) => r.items);
      next.catch(() => {
        if (cache === next) cache = null;
      });
      cache = next;
    }
    return cache;
  };
}

export const loadMembers = cachedList<Member>("/api/members");
export const loadLabels = cachedList<LabelJson>("/api/labels");

export function useMembers(): Member[] {
  const [members, setMembers] = useState<Member[]>([]);
  useEffect(() => {
    loadMembers().then(setMembers, () => undefined);
  }, []);
  return members;
}

export function useLabels(): [LabelJson[], () => void] {
  const [labels, setLabels] = useState<LabelJson[]>([]);
  const reload = () => loadLabels(true).then(setLabels, () => undefined);
  useEffect(() => {
    loadLabels().then(setLabels, () => undefined);
  }, []);
  return [labels, reload];
}

/** A label as a colored chip (text stays dark or light enough to read on its color). */
export function LabelChip(props: { label: LabelJson }) {
  const { color, name } = props.label;
  const r = Number.parseInt(color.slice(1, 3), 16);
  const g = Number.parseInt(color.slice(3, 5), 16);
  const b = Number.parseInt(color.slice(5, 7), 16);
  const light = (r * 299 + g * 587 + b * 114) / 1000 > 150;
  return (
    <span class="chip" style={{ background: color, color: light ? "#111827" : "#ffffff" }}>
      {name}
    </span>
  );
}

export function TeamSettings(props: { me: Me }) {
  const manage = props.me.role === "owner" || props.me.role === "admin";
  const [members, setMembers] = useState<Member[]>([]);
  const [invitations, setInvitations] = useState<Invitation[]>([]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Member["role"]>("agent");
  const [link, setLink] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const load = async () => {
    setMembers(await loadMembers(true));
    if (manage) setInvitations((await api<Page<Invitation>>("GET", "/api/invitations")).items);
  };
  useEffect(() => {
    load().catch((e) => setStatus(errorText(e)));
  }, []);
  const invite = async (e: Event) => {
    e.preventDefault();
    setStatus(null);
    try {
      const created = await api<Invitation & { url: string }>("POST", "/api/invitations", { email, role });
      setLink(created.url);
      setEmail("");
      setStatus(`Invitation for ${created.email} created. Send them the link below; it works once, for 7 days.`);
      await load();
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  const changeRole = async (m: Member, next: Member["role"]) => {
    try {
      await api("PATCH", `/api/members/${m.id}`, { role: next });
      setStatus(`${m.name} is now ${next}.`);
    } catch (err) {
      setStatus(errorText(err));
    }
    await load();
  };
  const remove = async (m: Member) => {
    const self = m.userId === props.me.user?.id;
    if (!confirm(self ? "Leave this workspace?" : `Remove ${m.name}? Their conversations become unassigned.`)) return;
    try {
      await api("DELETE", `/api/members/${m.id}`);
      if (self) location.assign("/");
      setStatus(`${m.name} removed.`);
      await load();
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  return (
    <section aria-labelledby="team-title" class="card">
      <h2 id="team-title">Team</h2>
      <table class="table">
        <caption class="sr-only">Members</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Inboxes</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.id} data-member={m.email}>
              <td>{m.name}</td>
              <td>{m.email}</td>
              <td>
                {manage ? (
                  <select
                    aria-label={`Role of ${m.name}`}
                    value={m.role}
                    onChange={(e) => changeRole(m, (e.target as HTMLSelectElement).value as Member["role"])}
                  >
                    {(["owner", "admin", "agent", "viewer"] as const).map((r) => (
                      <option key={r} value={r} disabled={r === "owner" && props.me.role !== "owner"}>
                        {r}
                      </option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td>
                <MemberInboxes member={m} manage={manage} onChanged={load} onStatus={setStatus} />
              </td>
              <td>
                {(manage || m.userId === props.me.user?.id) && (
                  <button type="button" class="link danger" onClick={() => remove(m)}>
                    {m.userId === props.me.user?.id ? "Leave" : "Remove"}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {manage && (
        <>
          <form class="row wrap" onSubmit={invite}>
            <label>
              Invite by email
              <input
                type="email"
                name="invite-email"
                value={email}
                onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
                required
              />
            </label>
            <label>
              Role
              <select
                name="invite-role"
                value={role}
                onChange={(e) => setRole((e.target as HTMLSelectElement).value as Member["role"])}
              >
                {(["admin", "agent", "viewer", "owner"] as const).map((r) => (
                  <option key={r} value={r} disabled={r === "owner" && props.me.role !== "owner"}>
                    {r}
                  </option>
                ))}
              </select>
            </label>
            <span class="muted small role-help">{ROLE_WORDS[role]}</span>
            <button type="submit" class="primary" disabled={!email.trim()}>
              Invite
            </button>
          </form>
          {link && (
            <p class="notice">
              <label>
                Invitation link (shown once)
                <input
                  class="invite-link"
                  readOnly
                  value={link}
                  onFocus={(e) => (e.target as HTMLInputElement).select()}
                />
              </label>
              <button
                type="button"
                onClick={() => navigator.clipboard?.writeText(link).then(() => setStatus("Link copied."))}
              >
                Copy
              </button>
            </p>
          )}
          {invitations.length > 0 && (
            <>
              <h3>Pending invitations</h3>
              <ul class="plain">
                {invitations.map((i) => (
                  <li key={i.id}>
                    {i.email} · {i.role} · {i.status === "expired" ? "expired" : `until ${shortWhen(i.expiresAt)}`}{" "}
                    <button
                      type="button"
                      class="link danger"
                      onClick={async () => {
                        await api("DELETE", `/api/invitations/${i.id}`).catch((e) => setStatus(errorText(e)));
                        await load();
                      }}
                    >
                      Revoke
                    </button>
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
      <p class="muted small" role="status">
        {status}
      </p>
    </section>
  );
}

export function LabelSettings(props: { me: Me }) {
  const canEdit = props.me.role !== "viewer";
  const [labels, reload] = useLabels();
  const [name, setName] = useState("");
  const [color, setColor] = useState("#2563eb");
  const [status, setStatus] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      await api("POST", "/api/labels", { name, color });
      setName("");
      setStatus(`Label "${name}" created.`);
      reload();
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  return (
    <section aria-labelledby="labels-title" class="card">
      <h2 id="labels-title">Labels</h2>
      <ul class="plain chips">
        {labels.map((l) => (
          <li key={l.id}>
            <LabelChip label={l} />
            {canEdit && (
              <button
                type="button"
                class="link danger"
                aria-label={`Delete label ${l.name}`}
                onClick={async () => {
                  if (!confirm(`Delete the label "${l.name}"? It comes off every conversation.`)) return;
                  await api("DELETE", `/api/labels/${l.id}`).catch((e) => setStatus(errorText(e)));
                  reload();
                }}
              >
                ×
              </button>
            )}
          </li>
        ))}
        {labels.length === 0 && <li class="muted">No labels yet.</li>}
      </ul>
      {canEdit && (
        <form class="row wrap" onSubmit={create}>
          <label>
            New label
            <input
              value={name}
              maxLength={40}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
              required
            />
          </label>
          <label>
            Color
            <input type="color" value={color} onInput={(e) => setColor((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={!name.trim()}>
            Add label
          </button>
        </form>
      )}
      <p class="muted small" role="status">
        {status}
      </p>
    </section>
  );
}

export function AssignmentSettings(props: { me: Me }) {
  const manage = props.me.role === "owner" || props.me.role === "admin";
  const [on, setOn] = useState<boolean | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  useEffect(() => {
    api<{ autoAssign: boolean }>("GET", "/api/workspace").then(
      (w) => setOn(w.autoAssign),
      (e) => setStatus(errorText(e)),
    );
  }, []);
  if (on === null) return null;
  return (
    <section aria-labelledby="assign-title" class="card">
      <h2 id="assign-title">Assignment</h2>
      <label class="check">
        <input
          type="checkbox"
          checked={on}
          disabled={!manage}
          onChange={async (e) => {
            const next = (e.target as HTMLInputElement).checked;
            try {
              const w = await api<{ autoAssign: boolean }>("PATCH", "/api/workspace", { autoAssign: next });
              setOn(w.autoAssign);
              setStatus(next ? "New conversations go round-robin to the agents online." : "Auto-assignment is off.");
            } catch (err) {
              setStatus(errorText(err));
            }
          }}
        />
        Assign new conversations round-robin to the agents who are online
      </label>
      <p class="muted small" role="status">
        {status}
      </p>
    </section>
  );
}

export function PasswordSettings() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  return (
    <section aria-labelledby="password-title" class="card">
      <h2 id="password-title">Your password</h2>
      <form
        class="row wrap"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await api("POST", "/api/auth/password", { currentPassword: current, newPassword: next });
            setCurrent("");
            setNext("");
            setStatus("Password changed. Your other sessions were signed out.");
          } catch (err) {
            setStatus(errorText(err, "newPassword"));
          }
        }}
      >
        <label>
          Current password
          <input
            type="password"
            autocomplete="current-password"
            value={current}
            onInput={(e) => setCurrent((e.target as HTMLInputElement).value)}
            required
          />
        </label>
        <label>
          New password (10+ characters)
          <input
            type="password"
            autocomplete="new-password"
            minLength={10}
            value={next}
            onInput={(e) => setNext((e.target as HTMLInputElement).value)}
            required
          />
        </label>
        <button type="submit" disabled={!current || next.length < 10}>
          Change password
        </button>
      </form>
      <p class="muted small" role="status">
        {status}
      </p>
    </section>
  );
}

interface AuditEntry {
  id: string;
  action: string;
  actor: { type: string; id: string | null; name: string | null };
  target: { type: string | null; id: string | null };
  data: Record<string, unknown> | null;
  clientIp: string | null;
  at: string;
}

export function AuditPage(props: { onBack: () => void }) {
  const [items, setItems] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [action, setAction] = useState("");
  const [error, setError] = useState<string | null>(null);
  const load = async (more: boolean) => {
    try {
      const params = new URLSearchParams({ limit: "50" });
      if (action) params.set("action", action);
      if (more && cursor) params.set("cursor", cursor);
      const page = await api<Page<AuditEntry>>("GET", `/api/audit?${params}`);
      setItems((list) => (more ? [...list, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    load(false);
  }, [action]);
  return (
    <main class="settings wide">
      <button type="button" class="link" onClick={props.onBack}>
        ← Back to the inbox
      </button>
      <h1>Audit log</h1>
      <label>
        Show
        <select value={action} onChange={(e) => setAction((e.target as HTMLSelectElement).value)}>
          <option value="">Everything</option>
          <option value="member">Members</option>
          <option value="invitation">Invitations</option>
          <option value="api_key">API keys</option>
          <option value="number">Numbers</option>
          <option value="workspace">Settings</option>
          <option value="contact">Contacts and consent</option>
          <option value="message">API sends and dead letters</option>
          <option value="retention">Retention</option>
          <option value="label">Labels</option>
        </select>
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <table class="table audit">
        <caption class="sr-only">Audit entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Details</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {items.map((e) => (
            <tr key={e.id}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td>
                {e.actor.name ?? e.actor.id ?? e.actor.type}
                {e.actor.type === "api_key" ? " (API key)" : ""}
              </td>
              <td>{e.action}</td>
              <td class="small">{e.data ? JSON.stringify(e.data) : ""}</td>
              <td class="small">{e.clientIp ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 && !error && <p class="muted">Nothing recorded yet.</p>}
      {cursor && (
        <button type="button" class="link" onClick={() => load(true)}>
          Load older entries
        </button>
      )}
    </main>
  );
}

const NOTIFICATION_WORDS: Record<NotificationJson["type"], string> = {
  mention: "mentioned you",
  assigned: "assigned you a conversation",
  inbound_on_mine: "replied in your conversation",
  campaign_paused: "paused: too many recipients opted out",
  webhook_disabled: "was disabled after 24 hours of failed deliveries",
};

export function describeNotification(n: NotificationJson): string {
  if (n.type === "campaign_paused") return `Campaign “${n.actor.name ?? ""}” ${NOTIFICATION_WORDS[n.type]}`;
  if (n.type === "webhook_disabled") return `Webhook ${n.actor.name ?? ""} ${NOTIFICATION_WORDS[n.type]}`;
  return `${n.actor.name ?? "Someone"} ${NOTIFICATION_WORDS[n.type]}`;
}

/** The bell: unread count, the feed, mark read, and the browser's notifications when allowed. */
export function NotificationBell(props: {
  items: NotificationJson[];
  unread: number;
  onOpen: (n: NotificationJson) => void;
  onReadAll: () => void;
}) {
  const [open, setOpen] = useState(false);
  const panel = useRef<HTMLElement>(null);
  const canAsk = typeof Notification !== "undefined" && Notification.permission === "default";
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [open]);
  return (
    <div class="bell">
      <button
        type="button"
        class="link"
        aria-expanded={open}
        aria-controls="notifications-panel"
        onClick={() => setOpen(!open)}
      >
        Notifications
        {props.unread > 0 && (
          <span class="badge" data-testid="unread-notifications">
            {props.unread}
            <span class="sr-only"> unread</span>
          </span>
        )}
      </button>
      {open && (
        <section id="notifications-panel" class="panel card" ref={panel} aria-label="Notifications">
          <div class="row">
            <strong>Notifications</strong>
            <button type="button" class="link" onClick={props.onReadAll} disabled={props.unread === 0}>
              Mark all read
            </button>
          </div>
          {canAsk && (
            <button type="button" class="link" onClick={() => Notification.requestPermission()}>
              Also show them as desktop notifications
            </button>
          )}
          <ul class="plain">
            {props.items.map((n) => (
              <li key={n.id} class={n.readAt ? "" : "unread"}>
                <button
                  type="button"
                  class="link"
                  onClick={() => {
                    setOpen(false);
                    props.onOpen(n);
                  }}
                >
                  {describeNotification(n)}
                </button>{" "}
                <span class="muted small">{shortWhen(n.createdAt)}</span>
              </li>
            ))}
            {props.items.length === 0 && <li class="muted">Nothing yet.</li>}
          </ul>
        </section>
      )}
    </div>
  );
}

/** Switches the session to another of the user's workspaces (reloads the app there). */
export function WorkspaceSwitcher(props: { me: Me }) {
  const list = props.me.workspaces ?? [];
  if (list.length < 2) return null;
  return (
    <label class="switcher">
      <span class="sr-only">Workspace</span>
      <select
        value={props.me.workspace.id}
        onChange={async (e) => {
          const workspaceId = (e.target as HTMLSelectElement).value;
          await api("POST", "/api/auth/switch", { workspaceId });
          location.assign("/");
        }}
      >
        {list.map((w) => (
          <option key={w.id} value={w.id}>
            {w.name} ({w.role})
          </option>
        ))}
      </select>
    </label>
  );
}

/** Owners only: delete the workspace, typing its name to confirm. */
export function DeleteWorkspace(props: { me: Me }) {
  const [confirm, setConfirm] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  if (props.me.role !== "owner" || !props.me.user) return null;
  const name = props.me.workspace.name;
  return (
    <section aria-labelledby="delete-title" class="card danger-zone">
      <h2 id="delete-title">Delete this workspace</h2>
      <p class="small">
        Deletes every conversation, message, contact, number, key and member of {name}, for good. Type its name to
        confirm.
      </p>
      <form
        class="row wrap"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await api("DELETE", "/api/workspace", { confirm });
            location.assign("/signin");
          } catch (err) {
            setStatus(errorText(err));
          }
        }}
      >
        <label>
          Workspace name
          <input value={confirm} onInput={(e) => setConfirm((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="danger" disabled={confirm !== name}>
          Delete workspace
        </button>
      </form>
      <p class="muted small" role="status">
        {status}
      </p>
    </section>
  );
}

/** Which inboxes a member works in: all, or a chosen few (they then see only those conversations). */
function MemberInboxes(props: {
  member: Member;
  manage: boolean;
  onChanged: () => Promise<void>;
  onStatus: (s: string) => void;
}) {
  const inboxes = useInboxes();
  const { member } = props;
  const chosen = new Set(member.inboxIds ?? []);
  const names = (member.inboxIds ?? []).map((id) => inboxes.find((i) => i.id === id)?.name ?? id);
  const summary = member.inboxIds ? (names.length > 0 ? names.join(", ") : "none") : "All inboxes";
  if (!props.manage || inboxes.length < 2) return <span class="small">{summary}</span>;
  const save = async (next: string[] | null) => {
    try {
      await api("PATCH", `/api/members/${member.id}`, { inboxIds: next });
      props.onStatus(`${member.name} now works in ${next === null ? "all inboxes" : `${next.length} inbox(es)`}.`);
    } catch (err) {
      props.onStatus(errorText(err));
    }
    await props.onChanged();
  };
  return (
    <details class="small">
      <summary>{summary}</summary>
      <fieldset class="plain">
        <legend class="sr-only">Inboxes of {member.name}</legend>
        <label>
          <input
            type="checkbox"
            checked={member.inboxIds == null}
            onChange={() => save(member.inboxIds == null ? [] : null)}
          />{" "}
          All inboxes
        </label>
        {inboxes.map((i) => (
          <label key={i.id}>
            <input
              type="checkbox"
              disabled={member.inboxIds == null}
              checked={member.inboxIds == null || chosen.has(i.id)}
              onChange={(e) => {
                const on = (e.target as HTMLInputElement).checked;
                const next = new Set(chosen);
                if (on) next.add(i.id);
                else next.delete(i.id);
                save([...next]);
              }}
            />{" "}
            {i.name} <span class="muted">({i.address})</span>
          </label>
        ))}
      </fieldset>
    </details>
  );
}
