/**
 * The channels in the browser: inboxes in Settings, files and pictures in the thread and the
 * composer, email's subject and (sanitised) HTML, WhatsApp's 24-hour window, and a contact's other
 * channels to reply on.
 */
import { useEffect, useState } from "preact/hooks";
import { CHANNEL_LABELS, type ChannelKind } from "../../src/shared/channels";
import { WHATSAPP_WINDOW_MS } from "../../src/shared/limits";
import { ApiError, api, errorText } from "./api";
import type { Conversation, Message, Page } from "./types";

export interface Inbox {
  id: string;
  channel: ChannelKind;
  name: string;
  address: string;
  accountSid: string | null;
  hasCredentials: boolean;
  ratePerSecond: number | null;
  capabilities: { media: boolean; templates: boolean; sessionWindowHours: number | null; subject: boolean };
  webhooks: Record<string, string>;
}

const SHORT: Record<ChannelKind, string> = { sms: "SMS", whatsapp: "WA", email: "Email" };

/** A small pill naming the channel (text, so it reads the same with or without an emoji font). */
export function ChannelBadge(props: { channel: ChannelKind | undefined }) {
  const channel = props.channel ?? "sms";
  return (
    <span class={`channel-badge ${channel}`} title={CHANNEL_LABELS[channel]}>
      <span aria-hidden="true">{SHORT[channel]}</span>
      <span class="sr-only">{CHANNEL_LABELS[channel]}</span>
    </span>
  );
}

let inboxCache: Promise<Inbox[]> | null = null;
/** The workspace's inboxes (read once per page load; Settings refreshes it). */
export function useInboxes(): Inbox[] {
  const [items, setItems] = useState<Inbox[]>([]);
  useEffect(() => {
    inboxCache ??= api<Page<Inbox>>("GET", "/api/inboxes").then((p) => p.items);
    inboxCache.then(setItems, () => {
      inboxCache = null;
    });
  }, []);
  return items;
}

function formatSize(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A message's files: pictures inline, anything else as a download. */
export function MediaList(props: { media: Message["media"] }) {
  if (props.media.length === 0) return null;
  return (
    <div class="media-list">
      {props.media.map((m, i) => {
        if (!m.attachmentId) {
          return (
            <span class="media pending muted small" key={`${m.url}-${i}`}>
              Attachment (copying…)
            </span>
          );
        }
        if (m.contentType?.startsWith("image/")) {
          return (
            <a href={m.url} target="_blank" rel="noreferrer noopener" key={m.attachmentId} class="media image">
              <img src={m.url} alt={m.name ?? "Picture"} loading="lazy" />
            </a>
          );
        }
        return (
          <a href={m.url} download={m.name} key={m.attachmentId} class="media file">
            {m.name ?? "Attachment"} <span class="muted small">{formatSize(m.size)}</span>
          </a>
        );
      })}
    </div>
  );
}

/** An email's subject, its text, and its HTML when asked for (sanitised: no scripts, no remote loads run). */
export function EmailBody(props: { m: Message }) {
  const [clean, setClean] = useState<string | null>(null);
  const { m } = props;
  const formatted = clean !== null;
  // The sanitiser loads only when someone asks for the formatted email (it is not in the inbox's first load).
  const setFormatted = async (on: boolean) => {
    if (!on || !m.html) return setClean(null);
    const { default: DOMPurify } = await import("dompurify");
    setClean(DOMPurify.sanitize(m.html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form"] }));
  };
  return (
    <>
      {m.subject && <div class="email-subject">{m.subject}</div>}
      {clean !== null ? (
        // Sanitised by DOMPurify in setFormatted.
        <div class="email-html" dangerouslySetInnerHTML={{ __html: clean }} />
      ) : (
        <div class="email-text">{m.body}</div>
      )}
      {m.html && (
        <button type="button" class="link small" onClick={() => setFormatted(!formatted)}>
          {formatted ? "Show plain text" : "Show formatted"}
        </button>
      )}
    </>
  );
}

/** WhatsApp: time left in the 24-hour window, or that only templates can go. */
export function whatsappWindow(conv: Conversation | null, now = Date.now()) {
  if (conv?.channel !== "whatsapp") return null;
  const last = conv.lastInboundAt ? Date.parse(conv.lastInboundAt) : null;
  const closesAt = last === null ? null : last + WHATSAPP_WINDOW_MS;
  const open = closesAt !== null && closesAt > now;
  return { open, closesAt, leftMs: open && closesAt !== null ? closesAt - now : 0 };
}

export function WindowNotice(props: { conv: Conversation | null }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);
  const w = whatsappWindow(props.conv, now);
  if (!w) return null;
  if (w.open) {
    const h = Math.floor(w.leftMs / 3_600_000);
    const min = Math.floor((w.leftMs % 3_600_000) / 60_000);
    return (
      <p class="notice small" role="status" data-testid="whatsapp-window">
        WhatsApp window open: {h > 0 ? `${h} h ` : ""}
        {min} min left to reply freely.
      </p>
    );
  }
  return (
    <p class="notice small" role="status" data-testid="whatsapp-window">
      WhatsApp's 24-hour window is closed
      {w.closesAt
        ? ` (since ${new Date(w.closesAt).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })})`
        : ""}
      : only an approved template can be sent until the customer writes again.
    </p>
  );
}

export interface Attached {
  id: string;
  name: string;
  contentType: string;
  size: number;
}

/** Files picked in the composer, uploaded at once (so sending is quick) and sent by id. */
export function useAttachments(limits: { max: number; maxTotalBytes: number; label: string }) {
  const [files, setFiles] = useState<Attached[]>([]);
  const [uploading, setUploading] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  const add = async (list: FileList | null) => {
    if (!list) return;
    setProblem(null);
    let count = files.length;
    let total = files.reduce((sum, f) => sum + f.size, 0);
    for (const file of [...list]) {
      // The channel's limits, checked before uploading (the send checks them again).
      if (count + 1 > limits.max) {
        setProblem(`${limits.label} takes at most ${limits.max} file${limits.max === 1 ? "" : "s"} per message.`);
        break;
      }
      if (total + file.size > limits.maxTotalBytes) {
        setProblem(
          `${file.name}: ${limits.label} takes at most ${formatSize(limits.maxTotalBytes)} of files per message.`,
        );
        break;
      }
      count++;
      total += file.size;
      setUploading((n) => n + 1);
      try {
        const res = await fetch(`/api/attachments?name=${encodeURIComponent(file.name)}`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": file.type || "application/octet-stream" },
          body: file,
        });
        const json = (await res.json()) as Attached & { error?: { message: string } };
        if (!res.ok) throw new Error(json.error?.message ?? `Upload failed (${res.status}).`);
        setFiles((f) => [...f, { id: json.id, name: json.name, contentType: json.contentType, size: json.size }]);
      } catch (err) {
        setProblem(`${file.name}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        setUploading((n) => n - 1);
      }
    }
  };
  return {
    files,
    uploading: uploading > 0,
    problem,
    add,
    remove: (id: string) => setFiles((f) => f.filter((x) => x.id !== id)),
    clear: () => setFiles([]),
  };
}

export function AttachmentChips(props: { files: Attached[]; onRemove: (id: string) => void; uploading: boolean }) {
  if (props.files.length === 0 && !props.uploading) return null;
  const total = props.files.reduce((s, f) => s + f.size, 0);
  return (
    <ul class="chips" aria-label="Attached files">
      {props.files.map((f) => (
        <li key={f.id} class="chip">
          {f.name} <span class="muted small">{formatSize(f.size)}</span>
          <button type="button" class="link" aria-label={`Remove ${f.name}`} onClick={() => props.onRemove(f.id)}>
            ×
          </button>
        </li>
      ))}
      {props.uploading && <li class="muted small">Uploading…</li>}
      {props.files.length > 1 && <li class="muted small">{formatSize(total)} in all</li>}
    </ul>
  );
}

/** A contact's conversations on every channel, as the contact panel lists them. */
export interface ThreadRef {
  id: string;
  from: string;
  channel: string;
  status: string;
  lastMessageAt: string | null;
  lastInboundAt: string | null;
}

export function useContactThreads(contactId: string | undefined, refreshKey: unknown): ThreadRef[] {
  const [threads, setThreads] = useState<ThreadRef[]>([]);
  useEffect(() => {
    if (!contactId) return;
    api<{ conversations: ThreadRef[] }>("GET", `/api/contacts/${contactId}/history`)
      .then((h) => setThreads(h.conversations))
      .catch(() => setThreads([]));
  }, [contactId, refreshKey]);
  return threads;
}

/** The channel a customer last wrote on, among their threads (null when they never wrote). */
export function lastUsedThread(threads: ThreadRef[]): ThreadRef | null {
  let best: ThreadRef | null = null;
  for (const t of threads) {
    if (t.lastInboundAt && (!best?.lastInboundAt || t.lastInboundAt > best.lastInboundAt)) best = t;
  }
  return best;
}

/**
 * Reply on another channel: the contact's address there, from one of the workspace's inboxes of that
 * channel. The first message opens (or continues) that conversation, and the thread moves there.
 */
export function ReplyElsewhere(props: {
  conv: Conversation;
  inboxes: Inbox[];
  onOpened: (conversationId: string) => void;
}) {
  const { conv } = props;
  const targets = (conv.contact.identities ?? []).flatMap((identity) =>
    props.inboxes
      .filter((i) => i.channel === identity.channel && i.address !== conv.from)
      .map((inbox) => ({ identity, inbox })),
  );
  const [choice, setChoice] = useState(0);
  const [open, setOpen] = useState(false);
  const [body, setBody] = useState("");
  const [subject, setSubject] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  if (targets.length === 0) return null;
  const target = targets[Math.min(choice, targets.length - 1)];
  const send = async (e: Event) => {
    e.preventDefault();
    if (!target) return;
    try {
      const msg = await api<Message>(
        "POST",
        "/api/messages",
        {
          to: target.identity.address,
          from: target.inbox.address,
          body,
          ...(target.inbox.channel === "email" ? { subject: subject || undefined } : {}),
        },
        { "Idempotency-Key": crypto.randomUUID() },
      );
      setBody("");
      setOpen(false);
      props.onOpened(msg.conversationId);
    } catch (err) {
      setProblem(errorText(err));
    }
  };
  if (!open) {
    return (
      <button type="button" class="link small" onClick={() => setOpen(true)}>
        Reply on another channel…
      </button>
    );
  }
  return (
    <form class="card reply-elsewhere" onSubmit={send} aria-label="Reply on another channel">
      <label>
        Send via
        <select value={choice} onChange={(e) => setChoice(Number((e.target as HTMLSelectElement).value))}>
          {targets.map((t, i) => (
            <option key={`${t.inbox.id}-${t.identity.address}`} value={i}>
              {CHANNEL_LABELS[t.inbox.channel]}: {t.identity.address.replace(/^whatsapp:/, "")} from {t.inbox.name}
            </option>
          ))}
        </select>
      </label>
      {target?.inbox.channel === "email" && (
        <label>
          Subject
          <input value={subject} onInput={(e) => setSubject((e.target as HTMLInputElement).value)} />
        </label>
      )}
      <label>
        Message
        <textarea rows={2} value={body} onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)} required />
      </label>
      <div class="row">
        <button type="submit" class="primary">
          Send
        </button>
        <button type="button" class="link" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      {problem && (
        <p class="error small" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}

/** Settings: every inbox (SMS, WhatsApp, email), what to set up at the provider, and its own account. */
export function InboxSettings(props: { admin: boolean }) {
  const [items, setItems] = useState<Inbox[]>([]);
  const [channel, setChannel] = useState<ChannelKind>("whatsapp");
  const [name, setName] = useState("");
  const [address, setAddress] = useState("");
  const [own, setOwn] = useState(false);
  const [sid, setSid] = useState("");
  const [token, setToken] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [secret, setSecret] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  // SMS numbers are listed (and added) under Sender numbers; here: WhatsApp, email, and SMS inboxes on their own account.
  const load = async () => {
    inboxCache = null;
    const all = (await api<Page<Inbox>>("GET", "/api/inboxes")).items;
    setItems(all.filter((i) => i.channel !== "sms" || i.hasCredentials));
  };
  useEffect(() => {
    load().catch((e) => setStatus(errorText(e)));
  }, []);
  const add = async (e: Event) => {
    e.preventDefault();
    const credentials = !own
      ? undefined
      : channel === "email"
        ? { apiKey, ...(secret ? { webhookSecret: secret } : {}) }
        : { accountSid: sid, authToken: token };
    try {
      await api("POST", "/api/inboxes", { channel, name, address, credentials });
      setName("");
      setAddress("");
      setSid("");
      setToken("");
      setApiKey("");
      setSecret("");
      setOwn(false);
      setStatus(`${CHANNEL_LABELS[channel]} inbox added.`);
      await load();
    } catch (err) {
      setStatus(
        err instanceof ApiError && err.fieldMessage("address")
          ? `Address: ${err.fieldMessage("address")}`
          : errorText(err, "credentials"),
      );
    }
  };
  const remove = async (inbox: Inbox) => {
    if (!confirm(`Remove the inbox ${inbox.name} (${inbox.address})? Its conversations keep their history.`)) return;
    try {
      await api("DELETE", `/api/inboxes/${inbox.id}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "inbox_in_use")) return setStatus(errorText(err));
      const waiting = (err.details as { waiting?: number } | undefined)?.waiting ?? 0;
      if (!confirm(`${waiting} message(s) still wait to go out from it. Cancel them and remove it?`)) return;
      await api("DELETE", `/api/inboxes/${inbox.id}?cancel=true`).catch((e2: unknown) => setStatus(errorText(e2)));
    }
    setStatus(`${inbox.name} removed.`);
    await load();
  };
  const forget = async (inbox: Inbox) => {
    try {
      await api("PATCH", `/api/inboxes/${inbox.id}`, { credentials: null });
      setStatus(`${inbox.name} now uses the deployment's account.`);
      await load();
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  const placeholder =
    channel === "email" ? "support@yourcompany.com" : channel === "whatsapp" ? "whatsapp:+14155550100" : "+14155550100";
  return (
    <section aria-labelledby="inboxes-title" class="card">
      <h2 id="inboxes-title">Inboxes</h2>
      <p class="muted small">
        WhatsApp and email inboxes, and numbers on their own Twilio account (numbers on the deployment's account are
        under Sender numbers). SMS and WhatsApp use the deployment's Twilio account unless an inbox brings its own;
        credentials are encrypted and never shown again.
      </p>
      <ul class="plain inbox-list">
        {items.map((i) => (
          <li key={i.id}>
            <ChannelBadge channel={i.channel} /> <strong>{i.name}</strong> <span class="muted">{i.address}</span>{" "}
            {i.hasCredentials && (
              <span class="tag" title={i.accountSid ?? "own account"}>
                own account{i.accountSid ? ` ${i.accountSid.slice(0, 8)}…` : ""}
              </span>
            )}
            <details class="small">
              <summary>Set up at the provider</summary>
              <dl>
                {Object.entries(i.webhooks).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>
                      <code>{v}</code>
                    </dd>
                  </div>
                ))}
              </dl>
            </details>
            {props.admin && (
              <span class="row">
                {i.hasCredentials && (
                  <button type="button" class="link" onClick={() => forget(i)}>
                    Use the deployment's account
                  </button>
                )}
                <button type="button" class="link danger" onClick={() => remove(i)}>
                  Remove
                </button>
              </span>
            )}
          </li>
        ))}
        {items.length === 0 && <li class="muted">No WhatsApp or email inbox yet.</li>}
      </ul>
      {props.admin && (
        <form onSubmit={add} class="grid-form" aria-label="Add an inbox">
          <label>
            Channel
            <select value={channel} onChange={(e) => setChannel((e.target as HTMLSelectElement).value as ChannelKind)}>
              <option value="sms">SMS / MMS</option>
              <option value="whatsapp">WhatsApp</option>
              <option value="email">Email</option>
            </select>
          </label>
          <label>
            Inbox name
            <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
          </label>
          <label>
            Address
            <input
              value={address}
              placeholder={placeholder}
              onInput={(e) => setAddress((e.target as HTMLInputElement).value)}
              required
            />
          </label>
          <label class="check">
            <input type="checkbox" checked={own} onChange={(e) => setOwn((e.target as HTMLInputElement).checked)} /> Its
            own {channel === "email" ? "Resend" : "Twilio"} account
          </label>
          {own && channel !== "email" && (
            <>
              <label>
                Account SID
                <input
                  value={sid}
                  placeholder="AC…"
                  onInput={(e) => setSid((e.target as HTMLInputElement).value)}
                  required
                />
              </label>
              <label>
                Auth Token
                <input
                  type="password"
                  autocomplete="off"
                  value={token}
                  onInput={(e) => setToken((e.target as HTMLInputElement).value)}
                  required
                />
              </label>
            </>
          )}
          {own && channel === "email" && (
            <>
              <label>
                API key
                <input
                  type="password"
                  autocomplete="off"
                  value={apiKey}
                  placeholder="re_…"
                  onInput={(e) => setApiKey((e.target as HTMLInputElement).value)}
                  required
                />
              </label>
              <label>
                Webhook signing secret
                <input
                  type="password"
                  autocomplete="off"
                  value={secret}
                  placeholder="whsec_…"
                  onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
                />
              </label>
            </>
          )}
          <button type="submit" class="primary">
            Add inbox
          </button>
        </form>
      )}
      <p role="status" class="small">
        {status}
      </p>
    </section>
  );
}
