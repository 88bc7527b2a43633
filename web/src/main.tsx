/**
 * Parley's inbox in the browser (Preact). Routes: /signin, /signup, / (inbox), /c/:id (a thread),
 * /settings. The conversation list follows /api/ws; an open thread follows its room.
 */
import { render } from "preact";
import { lazy, Suspense } from "preact/compat";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { NotificationJson } from "../../src/shared/frames";
import { InboxFrameSchema } from "../../src/shared/frames";
import type { ConversationStatus } from "../../src/shared/status";
import { ApiError, api, onUnauthorized } from "./api";
import { CampaignsPage } from "./campaigns";
import { ChannelBadge } from "./channels";
import { ContactsPage } from "./contacts";
import { contactName, shortWhen } from "./format";
import { LiveSocket, type LiveState } from "./live";
import { AlertBanner, OpsPage } from "./ops";

/** The dashboard (and its charting library) loads only when someone opens it. */
const AnalyticsPage = lazy(() => import("./analytics").then((m) => ({ default: m.AnalyticsPage })));

import { SearchBox } from "./policies";
import { Settings } from "./settings";
import { AuditPage, describeNotification, LabelChip, NotificationBell, useLabels, WorkspaceSwitcher } from "./team";
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
    if (resetToken) return <ResetScreen token={resetToken} onDone={() => go("/signin")} />;
    return (
      <AuthScreen
        mode={path === "/signup" || inviteToken ? "signup" : path === "/forgot" ? "forgot" : "signin"}
        notice={notice}
        onSwitch={(mode) => go(`/${mode}`)}
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

/** An invitation link (`/?invite=…`) or a password reset link (`/?reset=…`) the page was opened with. */
const startParams = new URLSearchParams(location.search);
const inviteToken = startParams.get("invite");
const resetToken = startParams.get("reset");

function ResetScreen(props: { token: string; onDone: () => void }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  return (
    <main class="auth">
      <form
        class="card"
        aria-labelledby="reset-title"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await api("POST", "/api/auth/password/reset/confirm", { token: props.token, newPassword: password });
            setDone(true);
          } catch (err) {
            setError(err instanceof ApiError ? (err.fieldMessage("newPassword") ?? err.message) : String(err));
          }
        }}
      >
        <h1 id="reset-title">Choose a new password</h1>
        {done ? (
          <>
            <p role="status">Your password is set, and every session of your account was signed out.</p>
            <button
              type="button"
              class="primary"
              onClick={() => {
                history.replaceState(null, "", "/signin");
                props.onDone();
                location.assign("/signin");
              }}
            >
              Sign in
            </button>
          </>
        ) : (
          <>
            <label>
              New password (10+ characters)
              <input
                type="password"
                autocomplete="new-password"
                minLength={10}
                value={password}
                onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
                required
              />
            </label>
            {error && (
              <p class="error" role="alert">
                {error}
              </p>
            )}
            <button class="primary" type="submit" disabled={password.length < 10}>
              Set password
            </button>
          </>
        )}
      </form>
    </main>
  );
}

function AuthScreen(props: {
  mode: "signin" | "signup" | "forgot";
  notice: string | null;
  onSwitch: (m: "signin" | "signup" | "forgot") => void;
  onDone: () => void;
}) {
  const { mode } = props;
  const [form, setForm] = useState({ email: "", password: "", name: "", workspaceName: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "forgot") {
        await api("POST", "/api/auth/password/reset", { email: form.email });
        setSent(true);
        return;
      }
      if (mode === "signup") {
        await api(
          "POST",
          "/api/auth/signup",
          inviteToken
            ? { email: form.email, password: form.password, name: form.name, invitationToken: inviteToken }
            : form,
        );
      } else {
        await api("POST", "/api/auth/login", { email: form.email, password: form.password });
        if (inviteToken) await api("POST", "/api/invitations/accept", { token: inviteToken });
      }
      if (inviteToken) history.replaceState(null, "", "/");
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
        <h1 id="auth-title">
          {inviteToken
            ? "Join your team on Parley"
            : mode === "signup"
              ? "Create your Parley inbox"
              : mode === "forgot"
                ? "Reset your password"
                : "Sign in to Parley"}
        </h1>
        {inviteToken && (
          <p class="notice" role="status">
            You were invited to a workspace. {mode === "signup" ? "Create your account" : "Sign in"} with the invited
            email address to join it.
          </p>
        )}
        {mode === "forgot" && sent && (
          <p class="notice" role="status">
            If an account has that address, a reset link is on its way. (In local development the link is printed in the
            terminal running <code>npm run dev</code>.)
          </p>
        )}
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
            {!inviteToken && (
              <label>
                Team or business name
                <input name="workspaceName" value={form.workspaceName} onInput={set("workspaceName")} required />
                {fieldError("workspaceName") && <span class="field-error">{fieldError("workspaceName")}</span>}
              </label>
            )}
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
        {mode !== "forgot" && (
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
        )}
        {error && !error.details && (
          <p class="error" role="alert">
            {error.message}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {busy
            ? "One moment…"
            : mode === "signup"
              ? inviteToken
                ? "Create account and join"
                : "Create account"
              : mode === "forgot"
                ? "Send reset link"
                : inviteToken
                  ? "Sign in and join"
                  : "Sign in"}
        </button>
        <p class="muted">
          {mode === "signup" ? "Already have an account? " : mode === "forgot" ? "Remembered it? " : "New to Parley? "}
          <a
            href={mode === "signin" ? "/signup" : "/signin"}
            onClick={(e) => {
              e.preventDefault();
              props.onSwitch(mode === "signin" ? "signup" : "signin");
            }}
          >
            {mode === "signin" ? "Create an account" : "Sign in"}
          </a>
          {mode === "signin" && !inviteToken && (
            <>
              {" · "}
              <a
                href="/forgot"
                onClick={(e) => {
                  e.preventDefault();
                  props.onSwitch("forgot");
                }}
              >
                Forgot your password?
              </a>
            </>
          )}
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
  const [filter, setFilter] = useState<ConversationStatus>("open");
  const [view, setView] = useState<"all" | "mine" | "unassigned">("all");
  const [labelFilter, setLabelFilter] = useState("");
  const [labels] = useLabels();
  const [notifications, setNotifications] = useState<NotificationJson[]>([]);
  const [unreadNotifications, setUnreadNotifications] = useState(0);
  const [query, setQuery] = useState("");
  const [loadError, setLoadError] = useState<string | null>(null);
  const [live, setLive] = useState<LiveState>("connecting");
  const [roomLive, setRoomLive] = useState<LiveState>("open");
  const [dialog, setDialog] = useState(false);
  const [focus, setFocus] = useState<{ conversationId: string; messageId: string; seq: number } | null>(null);
  const selected = path.startsWith("/c/") ? path.slice(3) : null;

  // Frames that arrive while a page is loading are newer than the page: each load collects them and
  // re-applies them over its page (loads may overlap: a socket open can start one beside the first).
  const loadsInFlight = useRef(new Set<Map<string, Conversation>>());
  // Loads may finish out of order (the socket's open starts one beside the first): an older load's page
  // never replaces a newer one's.
  const loadsStarted = useRef(0);
  const loadShown = useRef(0);
  const load = useCallback(async () => {
    const newer = new Map<string, Conversation>();
    loadsInFlight.current.add(newer);
    const mine = ++loadsStarted.current;
    try {
      const params = listParams();
      if (query.trim()) params.set("q", query.trim());
      const page = await api<Page<Conversation>>("GET", `/api/conversations?${params}`);
      if (mine < loadShown.current) return;
      loadShown.current = mine;
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
  }, [filter, query, view, labelFilter]);

  function listParams() {
    const params = new URLSearchParams({ status: filter, limit: "50" });
    if (view === "mine") params.set("assignee", "me");
    if (view === "unassigned") params.set("assignee", "none");
    if (labelFilter) params.set("label", labelFilter);
    return params;
  }

  // The notification feed: loaded once, then live from the inbox stream.
  const loadNotifications = useCallback(async () => {
    if (!me.user) return;
    const feed = await api<{ items: NotificationJson[]; unreadCount: number }>("GET", "/api/notifications?limit=20");
    setNotifications(feed.items);
    setUnreadNotifications(feed.unreadCount);
  }, [me.user]);
  useEffect(() => {
    loadNotifications().catch(() => undefined);
  }, [loadNotifications]);
  useEffect(() => {
    document.title = unreadNotifications > 0 ? `(${unreadNotifications}) Parley` : "Parley";
  }, [unreadNotifications]);
  const openNotification = async (n: NotificationJson) => {
    if (!n.readAt) {
      await api("POST", "/api/notifications/read", { ids: [n.id] }).catch(() => undefined);
      setNotifications((list) => list.map((x) => (x.id === n.id ? { ...x, readAt: new Date().toISOString() } : x)));
      setUnreadNotifications((u) => Math.max(0, u - 1));
    }
    if (n.conversationId) go(`/c/${n.conversationId}`);
    else if (n.type === "campaign_paused") go("/campaigns");
    else if (n.type === "webhook_disabled") go("/settings");
  };
  const readAllNotifications = async () => {
    await api("POST", "/api/notifications/read", { all: true }).catch(() => undefined);
    setNotifications((list) => list.map((x) => ({ ...x, readAt: x.readAt ?? new Date().toISOString() })));
    setUnreadNotifications(0);
  };

  useEffect(() => {
    const t = setTimeout(load, query ? 200 : 0);
    return () => clearTimeout(t);
  }, [load, query]);

  // The inbox stream: every change to a conversation arrives as a frame; every open refetches the list.
  const loadRef = useRef(load);
  loadRef.current = load;
  const goRef = useRef(go);
  goRef.current = go;
  useEffect(() => {
    const socket = new LiveSocket(
      "/api/ws",
      InboxFrameSchema,
      (frame) => {
        if (frame.type === "notification") {
          const n = frame.notification;
          setNotifications((list) => [n, ...list.filter((x) => x.id !== n.id)].slice(0, 50));
          setUnreadNotifications((u) => u + 1);
          if (typeof Notification !== "undefined" && Notification.permission === "granted" && document.hidden) {
            const shown = new Notification("Parley", { body: describeNotification(n), tag: n.id });
            shown.onclick = () => {
              window.focus();
              if (n.conversationId) goRef.current(`/c/${n.conversationId}`);
            };
          }
          return;
        }
        if (frame.type === "campaign") {
          dispatchEvent(new CustomEvent("parley:campaign", { detail: frame.campaign }));
          return;
        }
        if (frame.type === "import") {
          // The contacts page shows import progress; it listens for these.
          dispatchEvent(new CustomEvent("parley:import", { detail: frame.import }));
          return;
        }
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
    () =>
      conversations.filter(
        (c) =>
          c.status === filter &&
          (view !== "mine" || c.assignee?.id === me.user?.id) &&
          (view !== "unassigned" || c.assignee === null) &&
          (!labelFilter || c.labels.some((l) => l.id === labelFilter)) &&
          (!query.trim() || matches(c, query.trim())),
      ),
    [conversations, filter, query, view, labelFilter, me.user?.id],
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
        <SearchBox
          onOpen={(conversationId, messageId, seq) => {
            setFocus(messageId && seq !== null ? { conversationId, messageId, seq } : null);
            go(`/c/${conversationId}`);
          }}
        />
        <nav aria-label="Account">
          <WorkspaceSwitcher me={me} />
          {me.user && (
            <NotificationBell
              items={notifications}
              unread={unreadNotifications}
              onOpen={openNotification}
              onReadAll={readAllNotifications}
            />
          )}
          <a
            href="/contacts"
            onClick={(e) => {
              e.preventDefault();
              go("/contacts");
            }}
          >
            Contacts
          </a>
          <a
            href="/campaigns"
            onClick={(e) => {
              e.preventDefault();
              go("/campaigns");
            }}
          >
            Campaigns
          </a>
          {(me.role === "owner" || me.role === "admin") && (
            <a
              href="/analytics"
              onClick={(e) => {
                e.preventDefault();
                go("/analytics");
              }}
            >
              Analytics
            </a>
          )}
          {(me.role === "owner" || me.role === "admin") && (
            <a
              href="/ops"
              onClick={(e) => {
                e.preventDefault();
                go("/ops");
              }}
            >
              Operations
            </a>
          )}
          {(me.role === "owner" || me.role === "admin") && (
            <a
              href="/audit"
              onClick={(e) => {
                e.preventDefault();
                go("/audit");
              }}
            >
              Audit log
            </a>
          )}
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
      {inviteToken && <AcceptInvitation token={inviteToken} />}
      {(me.role === "owner" || me.role === "admin") && path !== "/ops" && <AlertBanner onOpen={() => go("/ops")} />}
      {path === "/settings" ? (
        <Settings me={me} onChanged={props.onMeChanged} onBack={() => go("/")} />
      ) : path === "/audit" ? (
        <AuditPage onBack={() => go("/")} />
      ) : path === "/ops" ? (
        <OpsPage onBack={() => go("/")} />
      ) : path === "/analytics" ? (
        <Suspense fallback={<p class="muted">Loading analytics…</p>}>
          <AnalyticsPage onBack={() => go("/")} />
        </Suspense>
      ) : path === "/contacts" ? (
        <ContactsPage me={me} go={go} />
      ) : path === "/campaigns" ? (
        <CampaignsPage me={me} go={go} />
      ) : (
        <main class="inbox">
          <h1 class="sr-only">Inbox</h1>
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
                  <legend class="sr-only">Whose</legend>
                  {(["all", "mine", "unassigned"] as const).map((v) => (
                    <button key={v} type="button" aria-pressed={view === v} onClick={() => setView(v)}>
                      {v === "all" ? "All" : v === "mine" ? "Mine" : "Unassigned"}
                    </button>
                  ))}
                </fieldset>
                <button type="button" class="primary" onClick={() => setDialog(true)} disabled={me.role === "viewer"}>
                  New
                </button>
              </div>
              <div class="row">
                <label>
                  <span class="sr-only">Status</span>
                  <select
                    name="status-filter"
                    value={filter}
                    onChange={(e) => setFilter((e.target as HTMLSelectElement).value as ConversationStatus)}
                  >
                    <option value="open">Open</option>
                    <option value="pending">Pending</option>
                    <option value="snoozed">Snoozed</option>
                    <option value="resolved">Resolved</option>
                  </select>
                </label>
                <label>
                  <span class="sr-only">Label</span>
                  <select
                    name="label-filter"
                    value={labelFilter}
                    onChange={(e) => setLabelFilter((e.target as HTMLSelectElement).value)}
                  >
                    <option value="">Any label</option>
                    {labels.map((l) => (
                      <option key={l.id} value={l.id}>
                        {l.name}
                      </option>
                    ))}
                  </select>
                </label>
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
                      <strong>
                        <ChannelBadge channel={c.channel} /> {contactName(c.contact)}
                      </strong>
                      <span class="muted small">{shortWhen(c.lastMessageAt)}</span>
                    </span>
                    <span class="conv-bottom">
                      <span class="preview">
                        {c.lastMessage
                          ? `${c.lastMessage.direction === "outbound" ? "You: " : ""}${c.lastMessage.subject ? `${c.lastMessage.subject} — ` : ""}${c.lastMessage.body || (c.lastMessage.media.length > 0 ? "Attachment" : "")}`
                          : "No messages yet"}
                      </span>
                      {c.unreadCount > 0 && (
                        <span class="badge">
                          {c.unreadCount}
                          <span class="sr-only"> unread</span>
                        </span>
                      )}
                    </span>
                    {(c.labels.length > 0 || c.assignee) && (
                      <span class="conv-meta">
                        {c.labels.map((l) => (
                          <LabelChip key={l.id} label={l} />
                        ))}
                        {c.assignee && <span class="assignee small">→ {c.assignee.name}</span>}
                      </span>
                    )}
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
                    `/api/conversations?${listParams()}&cursor=${cursor}`,
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
              focus={focus?.conversationId === selected ? focus : null}
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
        </main>
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

/** Signed in with an invitation link in the address: join that workspace (one click). */
function AcceptInvitation(props: { token: string }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <section class="banner" aria-label="Invitation">
      You were invited to another workspace.{" "}
      <button
        type="button"
        class="primary"
        onClick={async () => {
          try {
            await api("POST", "/api/invitations/accept", { token: props.token });
            location.assign("/");
          } catch (err) {
            setError(err instanceof Error ? err.message : String(err));
          }
        }}
      >
        Join it
      </button>{" "}
      <button type="button" class="link" onClick={() => location.assign("/")}>
        Not now
      </button>
      {error && (
        <span class="error" role="alert">
          {" "}
          {error}
        </span>
      )}
    </section>
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
