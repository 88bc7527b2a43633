/**
 * Parley's inbox in the browser (Preact). Routes: /signin, /signup, / (inbox), /c/:id (a thread),
 * /settings. The conversation list follows /api/ws; an open thread follows its room.
 */
import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { InboxFrameSchema } from "../../src/shared/frames";
import { ApiError, api, onUnauthorized } from "./api";
import { contactName, shortWhen } from "./format";
import { LiveSocket, type LiveState } from "./live";
import { Settings } from "./settings";
import { clearLocalData, Thread } from "./thread";
import type { Conversation, Me, Page } from "./types";
import "./styles.css";

function usePath(): [string, (to: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const go = useCallback((to: string) => {
    if (to !== location.pathname) history.pushState(null, "", to);
    setPath(to);
  }, []);
  return [path, go];
}

function App() {
  const [path, go] = usePath();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);

  const loadMe = useCallback(async () => {
    try {
      setMe(await api<Me>("GET", "/api/me"));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setMe(null);
      else setNotice(err instanceof Error ? err.message : String(err));
    }
  }, []);
  useEffect(() => {
    loadMe();
    return onUnauthorized(() => {
      setMe(null);
      setNotice("Your session has ended. Sign in again; your drafts are kept.");
    });
  }, [loadMe]);

  if (me === undefined) {
    return notice ? (
      <p class="center error" role="alert">
        {notice}
      </p>
    ) : (
      <p class="center muted">Loading…</p>
    );
  }
  if (me === null) {
    return (
      <AuthScreen
        mode={path === "/signup" ? "signup" : "signin"}
        notice={notice}
        onSwitch={(mode) => go(mode === "signup" ? "/signup" : "/signin")}
        onDone={async () => {
          setNotice(null);
          await loadMe();
          go("/");
        }}
      />
    );
  }
  return <Inbox me={me} path={path} go={go} onSignedOut={() => setMe(null)} onMeChanged={loadMe} />;
}

function AuthScreen(props: {
  mode: "signin" | "signup";
  notice: string | null;
  onSwitch: (m: "signin" | "signup") => void;
  onDone: () => void;
}) {
  const { mode } = props;
  const [form, setForm] = useState({ email: "", password: "", name: "", workspaceName: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "signup") await api("POST", "/api/auth/signup", form);
      else await api("POST", "/api/auth/login", { email: form.email, password: form.password });
      props.onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "unknown", String(err)));
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (f: string) => error?.fieldMessage(f);
  return (
    <main class="auth">
      <form class="card" onSubmit={submit} aria-labelledby="auth-title" noValidate>
        <h1 id="auth-title">{mode === "signup" ? "Create your Parley inbox" : "Sign in to Parley"}</h1>
        {props.notice && (
          <p class="notice" role="status">
            {props.notice}
          </p>
        )}
        {mode === "signup" && (
          <>
            <label>
              Your name
              <input
                name="name"
                autocomplete="name"
                value={form.name}
                onInput={set("name")}
                required
                aria-invalid={!!fieldError("name")}
              />
              {fieldError("name") && <span class="field-error">{fieldError("name")}</span>}
            </label>
            <label>
              Team or business name
              <input name="workspaceName" value={form.workspaceName} onInput={set("workspaceName")} required />
              {fieldError("workspaceName") && <span class="field-error">{fieldError("workspaceName")}</span>}
            </label>
          </>
        )}
        <label>
          Email
          <input
            name="email"
            type="email"
            autocomplete="email"
            value={form.email}
            onInput={set("email")}
            required
            aria-invalid={!!fieldError("email")}
          />
          {fieldError("email") && <span class="field-error">{fieldError("email")}</span>}
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete={mode === "signup" ? "new-password" : "current-password"}
            value={form.password}
            onInput={set("password")}
            required
            minLength={mode === "signup" ? 10 : 1}
            aria-invalid={!!fieldError("password")}
          />
          {fieldError("password") && <span class="field-error">{fieldError("password")}</span>}
        </label>
        {error && !error.details && (
          <p class="error" role="alert">
            {error.message}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {busy ? "One moment…" : mode === "signup" ? "Create account" : "Sign in"}
        </button>
        <p class="muted">
          {mode === "signup" ? "Already have an account? " : "New to Parley? "}
          <a
            href={mode === "signup" ? "/signin" : "/signup"}
            onClick={(e) => {
              e.preventDefault();
              props.onSwitch(mode === "signup" ? "signin" : "signup");
            }}
          >
            {mode === "signup" ? "Sign in" : "Create an account"}
          </a>
        </p>
      </form>
    </main>
  );
}

function Inbox(props: {
  me: Me;
  path: string;
  go: (to: string) => void;
  onSignedOut: () => void;
  onMeChanged: () => void;
}) {
  const { me, path, go } = props;
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [filter, setFilter] = useState<"open" | "closed">("open");
  const [query, setQuery] = useState("");
  const [loadError, setLoadError] = useState<string | null>(null);
  const [live, setLive] = useState<LiveState>("connecting");
  const [roomLive, setRoomLive] = useState<LiveState>("open");
  const [dialog, setDialog] = useState(false);
  const selected = path.startsWith("/c/") ? path.slice(3) : null;

  // Frames that arrive while a page is loading are newer than the page: each load collects them and
  // re-applies them over its page (loads may overlap: a socket open can start one beside the first).
  const loadsInFlight = useRef(new Set<Map<string, Conversation>>());
  const load = useCallback(async () => {
    const newer = new Map<string, Conversation>();
    loadsInFlight.current.add(newer);
    try {
      const params = new URLSearchParams({ status: filter, limit: "50" });
      if (query.trim()) params.set("q", query.trim());
      const page = await api<Page<Conversation>>("GET", `/api/conversations?${params}`);
      setConversations(
        [...page.items.filter((c) => !newer.has(c.id)), ...newer.values()].sort((a, b) =>
          (b.lastMessageAt ?? "").localeCompare(a.lastMessageAt ?? ""),
        ),
      );
      setCursor(page.nextCursor);
      setLoadError(null);
    } catch (err) {
      setLoadError(err instanceof Error ? err.message : String(err));
    } finally {
      loadsInFlight.current.delete(newer);
    }
  }, [filter, query]);

  useEffect(() => {
    const t = setTimeout(load, query ? 200 : 0);
    return () => clearTimeout(t);
  }, [load, query]);

  // The inbox stream: every change to a conversation arrives as a frame; every open refetches the list.
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const socket = new LiveSocket(
      "/api/ws",
      InboxFrameSchema,
      (frame) => {
        if (frame.type !== "conversation") return;
        const conv: Conversation = frame.conversation;
        for (const newer of loadsInFlight.current) newer.set(conv.id, conv);
        setConversations((list) => {
          const rest = list.filter((c) => c.id !== conv.id);
          return [conv, ...rest].sort((a, b) => (b.lastMessageAt ?? "").localeCompare(a.lastMessageAt ?? ""));
        });
      },
      (state) => {
        setLive(state);
        // Every open (the first too) reads the list again: a change made between the first page's
        // read and this socket's start was never sent to it.
        if (state === "open") loadRef.current();
      },
    );
    socket.start();
    return () => socket.stop();
  }, []);

  const visible = useMemo(
    () => conversations.filter((c) => c.status === filter && (!query.trim() || matches(c, query.trim()))),
    [conversations, filter, query],
  );
  const current = conversations.find((c) => c.id === selected) ?? null;
  const reconnecting = live === "reconnecting" || roomLive === "reconnecting";

  const signOut = async () => {
    clearLocalData();
    await api("POST", "/api/auth/logout").catch(() => undefined);
    props.onSignedOut();
    go("/signin");
  };

  return (
    <div class={`shell ${selected ? "has-thread" : ""}`}>
      {reconnecting && (
        <div class="banner" role="status" aria-live="polite">
          Reconnecting… messages you send are kept and go out when Parley is back.
        </div>
      )}
      <header class="topbar">
        <a
          class="brand"
          href="/"
          onClick={(e) => {
            e.preventDefault();
            go("/");
          }}
        >
          <span class="logo" aria-hidden="true" /> Parley <span class="muted">· {me.workspace.name}</span>
        </a>
        <nav aria-label="Account">
          <a
            href="/settings"
            onClick={(e) => {
              e.preventDefault();
              go("/settings");
            }}
          >
            Settings
          </a>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </nav>
      </header>
      {path === "/settings" ? (
        <Settings me={me} onChanged={props.onMeChanged} onBack={() => go("/")} />
      ) : (
        <div class="inbox">
          <aside class="list" aria-label="Conversations">
            <div class="list-tools">
              <label class="sr-only" for="search">
                Search conversations
              </label>
              <input
                id="search"
                type="search"
                placeholder="Search name, phone, email"
                value={query}
                onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
              />
              <div class="row">
                <fieldset class="segmented">
                  <legend class="sr-only">Show</legend>
                  <button type="button" aria-pressed={filter === "open"} onClick={() => setFilter("open")}>
                    Open
                  </button>
                  <button type="button" aria-pressed={filter === "closed"} onClick={() => setFilter("closed")}>
                    Closed
                  </button>
                </fieldset>
                <button type="button" class="primary" onClick={() => setDialog(true)}>
                  New
                </button>
              </div>
            </div>
            {loadError && (
              <p class="error" role="alert">
                {loadError}{" "}
                <button type="button" class="link" onClick={load}>
                  Try again
                </button>
              </p>
            )}
            <ul>
              {visible.map((c) => (
                <li key={c.id}>
                  <a
                    href={`/c/${c.id}`}
                    class={`conv ${c.id === selected ? "active" : ""}`}
                    aria-current={c.id === selected ? "page" : undefined}
                    onClick={(e) => {
                      e.preventDefault();
                      go(`/c/${c.id}`);
                    }}
                  >
                    <span class="conv-top">
                      <strong>{contactName(c.contact)}</strong>
                      <span class="muted small">{shortWhen(c.lastMessageAt)}</span>
                    </span>
                    <span class="conv-bottom">
                      <span class="preview">
                        {c.lastMessage
                          ? `${c.lastMessage.direction === "outbound" ? "You: " : ""}${c.lastMessage.body || "(media)"}`
                          : "No messages yet"}
                      </span>
                      {c.unreadCount > 0 && (
                        <span class="badge">
                          {c.unreadCount}
                          <span class="sr-only"> unread</span>
                        </span>
                      )}
                    </span>
                  </a>
                </li>
              ))}
              {visible.length === 0 && !loadError && (
                <li class="muted empty">{query ? "No matches." : "No conversations yet. Start one with New."}</li>
              )}
            </ul>
            {cursor && !query && (
              <button
                type="button"
                class="link more"
                onClick={async () => {
                  const page = await api<Page<Conversation>>(
                    "GET",
                    `/api/conversations?status=${filter}&limit=50&cursor=${cursor}`,
                  );
                  setConversations((list) => [...list, ...page.items.filter((p) => !list.some((c) => c.id === p.id))]);
                  setCursor(page.nextCursor);
                }}
              >
                Load more
              </button>
            )}
          </aside>
          {selected ? (
            <Thread
              key={selected}
              conversationId={selected}
              conversation={current}
              me={me}
              onBack={() => go("/")}
              onLiveState={setRoomLive}
              onConversation={(conv) =>
                setConversations((list) =>
                  list.some((c) => c.id === conv.id) ? list.map((c) => (c.id === conv.id ? conv : c)) : [conv, ...list],
                )
              }
            />
          ) : (
            <section class="thread placeholder">
              <p class="muted">Pick a conversation, or start a new one.</p>
            </section>
          )}
        </div>
      )}
      {dialog && (
        <NewConversationDialog
          onClose={() => setDialog(false)}
          onCreated={(conv) => {
            setDialog(false);
            setConversations((list) => [conv, ...list.filter((c) => c.id !== conv.id)]);
            go(`/c/${conv.id}`);
          }}
        />
      )}
    </div>
  );
}

function matches(c: Conversation, q: string): boolean {
  const needle = q.toLowerCase();
  const digits = q.replace(/\D/g, "");
  return (
    (c.contact.name ?? "").toLowerCase().includes(needle) ||
    (c.contact.email ?? "").toLowerCase().includes(needle) ||
    (digits.length >= 3 && c.contact.phone.includes(digits))
  );
}

function NewConversationDialog(props: { onClose: () => void; onCreated: (c: Conversation) => void }) {
  const [phone, setPhone] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const conv = await api<Conversation>("POST", "/api/conversations", { phone });
      if (name.trim() && !conv.contact.name) {
        conv.contact = await api("PATCH", `/api/contacts/${conv.contact.id}`, { name: name.trim() });
      }
      props.onCreated(conv);
    } catch (err) {
      setError(
        err instanceof ApiError
          ? err.fieldMessage("phone")
            ? `Phone number: ${err.fieldMessage("phone")}`
            : err.message
          : String(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="dialog" onClose={props.onClose} aria-labelledby="new-title">
      <form onSubmit={submit} noValidate>
        <h2 id="new-title">New conversation</h2>
        <label>
          Phone number
          <input
            name="phone"
            type="tel"
            autocomplete="off"
            placeholder="+1 415 555 2671"
            value={phone}
            onInput={(e) => setPhone((e.target as HTMLInputElement).value)}
            required
            aria-invalid={!!error}
            aria-describedby="new-error"
          />
        </label>
        <label>
          Name (optional)
          <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <p id="new-error" class="error" role="alert">
          {error}
        </p>
        <div class="row end">
          <button type="button" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || !phone.trim()}>
            Start conversation
          </button>
        </div>
      </form>
    </dialog>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
