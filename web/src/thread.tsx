/**
 * One conversation: its messages (live from the room, resumed from the last seq after a reconnect),
 * the composer (optimistic sends reconciled through Idempotency-Key, drafts kept across reloads) and
 * the contact panel.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type ServerFrame, ServerFrameSchema } from "../../src/shared/frames";
import { MAX_BODY_CHARS } from "../../src/shared/limits";
import { analyzeSegments } from "../../src/shared/segments";
import { isForward } from "../../src/shared/status";
import { ApiError, api } from "./api";
import { canRetry, contactName, dayLabel, statusTone, statusWords, time } from "./format";
import { LiveSocket, type LiveState } from "./live";
import type { Contact, Conversation, Me, Message, Page, PendingSend } from "./types";

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
  const lastSeq = useRef(0);
  const socket = useRef<LiveSocket<ServerFrame> | null>(null);
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
        if (!had || isForward(had.status, m.status) || had.body !== m.body) next.set(m.id, m);
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
      setError(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setNotFound(true);
      else setError(err instanceof Error ? err.message : String(err));
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
          p.sendAt ? { body: p.body, sendAt: p.sendAt } : { body: p.body },
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

  useEffect(() => {
    refreshConversation();
    loadLatest();
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
  const unsent = pending.filter((p) => !p.id || !byId.has(p.id));

  // Keep the newest in view, and tell the room what this agent has read.
  const newest = messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    listRef.current?.scrollTo({ top: listRef.current.scrollHeight });
    if (newest > 0 && document.visibilityState === "visible" && props.me.user) {
      const t = setTimeout(() => socket.current?.send({ type: "read", seq: lastSeq.current }), 300);
      return () => clearTimeout(t);
    }
  }, [newest, unsent.length]);

  const loadOlder = async () => {
    if (!older) return;
    const page = await api<Page<Message>>("GET", `/api/conversations/${id}/messages?before=${older}&limit=50`);
    upsert(page.items);
    setOlder(page.nextCursor);
  };

  const send = (body: string, sendAt: string | null) => {
    const p: PendingSend = {
      key: crypto.randomUUID(),
      conversationId: id,
      body,
      sendAt,
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
            <h2>{contact ? contactName(contact) : "…"}</h2>
            <span class="muted small">
              {contact?.phone} · from {conv?.from}
            </span>
          </div>
        </header>
        <ol class="messages" ref={listRef} aria-live="polite" aria-relevant="additions">
          {older && (
            <li class="center">
              <button type="button" class="link" onClick={loadOlder}>
                Load earlier messages
              </button>
            </li>
          )}
          {messages.map((m) => {
            const day = dayLabel(m.createdAt);
            const separator = day !== lastDay;
            lastDay = day;
            return (
              <>
                {separator && (
                  <li class="day" key={`day-${m.id}`}>
                    <span>{day}</span>
                  </li>
                )}
                <MessageItem key={m.id} m={m} onChange={(msg) => upsert([msg])} onError={setError} />
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
          {typingNames.length > 0 ? `${typingNames.join(", ")} ${typingNames.length > 1 ? "are" : "is"} typing…` : ""}
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
        <Composer
          conversationId={id}
          contact={contact ?? null}
          onSend={send}
          onTyping={(active) => socket.current?.send({ type: "typing", active })}
        />
      </section>
      {conv && (
        <ContactPanel
          conv={conv}
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
        {m.body}
        {m.media.map((media) => (
          <a class="media" href={media.url} target="_blank" rel="noreferrer noopener" key={media.url}>
            Attachment
          </a>
        ))}
      </div>
      <div class="meta">
        <time dateTime={m.createdAt}>{time(m.createdAt)}</time>
        {m.direction === "outbound" && (
          <span
            class={`status ${statusTone(m.status)}`}
            title={m.errorCode ? `Twilio error ${m.errorCode}` : undefined}
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
  contact: Contact | null;
  onSend: (body: string, sendAt: string | null) => void;
  onTyping: (active: boolean) => void;
}) {
  const { conversationId: id, contact } = props;
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
  const tooLong = text.length > MAX_BODY_CHARS;
  const optedOut = contact?.optedOut ?? false;

  const submit = () => {
    if (optedOut) return;
    if (!text.trim()) return setProblem("Type a message first.");
    if (tooLong) return setProblem(`Messages are limited to ${MAX_BODY_CHARS.toLocaleString("en-US")} characters.`);
    let sendAt: string | null = null;
    if (later) {
      const at = new Date(when);
      if (!when || Number.isNaN(at.getTime())) return setProblem("Pick when to send it.");
      if (at.getTime() < Date.now() + 60_000) return setProblem("Schedule at least a minute ahead.");
      if (at.getTime() > Date.now() + 35 * 86_400_000) return setProblem("Schedule at most 35 days ahead.");
      sendAt = at.toISOString();
    }
    props.onSend(text, sendAt);
    lastTyping.current = 0;
    props.onTyping(false);
    update("");
    setLater(false);
    ref.current?.focus();
  };

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {optedOut ? (
        <p class="notice" role="status">
          {contact ? contactName(contact) : "This contact"} opted out (replied STOP). You can't text them until they
          text START.
        </p>
      ) : null}
      <label class="sr-only" for="composer-text">
        Message
      </label>
      <textarea
        id="composer-text"
        ref={ref}
        rows={3}
        value={text}
        disabled={optedOut}
        placeholder={
          optedOut
            ? "Sending is disabled: the contact opted out."
            : "Write a message. Enter sends, Shift+Enter adds a line."
        }
        onInput={(e) => update((e.target as HTMLTextAreaElement).value)}
        onBlur={() => props.onTyping(false)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
        aria-describedby="composer-counter composer-problem"
      />
      <div class="composer-bar">
        <span id="composer-counter" class={`small ${tooLong ? "error" : "muted"}`} aria-live="polite">
          {text.length} / {MAX_BODY_CHARS} characters · {info.segments} segment{info.segments === 1 ? "" : "s"} ·{" "}
          {info.encoding}
          {info.encoding === "UCS-2" && text.length > 0 && (
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
          {later ? "Schedule" : "Send"}
        </button>
      </div>
      <p id="composer-problem" class="error small" role="alert">
        {problem}
      </p>
    </form>
  );
}

function ContactPanel(props: { conv: Conversation; onChanged: (c: Conversation) => void }) {
  const { conv } = props;
  const [name, setName] = useState(conv.contact.name ?? "");
  const [email, setEmail] = useState(conv.contact.email ?? "");
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    setName(conv.contact.name ?? "");
    setEmail(conv.contact.email ?? "");
  }, [conv.contact.id]);
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const contact = await api<Contact>("PATCH", `/api/contacts/${conv.contact.id}`, {
        name: name.trim() || null,
        email: email.trim() || null,
      });
      props.onChanged({ ...conv, contact });
      setSaved("Saved.");
    } catch (err) {
      setSaved(
        err instanceof ApiError
          ? err.fieldMessage("email")
            ? `Email: ${err.fieldMessage("email")}`
            : err.message
          : String(err),
      );
    }
  };
  const toggle = async () => {
    props.onChanged(
      await api<Conversation>("PATCH", `/api/conversations/${conv.id}`, {
        status: conv.status === "open" ? "closed" : "open",
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
        <p class="small">
          Phone <strong>{conv.contact.phone}</strong>
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
        {conv.status === "open" ? "Close conversation" : "Reopen conversation"}
      </button>
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
