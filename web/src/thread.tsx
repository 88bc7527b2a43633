/**
 * One conversation: its messages (live from the room, resumed from the last seq after a reconnect),
 * the composer (optimistic sends reconciled through Idempotency-Key, drafts kept across reloads) and
 * the contact panel.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type NoteJson, type ServerFrame, ServerFrameSchema } from "../../src/shared/frames";
import {
  MAX_ATTACHMENT_BYTES,
  MAX_BODY_CHARS,
  MAX_EMAIL_BODY_CHARS,
  MAX_MEDIA,
  MAX_MEDIA_TOTAL_BYTES,
} from "../../src/shared/limits";
import { analyzeSegments } from "../../src/shared/segments";
import { isForward } from "../../src/shared/status";
import { ApiError, api } from "./api";
import {
  AttachmentChips,
  ChannelBadge,
  EmailBody,
  lastUsedThread,
  MediaList,
  ReplyElsewhere,
  useAttachments,
  useContactThreads,
  useInboxes,
  WindowNotice,
  whatsappWindow,
} from "./channels";
import { canRetry, contactName, dayLabel, statusTone, statusWords, time } from "./format";
import { LiveSocket, type LiveState } from "./live";
import { LabelChip, type Member, useLabels, useMembers } from "./team";
import type { Contact, Conversation, Me, Message, Page, PendingSend, SendExtra } from "./types";

const draftKey = (id: string) => `parley:draft:${id}`;

/** Sign-out forgets what this browser kept for the user: drafts and unsent outbox entries. */
export function clearLocalData(): void {
  for (let i = localStorage.length - 1; i >= 0; i--) {
    const key = localStorage.key(i);
    if (key?.startsWith("parley:draft:") || key?.startsWith("parley:pending:")) localStorage.removeItem(key);
  }
}
const pendingKey = (id: string) => `parley:pending:${id}`;

function loadPending(id: string): PendingSend[] {
  try {
    return JSON.parse(localStorage.getItem(pendingKey(id)) ?? "[]") as PendingSend[];
  } catch {
    return [];
  }
}

export function Thread(props: {
  conversationId: string;
  conversation: Conversation | null;
  /** A message to open the thread at (from search): loaded if older than the first page, then shown. */
  focus?: { messageId: string; seq: number } | null;
  me: Me;
  onBack: () => void;
  onLiveState: (s: LiveState) => void;
  onConversation: (c: Conversation) => void;
}) {
  const { conversationId: id } = props;
  const [conv, setConv] = useState<Conversation | null>(props.conversation);
  const [byId, setById] = useState<Map<string, Message>>(new Map());
  const [pending, setPendingState] = useState<PendingSend[]>(() => loadPending(id));
  const [older, setOlder] = useState<string | null>(null);
  const [typing, setTyping] = useState<Map<string, { name: string; until: number }>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [senderRemoved, setSenderRemoved] = useState(false);
  const [notFound, setNotFound] = useState(false);
  const [notes, setNotes] = useState<Map<string, NoteJson>>(new Map());
  const [reads, setReads] = useState<Map<string, { name: string; seq: number }>>(new Map());
  const [viewers, setViewers] = useState<{ userId: string; name: string }[]>([]);
  const lastSeq = useRef(0);
  /** Whether the error shown is the thread's own load failure (a later load clears only that one). */
  const loadFailed = useRef(false);
  const socket = useRef<LiveSocket<ServerFrame> | null>(null);
  const members = useMembers();
  const membersById = useRef(new Map<string, string>());
  membersById.current = new Map(members.map((m) => [m.userId, m.name]));
  const listRef = useRef<HTMLOListElement>(null);

  // The inbox stream keeps the list's copy current (consent, status, unread): follow it.
  useEffect(() => {
    if (props.conversation) setConv(props.conversation);
  }, [props.conversation]);

  const setPending = useCallback(
    (update: (list: PendingSend[]) => PendingSend[]) => {
      setPendingState((list) => {
        const next = update(list);
        localStorage.setItem(pendingKey(id), JSON.stringify(next));
        return next;
      });
    },
    [id],
  );

  const upsert = useCallback((msgs: Message[]) => {
    setById((map) => {
      const next = new Map(map);
      for (const m of msgs) {
        const had = next.get(m.id);
        // Newer status, an edit, or its files kept (copied from the provider) replace what is shown.
        const mediaKept = had?.media.some((x) => !x.attachmentId) && m.media.every((x) => x.attachmentId);
        if (!had || isForward(had.status, m.status) || had.body !== m.body || mediaKept) next.set(m.id, m);
        if (m.seq > lastSeq.current) lastSeq.current = m.seq;
      }
      return next;
    });
  }, []);

  const refreshConversation = useCallback(async () => {
    try {
      const c = await api<Conversation>("GET", `/api/conversations/${id}`);
      setConv(c);
      props.onConversation(c);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setNotFound(true);
    }
  }, [id]);

  const loadLatest = useCallback(async () => {
    try {
      const page = await api<Page<Message>>("GET", `/api/conversations/${id}/messages?limit=50`);
      // Merge, never replace: frames that arrived while this request was in flight are newer.
      upsert(page.items);
      setOlder((current) => current ?? page.nextCursor);
      if (loadFailed.current) {
        loadFailed.current = false;
        setError(null);
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setNotFound(true);
      else {
        loadFailed.current = true;
        setError(err instanceof Error ? err.message : String(err));
      }
    }
  }, [id, upsert]);

  // Sends a confirmed-or-not message again with the same key: the server returns the first result.
  const post = useCallback(
    async (p: PendingSend) => {
      setPending((list) => list.map((x) => (x.key === p.key ? { ...x, error: null } : x)));
      try {
        const msg = await api<Message>(
          "POST",
          `/api/conversations/${id}/messages`,
          {
            ...(p.extra?.templateId ? {} : { body: p.body }),
            ...(p.sendAt ? { sendAt: p.sendAt } : {}),
            ...(p.extra ?? {}),
          },
          { "Idempotency-Key": p.key },
        );
        upsert([msg]);
        setPending((list) => list.filter((x) => x.key !== p.key));
      } catch (err) {
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
          // Refused for good: give the text back to the composer and say why.
          setPending((list) => list.filter((x) => x.key !== p.key));
          const draft = localStorage.getItem(draftKey(id)) ?? "";
          localStorage.setItem(draftKey(id), draft ? `${p.body}\n${draft}` : p.body);
          window.dispatchEvent(new CustomEvent("parley:draft", { detail: id }));
          loadFailed.current = false;
          setError(err.message);
          setSenderRemoved(err.code === "sender_removed");
        } else {
          setPending((list) =>
            list.map((x) => (x.key === p.key ? { ...x, error: err instanceof Error ? err.message : String(err) } : x)),
          );
        }
      }
    },
    [id, upsert, setPending],
  );

  const loadNotes = useCallback(async () => {
    try {
      const [n, r] = await Promise.all([
        api<{ items: NoteJson[] }>("GET", `/api/conversations/${id}/notes`),
        api<{ items: { userId: string; name: string; seq: number }[] }>("GET", `/api/conversations/${id}/reads`),
      ]);
      setNotes((map) => new Map([...n.items.map((x) => [x.id, x] as const), ...map]));
      setReads(new Map(r.items.map((x) => [x.userId, { name: x.name, seq: x.seq }])));
    } catch {
      // The thread still works without them; the next reconnect loads them again.
    }
  }, [id]);

  useEffect(() => {
    refreshConversation();
    loadLatest();
    loadNotes();
    let first = true;
    const live = new LiveSocket(
      `/api/conversations/${id}/ws`,
      ServerFrameSchema,
      (frame) => {
        switch (frame.type) {
          case "hello": {
            const serverSeq = frame.lastSeq;
            if (serverSeq > lastSeq.current && lastSeq.current > 0)
              live.send({ type: "resume", afterSeq: lastSeq.current });
            // Nothing loaded yet: the first page may have been read before events this socket will
            // never replay, so read it again now that everything after `hello` arrives live.
            else if (serverSeq > 0 && lastSeq.current === 0) loadLatest();
            else if (serverSeq < lastSeq.current) loadLatest();
            if (!first) {
              // Back after a disconnect: anything that failed to send goes out now, with its key.
              for (const p of loadPending(id)) if (p.error) post(p);
              refreshConversation();
              loadNotes();
            }
            first = false;
            break;
          }
          case "message": {
            // An edit re-broadcasts a message under a new event seq.
            const seq = frame.seq;
            if (seq > lastSeq.current) lastSeq.current = seq;
            upsert([frame.message]);
            break;
          }
          case "status": {
            const seq = frame.seq;
            if (seq > lastSeq.current) lastSeq.current = seq;
            setById((map) => {
              const m = map.get(frame.messageId);
              if (!m || !isForward(m.status, frame.status)) return map;
              const next = new Map(map);
              next.set(m.id, { ...m, status: frame.status, errorCode: frame.errorCode ?? m.errorCode });
              return next;
            });
            // Error words and timestamps come with the full message.
            if (["failed", "undelivered"].includes(frame.status)) {
              api<Message>("GET", `/api/messages/${frame.messageId}`).then(
                (m) => upsert([m]),
                () => undefined,
              );
            }
            break;
          }
          case "typing":
            setTyping((map) => {
              const next = new Map(map);
              if (frame.active) next.set(frame.userId, { name: frame.name, until: Date.now() + 6000 });
              else next.delete(frame.userId);
              return next;
            });
            break;
          case "reset":
            loadLatest();
            loadNotes();
            break;
          case "note": {
            if (frame.seq > lastSeq.current) lastSeq.current = frame.seq;
            const note = frame.note;
            setNotes((map) => new Map(map).set(note.id, note));
            break;
          }
          case "conversation": {
            if (frame.seq > lastSeq.current) lastSeq.current = frame.seq;
            const state = frame.conversation;
            setConv((c) => {
              if (!c) return c;
              const next = { ...c, ...state };
              props.onConversation(next);
              return next;
            });
            break;
          }
          case "read":
            setReads((map) => {
              const had = map.get(frame.userId);
              const name = had?.name ?? membersById.current.get(frame.userId) ?? "";
              return new Map(map).set(frame.userId, { name, seq: Math.max(had?.seq ?? 0, frame.seq) });
            });
            break;
          case "presence":
            setViewers(frame.viewers);
            break;
        }
      },
      props.onLiveState,
    );
    socket.current = live;
    live.start();
    const sweep = setInterval(
      () => setTyping((map) => new Map([...map].filter(([, t]) => t.until > Date.now()))),
      1000,
    );
    return () => {
      clearInterval(sweep);
      live.stop();
      props.onLiveState("open");
    };
  }, [id]);

  const messages = useMemo(() => [...byId.values()].sort((a, b) => a.seq - b.seq), [byId]);
  const timeline = useMemo(
    () =>
      [
        ...messages.map((m) => ({ kind: "message" as const, seq: m.seq, m })),
        ...[...notes.values()]
          .filter((n) => messages.length === 0 || n.seq >= (messages[0]?.seq ?? 0) || !older)
          .map((n) => ({ kind: "note" as const, seq: n.seq, n })),
      ].sort((a, b) => a.seq - b.seq),
    [messages, notes, older],
  );
  // "Seen by": each other member under the last message at or before their read marker.
  const seenBy = useMemo(() => {
    const byMessage = new Map<string, string[]>();
    for (const [userId, r] of reads) {
      if (userId === props.me.user?.id || !r.name) continue;
      const last = [...messages].reverse().find((m) => m.seq <= r.seq);
      if (last) byMessage.set(last.id, [...(byMessage.get(last.id) ?? []), r.name]);
    }
    return byMessage;
  }, [reads, messages, props.me.user?.id]);
  const others = viewers.filter((v) => v.userId !== props.me.user?.id);
  const unsent = pending.filter((p) => !p.id || !byId.has(p.id));

  // Keep the newest in view, and tell the room what this agent has read.
  const newest = messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (!props.focus) listRef.current?.scrollTo({ top: listRef.current.scrollHeight });
    if (newest > 0 && document.visibilityState === "visible" && props.me.user) {
      const t = setTimeout(() => socket.current?.send({ type: "read", seq: lastSeq.current }), 300);
      return () => clearTimeout(t);
    }
  }, [newest, unsent.length]);

  // Open at a searched message: load the page around it when it is older than what is loaded, then
  // scroll to it and mark it for a moment.
  const focusId = props.focus?.messageId;
  useEffect(() => {
    const focus = props.focus;
    if (!focus) return;
    let cancelled = false;
    (async () => {
      if (!byId.has(focus.messageId)) {
        const page = await api<Page<Message>>(
          "GET",
          `/api/conversations/${id}/messages?before=${focus.seq + 25}&limit=50`,
        ).catch(() => null);
        if (page && !cancelled) upsert(page.items);
      }
      for (let i = 0; i < 20 && !cancelled; i++) {
        const el = listRef.current?.querySelector(`[data-id="${focus.messageId}"]`);
        if (el) {
          el.scrollIntoView({ block: "center" });
          el.classList.add("focused");
          setTimeout(() => el.classList.remove("focused"), 4000);
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [focusId]);

  const loadOlder = async () => {
    if (!older) return;
    const page = await api<Page<Message>>("GET", `/api/conversations/${id}/messages?before=${older}&limit=50`);
    upsert(page.items);
    setOlder(page.nextCursor);
  };

  const send = (body: string, sendAt: string | null, extra?: SendExtra) => {
    const p: PendingSend = {
      key: crypto.randomUUID(),
      conversationId: id,
      body,
      sendAt,
      extra,
      createdAt: new Date().toISOString(),
      id: null,
      error: null,
    };
    setPending((list) => [...list, p]);
    post(p);
  };

  if (notFound) {
    return (
      <section class="thread placeholder">
        <p>This conversation doesn't exist in your workspace.</p>
        <button type="button" onClick={props.onBack}>
          Back to the inbox
        </button>
      </section>
    );
  }

  const contact = conv?.contact;
  const typingNames = [...typing.values()].map((t) => t.name);
  let lastDay = "";
  return (
    <>
      <section class="thread" aria-label={contact ? `Conversation with ${contactName(contact)}` : "Conversation"}>
        <header class="thread-head">
          <button type="button" class="back" onClick={props.onBack} aria-label="Back to conversations">
            ←
          </button>
          <div>
            <h2>
              <ChannelBadge channel={conv?.channel} /> {contact ? contactName(contact) : "…"}
            </h2>
            <span class="muted small">
              {(conv?.to ?? contact?.phone ?? "").replace(/^whatsapp:/, "")} · via {conv?.from}
            </span>
          </div>
          {conv && (
            <Workflow
              conv={conv}
              me={props.me}
              members={members}
              onChanged={(c) => {
                setConv(c);
                props.onConversation(c);
              }}
              onError={setError}
            />
          )}
        </header>
        <ol
          class="messages"
          ref={listRef}
          aria-live="polite"
          aria-relevant="additions"
          aria-label="Conversation history"
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable from the keyboard (axe: scrollable-region-focusable)
          tabIndex={0}
        >
          {older && (
            <li class="center">
              <button type="button" class="link" onClick={loadOlder}>
                Load earlier messages
              </button>
            </li>
          )}
          {timeline.map((item) => {
            if (item.kind === "note") return <NoteItem key={item.n.id} note={item.n} />;
            const m = item.m;
            const day = dayLabel(m.createdAt);
            const separator = day !== lastDay;
            lastDay = day;
            const seen = seenBy.get(m.id);
            return (
              <>
                {separator && (
                  <li class="day" key={`day-${m.id}`}>
                    <span>{day}</span>
                  </li>
                )}
                <MessageItem key={m.id} m={m} onChange={(msg) => upsert([msg])} onError={setError} />
                {seen && (
                  <li class="seen muted small" key={`seen-${m.id}`}>
                    Seen by {seen.join(", ")}
                  </li>
                )}
              </>
            );
          })}
          {unsent.map((p) => (
            <li key={p.key} class="msg outbound" data-status={p.error ? "unsent" : "pending"}>
              <div class="bubble">{p.body}</div>
              <div class="meta">
                {p.error ? (
                  <>
                    <span class="status bad">Not sent: {p.error}</span>
                    <button type="button" class="link" onClick={() => post(p)}>
                      Retry
                    </button>
                  </>
                ) : (
                  <span class="status wait">Sending…</span>
                )}
              </div>
            </li>
          ))}
        </ol>
        <p class="typing muted small" aria-live="polite">
          {typingNames.length > 0
            ? `${typingNames.join(", ")} ${typingNames.length > 1 ? "are" : "is"} typing…`
            : others.length > 0
              ? `${others.map((v) => v.name).join(", ")} ${others.length > 1 ? "are" : "is"} viewing`
              : ""}
        </p>
        {error && (
          <p class="error" role="alert">
            {error}{" "}
            <button type="button" class="link" onClick={() => setError(null)}>
              Dismiss
            </button>
          </p>
        )}
        {senderRemoved && (
          <MoveSender
            conversationId={id}
            onMoved={(c) => {
              setSenderRemoved(false);
              setError(null);
              setConv(c);
              props.onConversation(c);
            }}
          />
        )}
        <WindowNotice conv={conv} />
        <Composer
          conversationId={id}
          conv={conv}
          contact={contact ?? null}
          members={members}
          readOnly={props.me.role === "viewer"}
          onNote={async (body) => {
            const note = await api<NoteJson>("POST", `/api/conversations/${id}/notes`, { body });
            setNotes((map) => new Map(map).set(note.id, note));
          }}
          onSend={send}
          onTyping={(active) => socket.current?.send({ type: "typing", active })}
        />
      </section>
      {conv && (
        <ContactPanel
          conv={conv}
          newest={newest}
          onOpen={(conversationId) => {
            history.pushState(null, "", `/c/${conversationId}`);
            dispatchEvent(new PopStateEvent("popstate"));
          }}
          onChanged={(c) => {
            setConv(c);
            props.onConversation(c);
          }}
        />
      )}
    </>
  );
}

function MessageItem(props: { m: Message; onChange: (m: Message) => void; onError: (e: string) => void }) {
  const { m } = props;
  const act = async (path: string) => {
    try {
      props.onChange(await api<Message>("POST", path));
    } catch (err) {
      props.onError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <li class={`msg ${m.direction}`} data-status={m.status} data-id={m.id}>
      <div class="bubble">
        {m.channel === "email" ? <EmailBody m={m} /> : m.body}
        <MediaList media={m.media} />
      </div>
      <div class="meta">
        <time dateTime={m.createdAt}>{time(m.createdAt)}</time>
        {m.sentBy && (
          <span class="by">
            by {m.sentBy.name ?? m.sentBy.type}
            {m.sentBy.type === "api_key" ? " (API)" : ""}
          </span>
        )}
        {m.direction === "outbound" && (
          <span
            class={`status ${statusTone(m.status)}`}
            title={m.errorCode ? `Provider error ${m.errorCode}` : undefined}
          >
            {statusWords(m)}
            {m.errorMessage && ["pending", "failed", "undelivered", "delivery_unknown"].includes(m.status)
              ? `: ${m.errorMessage}`
              : ""}
          </span>
        )}
        {canRetry(m) && (
          <button type="button" class="link" onClick={() => act(`/api/messages/${m.id}/retry`)}>
            Retry
          </button>
        )}
        {m.status === "scheduled" && (
          <button type="button" class="link" onClick={() => act(`/api/messages/${m.id}/cancel`)}>
            Cancel
          </button>
        )}
      </div>
    </li>
  );
}

function Composer(props: {
  conversationId: string;
  conv: Conversation | null;
  contact: Contact | null;
  members: Member[];
  readOnly: boolean;
  onNote: (body: string) => Promise<void>;
  onSend: (body: string, sendAt: string | null, extra?: SendExtra) => void;
  onTyping: (active: boolean) => void;
}) {
  const { conversationId: id, contact } = props;
  const channel = props.conv?.channel ?? "sms";
  const files = useAttachments(
    channel === "email"
      ? { max: MAX_MEDIA, maxTotalBytes: MAX_ATTACHMENT_BYTES, label: "Email" }
      : channel === "whatsapp"
        ? { max: 1, maxTotalBytes: MAX_MEDIA_TOTAL_BYTES, label: "WhatsApp" }
        : { max: MAX_MEDIA, maxTotalBytes: MAX_MEDIA_TOTAL_BYTES, label: "MMS" },
  );
  const [subject, setSubject] = useState("");
  const [waTemplate, setWaTemplate] = useState("");
  const [waVars, setWaVars] = useState<Record<string, string>>({});
  const windowClosed = whatsappWindow(props.conv)?.open === false;
  const maxChars = channel === "email" ? MAX_EMAIL_BODY_CHARS : MAX_BODY_CHARS;
  const [mode, setMode] = useState<"reply" | "note">("reply");
  const [mentionIndex, setMentionIndex] = useState(0);
  const [templateIndex, setTemplateIndex] = useState(0);
  const templates = useTemplates();
  const policy = useSendPolicy(id);
  const [text, setText] = useState(() => localStorage.getItem(draftKey(id)) ?? "");
  const [later, setLater] = useState(false);
  const [when, setWhen] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const lastTyping = useRef(0);
  const ref = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const reload = (e: Event) => {
      if ((e as CustomEvent).detail === id) setText(localStorage.getItem(draftKey(id)) ?? "");
    };
    addEventListener("parley:draft", reload);
    return () => removeEventListener("parley:draft", reload);
  }, [id]);

  const update = (value: string) => {
    setText(value);
    setProblem(null);
    if (value) localStorage.setItem(draftKey(id), value);
    else localStorage.removeItem(draftKey(id));
    if (value && Date.now() - lastTyping.current > 3000) {
      lastTyping.current = Date.now();
      props.onTyping(true);
    }
  };

  const info = analyzeSegments(text);
  const tooLong = text.length > maxChars;
  const optedOut = mode === "reply" && (contact?.optedOut ?? false);

  // @autocomplete in note mode: the word being typed after "@" at the end of the text.
  const mentionQuery = mode === "note" ? (/(^|\s)@([\w.@-]*)$/.exec(text)?.[2] ?? null) : null;
  const suggestions =
    mentionQuery === null
      ? []
      : props.members
          .filter(
            (m) =>
              m.name.toLowerCase().includes(mentionQuery.toLowerCase()) ||
              m.email.toLowerCase().startsWith(mentionQuery.toLowerCase()),
          )
          .slice(0, 6);
  // `/` in reply mode (at the start, or after a space) opens the template picker; typing filters it.
  const templateQuery = mode === "reply" ? (/(^|\s)\/([\w-]*)$/.exec(text)?.[2] ?? null) : null;
  const templateChoices =
    templateQuery === null
      ? []
      : templates
          .filter(
            (t) =>
              t.name.toLowerCase().includes(templateQuery.toLowerCase()) ||
              (t.shortcut ?? "").startsWith(templateQuery.toLowerCase()),
          )
          .slice(0, 8);
  const pickTemplate = async (t: TemplateJson) => {
    setTemplateIndex(0);
    const before = text.replace(/(^|\s)\/([\w-]*)$/, "$1");
    try {
      if (!contact) throw new Error("The contact is still loading.");
      const rendered = await api<{ body: string }>("POST", `/api/templates/${t.id}/preview`, { contactId: contact.id });
      update(`${before}${rendered.body}`);
    } catch (err) {
      update(before);
      setProblem(err instanceof Error ? `Template “${t.name}”: ${err.message}` : String(err));
    }
    ref.current?.focus();
  };

  const pickMention = (m: Member) => {
    update(text.replace(/@([\w.@-]*)$/, `@${m.name} `));
    setMentionIndex(0);
    ref.current?.focus();
  };

  const submitNote = async () => {
    if (!text.trim()) return setProblem("Type a note first.");
    try {
      await props.onNote(text.trim());
      update("");
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    }
  };

  const submit = () => {
    if (mode === "note") {
      submitNote();
      return;
    }
    if (optedOut) return;
    if (windowClosed) {
      const tpl = templates.find((t) => t.id === waTemplate);
      if (!tpl) return setProblem("Pick an approved WhatsApp template: the 24-hour window is closed.");
      props.onSend(renderNumbered(tpl.body, waVars), null, { templateId: tpl.id, variables: waVars });
      setWaVars({});
      return;
    }
    if (files.uploading) return setProblem("Wait for the files to finish uploading.");
    if (!text.trim() && files.files.length === 0) return setProblem("Type a message first.");
    if (tooLong) return setProblem(`Messages are limited to ${maxChars.toLocaleString("en-US")} characters.`);
    let sendAt: string | null = null;
    if (later) {
      const at = new Date(when);
      if (!when || Number.isNaN(at.getTime())) return setProblem("Pick when to send it.");
      if (at.getTime() < Date.now() + 60_000) return setProblem("Schedule at least a minute ahead.");
      if (at.getTime() > Date.now() + 35 * 86_400_000) return setProblem("Schedule at most 35 days ahead.");
      sendAt = at.toISOString();
    }
    const extra: SendExtra = {};
    if (files.files.length > 0) extra.attachmentIds = files.files.map((f) => f.id);
    if (channel === "email" && subject.trim()) extra.subject = subject.trim();
    props.onSend(text, sendAt, Object.keys(extra).length > 0 ? extra : undefined);
    files.clear();
    setSubject("");
    lastTyping.current = 0;
    props.onTyping(false);
    update("");
    setLater(false);
    ref.current?.focus();
  };

  if (props.readOnly) {
    return (
      <p class="notice composer" role="status">
        You have read-only access (viewer): you can follow this conversation but not reply or add notes.
      </p>
    );
  }

  return (
    <form
      class={`composer ${mode === "note" ? "note-mode" : ""}`}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <fieldset class="segmented small">
        <legend class="sr-only">Compose</legend>
        <button type="button" aria-pressed={mode === "reply"} onClick={() => setMode("reply")}>
          Reply
        </button>
        <button type="button" aria-pressed={mode === "note"} onClick={() => setMode("note")}>
          Internal note
        </button>
      </fieldset>
      {mode === "reply" && policy && policy.action !== "send" && !optedOut && (
        <p class="notice" role="status" data-testid="quiet-hours-warning">
          Quiet hours for this contact ({policy.zone}
          {policy.zoneSource === "workspace" ? ", the workspace's zone" : ""}) until{" "}
          {policy.until
            ? new Date(policy.until).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })
            : "later"}
          :{" "}
          {policy.action === "defer"
            ? "what you send now waits until then (you can cancel it)."
            : "sending is refused until then."}
        </p>
      )}
      {optedOut ? (
        <p class="notice" role="status">
          {contact ? contactName(contact) : "This contact"} opted out (replied STOP). You can't text them until they
          text START.
        </p>
      ) : null}
      {mode === "reply" && channel === "email" && (
        <label class="subject">
          Subject
          <input
            value={subject}
            placeholder="Re: (the thread's subject)"
            onInput={(e) => setSubject((e.target as HTMLInputElement).value)}
          />
        </label>
      )}
      {mode === "reply" && windowClosed && (
        <fieldset class="wa-templates" data-testid="whatsapp-templates">
          <legend>Approved WhatsApp templates</legend>
          {templates.filter((t) => t.contentSid).length === 0 ? (
            <p class="muted small">
              No approved templates yet: an admin adds one in Settings → Templates with its Twilio Content SID.
            </p>
          ) : (
            <>
              <label>
                Template
                <select value={waTemplate} onChange={(e) => setWaTemplate((e.target as HTMLSelectElement).value)}>
                  <option value="">Pick a template…</option>
                  {templates
                    .filter((t) => t.contentSid)
                    .map((t) => (
                      <option key={t.id} value={t.id}>
                        {t.name}
                      </option>
                    ))}
                </select>
              </label>
              {numberedVars(templates.find((t) => t.id === waTemplate)?.body ?? "").map((n) => (
                <label key={n}>
                  {`{{${n}}}`}
                  <input
                    value={waVars[n] ?? ""}
                    onInput={(e) => setWaVars({ ...waVars, [n]: (e.target as HTMLInputElement).value })}
                  />
                </label>
              ))}
              {waTemplate && (
                <p class="muted small template-preview">
                  {renderNumbered(templates.find((t) => t.id === waTemplate)?.body ?? "", waVars)}
                </p>
              )}
            </>
          )}
        </fieldset>
      )}
      <label class="sr-only" for="composer-text">
        {mode === "note" ? "Internal note" : "Message"}
      </label>
      <textarea
        id="composer-text"
        ref={ref}
        rows={3}
        value={text}
        disabled={optedOut || (mode === "reply" && windowClosed)}
        placeholder={
          mode === "note"
            ? "Write a note for your team (the customer never sees it). @name mentions a teammate."
            : optedOut
              ? "Sending is disabled: the contact opted out."
              : windowClosed
                ? "The 24-hour window is closed: send an approved template above."
                : "Write a message. Enter sends, Shift+Enter adds a line, / picks a template."
        }
        onInput={(e) => update((e.target as HTMLTextAreaElement).value)}
        onBlur={() => props.onTyping(false)}
        onKeyDown={(e) => {
          if (templateChoices.length > 0) {
            if (e.key === "ArrowDown" || e.key === "ArrowUp") {
              e.preventDefault();
              const step = e.key === "ArrowDown" ? 1 : -1;
              setTemplateIndex((i) => (i + step + templateChoices.length) % templateChoices.length);
              return;
            }
            if (e.key === "Enter" || e.key === "Tab") {
              e.preventDefault();
              const pick = templateChoices[Math.min(templateIndex, templateChoices.length - 1)];
              if (pick) pickTemplate(pick);
              return;
            }
            if (e.key === "Escape") {
              e.preventDefault();
              update(text.replace(/\/([\w-]*)$/, ""));
              return;
            }
          }
          if (suggestions.length > 0) {
            if (e.key === "ArrowDown" || e.key === "ArrowUp") {
              e.preventDefault();
              const step = e.key === "ArrowDown" ? 1 : -1;
              setMentionIndex((i) => (i + step + suggestions.length) % suggestions.length);
              return;
            }
            if (e.key === "Enter" || e.key === "Tab") {
              e.preventDefault();
              const pick = suggestions[Math.min(mentionIndex, suggestions.length - 1)];
              if (pick) pickMention(pick);
              return;
            }
          }
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
        aria-describedby="composer-counter composer-problem"
      />
      {templateChoices.length > 0 && (
        <ul class="mentions templates" aria-label="Templates (arrows to move, Enter or Tab to insert, Escape to close)">
          {templateChoices.map((t, i) => (
            <li key={t.id} class={i === templateIndex ? "active" : ""}>
              <button
                type="button"
                aria-current={i === templateIndex ? "true" : undefined}
                onMouseDown={(e) => {
                  e.preventDefault();
                  pickTemplate(t);
                }}
              >
                <strong>{t.name}</strong>
                {t.shortcut && <span class="muted small"> /{t.shortcut}</span>}
                <span class="muted small template-body"> {t.body}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {mode === "reply" && templateQuery !== null && templateChoices.length === 0 && (
        <p class="muted small">
          {templates.length === 0 ? "No templates yet (admins add them in Settings)." : "No template matches."}
        </p>
      )}
      {suggestions.length > 0 && (
        <ul id="mention-list" class="mentions" aria-label="Mention a teammate (arrows to move, Enter or Tab to pick)">
          {suggestions.map((m, i) => (
            <li key={m.userId} class={i === mentionIndex ? "active" : ""}>
              <button
                type="button"
                aria-current={i === mentionIndex ? "true" : undefined}
                onMouseDown={(e) => {
                  e.preventDefault();
                  pickMention(m);
                }}
              >
                {m.name} <span class="muted small">{m.email}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {mode === "reply" && <AttachmentChips files={files.files} uploading={files.uploading} onRemove={files.remove} />}
      {mode === "reply" && files.problem && <p class="error small">{files.problem}</p>}
      <div class="composer-bar">
        {mode === "reply" && !windowClosed && channel !== "whatsapp" ? (
          <label class="attach small">
            <input
              type="file"
              multiple
              class="sr-only"
              aria-label="Attach files"
              onChange={(e) => {
                const input = e.target as HTMLInputElement;
                files.add(input.files).finally(() => {
                  input.value = "";
                });
              }}
            />
            <span aria-hidden="true">Attach</span>
          </label>
        ) : null}
        {mode === "reply" && channel === "whatsapp" && !windowClosed ? (
          <label class="attach small">
            <input
              type="file"
              class="sr-only"
              aria-label="Attach a file"
              onChange={(e) => {
                const input = e.target as HTMLInputElement;
                files.add(input.files).finally(() => {
                  input.value = "";
                });
              }}
            />
            <span aria-hidden="true">Attach</span>
          </label>
        ) : null}
        <span id="composer-counter" class={`small ${tooLong ? "error" : "muted"}`} aria-live="polite">
          {text.length} / {maxChars} characters
          {channel === "sms" && ` · ${info.segments} segment${info.segments === 1 ? "" : "s"} · ${info.encoding}`}
          {channel === "sms" && info.encoding === "UCS-2" && text.length > 0 && (
            <span class="warn">
              {" "}
              ·{" "}
              {info.nonGsmCharacters
                .slice(0, 3)
                .map((c) => `“${c}”`)
                .join(" ")}{" "}
              forces UCS-2 (70 characters per segment)
            </span>
          )}
        </span>
        <label class="small">
          <input
            type="checkbox"
            checked={later}
            disabled={optedOut}
            onChange={(e) => setLater((e.target as HTMLInputElement).checked)}
          />{" "}
          Send later
        </label>
        {later && (
          <label class="small">
            <span class="sr-only">Send at</span>
            <input type="datetime-local" value={when} onInput={(e) => setWhen((e.target as HTMLInputElement).value)} />
          </label>
        )}
        <button type="submit" class="primary" disabled={optedOut}>
          {mode === "note" ? "Add note" : later ? "Schedule" : "Send"}
        </button>
      </div>
      <p id="composer-problem" class="error small" role="alert">
        {problem}
      </p>
    </form>
  );
}

function ContactPanel(props: {
  conv: Conversation;
  newest: number;
  onChanged: (c: Conversation) => void;
  onOpen: (conversationId: string) => void;
}) {
  const { conv } = props;
  const inboxes = useInboxes();
  const threads = useContactThreads(conv.contact.id, `${conv.id}:${props.newest}`);
  const lastUsed = lastUsedThread(threads);
  const [name, setName] = useState(conv.contact.name ?? "");
  const [email, setEmail] = useState(conv.contact.email ?? "");
  const [timezone, setTimezone] = useState(conv.contact.timezone ?? "");
  const [fields, setFields] = useState<[string, string][]>(Object.entries(conv.contact.fields ?? {}));
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    setName(conv.contact.name ?? "");
    setEmail(conv.contact.email ?? "");
    setTimezone(conv.contact.timezone ?? "");
    setFields(Object.entries(conv.contact.fields ?? {}));
  }, [conv.contact.id]);
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const contact = await api<Contact>("PATCH", `/api/contacts/${conv.contact.id}`, {
        name: name.trim() || null,
        email: email.trim() || null,
        timezone: timezone.trim() || null,
        fields: Object.fromEntries(fields.filter(([k]) => k.trim()).map(([k, v]) => [k.trim(), v])),
      });
      props.onChanged({ ...conv, contact });
      setSaved("Saved.");
    } catch (err) {
      setSaved(
        err instanceof ApiError
          ? err.fieldMessage("email")
            ? `Email: ${err.fieldMessage("email")}`
            : err.fieldMessage("timezone")
              ? `Time zone: ${err.fieldMessage("timezone")}`
              : err.fieldMessage("fields")
                ? `Fields: ${err.fieldMessage("fields")}`
                : err.message
          : String(err),
      );
    }
  };
  const toggle = async () => {
    props.onChanged(
      await api<Conversation>("PATCH", `/api/conversations/${conv.id}`, {
        status: conv.status === "resolved" ? "open" : "resolved",
      }),
    );
  };
  return (
    <aside class="contact" aria-label="Contact">
      <h2>Contact</h2>
      <form onSubmit={save}>
        <label>
          Name
          <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Email
          <input type="email" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Time zone
          <input
            value={timezone}
            placeholder="e.g. America/Chicago"
            list="zones"
            onInput={(e) => setTimezone((e.target as HTMLInputElement).value)}
          />
        </label>
        <datalist id="zones">
          {ZONES.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        <fieldset class="fields">
          <legend>Custom fields</legend>
          {fields.map(([k, v], i) => (
            <div class="row" key={i}>
              <label>
                <span class="sr-only">Field name {i + 1}</span>
                <input
                  value={k}
                  placeholder="name"
                  onInput={(e) =>
                    setFields(fields.map((f, j) => (j === i ? [(e.target as HTMLInputElement).value, f[1]] : f)))
                  }
                />
              </label>
              <label>
                <span class="sr-only">Value of {k || `field ${i + 1}`}</span>
                <input
                  value={v}
                  placeholder="value"
                  onInput={(e) =>
                    setFields(fields.map((f, j) => (j === i ? [f[0], (e.target as HTMLInputElement).value] : f)))
                  }
                />
              </label>
              <button
                type="button"
                class="link danger"
                aria-label={`Remove field ${k}`}
                onClick={() => setFields(fields.filter((_, j) => j !== i))}
              >
                ×
              </button>
            </div>
          ))}
          <button type="button" class="link" onClick={() => setFields([...fields, ["", ""]])}>
            Add field
          </button>
        </fieldset>
        <p class="small">
          Phone <strong>{conv.contact.phone || "—"}</strong>
        </p>
        <p class="small" data-testid="consent">
          Consent:{" "}
          {conv.contact.optedOut ? (
            <strong class="bad">Opted out (replied STOP)</strong>
          ) : (
            <strong class="ok">Subscribed</strong>
          )}
        </p>
        <button type="submit">Save contact</button>
        <p class="small muted" role="status">
          {saved}
        </p>
      </form>
      <button type="button" onClick={toggle}>
        {conv.status === "resolved" ? "Reopen conversation" : "Resolve conversation"}
      </button>
      <h3>Channels</h3>
      {lastUsed && lastUsed.id !== conv.id && (
        <p class="notice small" role="status" data-testid="last-used-channel">
          {contactName(conv.contact)} last wrote on{" "}
          {lastUsed.channel === "whatsapp" ? "WhatsApp" : lastUsed.channel === "email" ? "email" : "SMS"}.{" "}
          <button type="button" class="link" onClick={() => props.onOpen(lastUsed.id)}>
            Reply there
          </button>
        </p>
      )}
      <ul class="plain contact-threads" aria-label="This contact's conversations">
        {threads.map((t) => (
          <li key={t.id} aria-current={t.id === conv.id ? "true" : undefined}>
            <ChannelBadge channel={t.channel as "sms" | "whatsapp" | "email"} />{" "}
            {t.id === conv.id ? (
              <strong>{t.from}</strong>
            ) : (
              <button type="button" class="link" onClick={() => props.onOpen(t.id)}>
                {t.from}
              </button>
            )}{" "}
            <span class="muted small">{t.status}</span>
          </li>
        ))}
      </ul>
      <ReplyElsewhere conv={conv} inboxes={inboxes} onOpened={props.onOpen} />
    </aside>
  );
}

/** The thread's sender number was removed: pick another of the workspace's numbers to send from. */
function MoveSender(props: { conversationId: string; onMoved: (c: Conversation) => void }) {
  const [numbers, setNumbers] = useState<{ phoneNumber: string; label: string | null }[]>([]);
  const [choice, setChoice] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    api<Page<{ phoneNumber: string; label: string | null }>>("GET", "/api/numbers")
      .then((page) => {
        setNumbers(page.items);
        setChoice(page.items[0]?.phoneNumber ?? "");
      })
      .catch((err: unknown) => setProblem(err instanceof Error ? err.message : String(err)));
  }, []);
  const move = async (e: Event) => {
    e.preventDefault();
    try {
      props.onMoved(await api<Conversation>("PATCH", `/api/conversations/${props.conversationId}`, { from: choice }));
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    }
  };
  if (numbers.length === 0 && !problem)
    return <p class="notice small">This workspace has no sender number left; add one in Settings.</p>;
  return (
    <form class="notice row wrap" onSubmit={move}>
      <label>
        Send from
        <select value={choice} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
          {numbers.map((n) => (
            <option key={n.phoneNumber} value={n.phoneNumber}>
              {n.phoneNumber}
              {n.label ? ` (${n.label})` : ""}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="primary">
        Move conversation
      </button>
      {problem && <span class="error small">{problem}</span>}
    </form>
  );
}

function NoteItem(props: { note: NoteJson }) {
  const { note } = props;
  return (
    <li class="note" data-id={note.id}>
      <div class="note-body">
        <span class="note-tag">Internal note</span> {highlightMentions(note.body)}
      </div>
      <div class="meta">
        <time dateTime={note.createdAt}>{time(note.createdAt)}</time>{" "}
        <span class="by">by {note.author?.name ?? "someone"}</span>
      </div>
    </li>
  );
}

function highlightMentions(body: string) {
  return body.split(/(@[\w.-]+(?: [A-Z][\w-]*)?)/).map((part, i) =>
    part.startsWith("@") ? (
      <strong key={i} class="mention">
        {part}
      </strong>
    ) : (
      part
    ),
  );
}

/** Assignee, status (with snooze) and labels of the open conversation. */
function Workflow(props: {
  conv: Conversation;
  me: Me;
  members: Member[];
  onChanged: (c: Conversation) => void;
  onError: (e: string) => void;
}) {
  const { conv } = props;
  const [labels, reloadLabels] = useLabels();
  const [snoozing, setSnoozing] = useState(false);
  const [until, setUntil] = useState("");
  const readOnly = props.me.role === "viewer";
  const patch = async (body: Record<string, unknown>) => {
    try {
      props.onChanged(await api<Conversation>("PATCH", `/api/conversations/${conv.id}`, body));
      return true;
    } catch (err) {
      props.onError(err instanceof Error ? err.message : String(err));
      return false;
    }
  };
  const tomorrowNine = () => {
    const d = new Date();
    d.setDate(d.getDate() + 1);
    d.setHours(9, 0, 0, 0);
    return d.toISOString();
  };
  return (
    <div class="workflow">
      <label>
        <span class="sr-only">Assignee</span>
        <select
          name="assignee"
          disabled={readOnly}
          value={conv.assignee?.id ?? ""}
          onChange={(e) => patch({ assignee: (e.target as HTMLSelectElement).value || null })}
        >
          <option value="">Unassigned</option>
          {props.members
            .filter((m) => m.role !== "viewer")
            .map((m) => (
              <option key={m.userId} value={m.userId}>
                {m.userId === props.me.user?.id ? `${m.name} (me)` : m.name}
              </option>
            ))}
        </select>
      </label>
      <label>
        <span class="sr-only">Status</span>
        <select
          name="conversation-status"
          disabled={readOnly}
          value={snoozing ? "snoozed" : conv.status}
          onChange={(e) => {
            const status = (e.target as HTMLSelectElement).value;
            if (status === "snoozed") setSnoozing(true);
            else {
              setSnoozing(false);
              patch({ status });
            }
          }}
        >
          <option value="open">Open</option>
          <option value="pending">Pending</option>
          <option value="snoozed">Snoozed</option>
          <option value="resolved">Resolved</option>
        </select>
      </label>
      {conv.status === "snoozed" && conv.snoozedUntil && !snoozing && (
        <span class="muted small">until {new Date(conv.snoozedUntil).toLocaleString()}</span>
      )}
      {snoozing && (
        <span class="row">
          <button
            type="button"
            onClick={async () => {
              if (await patch({ status: "snoozed", snoozedUntil: tomorrowNine() })) setSnoozing(false);
            }}
          >
            Tomorrow 9:00
          </button>
          <label>
            <span class="sr-only">Snooze until</span>
            <input
              type="datetime-local"
              value={until}
              onInput={(e) => setUntil((e.target as HTMLInputElement).value)}
            />
          </label>
          <button
            type="button"
            class="primary"
            disabled={!until}
            onClick={async () => {
              if (await patch({ status: "snoozed", snoozedUntil: new Date(until).toISOString() })) setSnoozing(false);
            }}
          >
            Snooze
          </button>
          <button type="button" class="link" onClick={() => setSnoozing(false)}>
            Cancel
          </button>
        </span>
      )}
      <details class="label-picker" onToggle={(e) => (e.target as HTMLDetailsElement).open && reloadLabels()}>
        <summary>
          Labels{" "}
          {conv.labels.map((l) => (
            <LabelChip key={l.id} label={l} />
          ))}
        </summary>
        <fieldset disabled={readOnly}>
          <legend class="sr-only">Labels</legend>
          {labels.map((l) => (
            <label key={l.id} class="check">
              <input
                type="checkbox"
                checked={conv.labels.some((x) => x.id === l.id)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  const ids = conv.labels.map((x) => x.id).filter((x) => x !== l.id);
                  patch({ labels: on ? [...ids, l.id] : ids });
                }}
              />{" "}
              <LabelChip label={l} />
            </label>
          ))}
          {labels.length === 0 && <p class="muted small">No labels yet: add them in Settings.</p>}
        </fieldset>
      </details>
    </div>
  );
}

/** Zones offered in the contact panel (any IANA name is accepted). */
const ZONES: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  } catch {
    return [];
  }
})();

interface TemplateJson {
  id: string;
  name: string;
  body: string;
  shortcut: string | null;
  contentSid?: string | null;
}

/** The numbered placeholders ({{1}}, {{2}}…) of a WhatsApp template, in order. */
function numberedVars(body: string): string[] {
  return [...new Set([...body.matchAll(/\{\{(\d+)\}\}/g)].map((m) => m[1] ?? ""))].sort(
    (a, b) => Number(a) - Number(b),
  );
}

function renderNumbered(body: string, vars: Record<string, string>): string {
  return body.replace(/\{\{(\d+)\}\}/g, (_, n: string) => vars[n] ?? `{{${n}}}`);
}

let templatesCache: Promise<TemplateJson[]> | null = null;
function useTemplates(): TemplateJson[] {
  const [items, setItems] = useState<TemplateJson[]>([]);
  useEffect(() => {
    templatesCache ??= api<{ items: TemplateJson[] }>("GET", "/api/templates").then((r) => r.items);
    templatesCache.then(setItems, () => {
      templatesCache = null;
    });
  }, []);
  return items;
}

interface QuietPolicy {
  active: boolean;
  action: "send" | "defer" | "refuse";
  exempt: boolean;
  until: string | null;
  zone: string;
  zoneSource: "contact" | "number" | "workspace";
}

/** Whether a send now meets quiet hours (checked on open and every minute). */
function useSendPolicy(conversationId: string): QuietPolicy | null {
  const [policy, setPolicy] = useState<QuietPolicy | null>(null);
  useEffect(() => {
    let stop = false;
    const load = () =>
      api<{ quietHours: QuietPolicy }>("GET", `/api/conversations/${conversationId}/send-policy`).then(
        (p) => !stop && setPolicy(p.quietHours),
        () => undefined,
      );
    load();
    const t = setInterval(load, 60_000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [conversationId]);
  return policy;
}
