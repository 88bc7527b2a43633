/**
 * Sending policies and findability in the browser: templates (settings), quiet hours and the
 * workspace's zone (settings), and the search box with highlighted snippets.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { ConversationJson } from "../../src/shared/frames";
import { type BusinessHours, type QuietHours, WEEKDAYS, type Weekday } from "../../src/shared/policies";
import { api, errorText } from "./api";
import { contactName, shortWhen } from "./format";
import type { Me } from "./types";

interface Template {
  id: string;
  name: string;
  body: string;
  shortcut: string | null;
  contentSid: string | null;
  variables: string[];
}

export function TemplateSettings(props: { me: Me }) {
  const admin = props.me.role === "owner" || props.me.role === "admin";
  const [items, setItems] = useState<Template[]>([]);
  const [editing, setEditing] = useState<Template | null>(null);
  const [name, setName] = useState("");
  const [body, setBody] = useState("");
  const [shortcut, setShortcut] = useState("");
  const [contentSid, setContentSid] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const load = async () => setItems((await api<{ items: Template[] }>("GET", "/api/templates")).items);
  useEffect(() => {
    load().catch((e) => setStatus(errorText(e)));
  }, []);
  const reset = () => {
    setEditing(null);
    setName("");
    setBody("");
    setShortcut("");
    setContentSid("");
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const payload = { name, body, shortcut: shortcut.trim() || null, contentSid: contentSid.trim() || null };
    try {
      if (editing) await api("PATCH", `/api/templates/${editing.id}`, payload);
      else await api("POST", "/api/templates", payload);
      setStatus(`Template "${name}" saved.`);
      reset();
      await load();
    } catch (err) {
      setStatus(errorText(err, "contentSid") || errorText(err, "shortcut") || errorText(err, "body"));
    }
  };
  return (
    <section aria-labelledby="templates-title" class="card">
      <h2 id="templates-title">Templates</h2>
      <p class="muted small">
        Type <kbd>/</kbd> in the composer to use one. Placeholders: <code>{"{{contact.firstName}}"}</code>,{" "}
        <code>{"{{contact.name}}"}</code>, <code>{"{{contact.fields.order}}"}</code>, <code>{"{{agent.name}}"}</code>,{" "}
        <code>{"{{workspace.name}}"}</code>; a fallback after a bar: <code>{"{{contact.firstName|there}}"}</code>.
      </p>
      <ul class="plain">
        {items.map((t) => (
          <li key={t.id} class="template-row">
            <strong>{t.name}</strong> {t.shortcut && <span class="muted">/{t.shortcut}</span>}{" "}
            {t.contentSid && (
              <span class="tag" title={t.contentSid}>
                WhatsApp approved
              </span>
            )}
            <div class="small">{t.body}</div>
            {admin && (
              <span>
                <button
                  type="button"
                  class="link"
                  onClick={() => {
                    setEditing(t);
                    setName(t.name);
                    setBody(t.body);
                    setShortcut(t.shortcut ?? "");
                    setContentSid(t.contentSid ?? "");
                  }}
                >
                  Edit
                </button>{" "}
                <button
                  type="button"
                  class="link danger"
                  onClick={async () => {
                    if (!confirm(`Delete the template "${t.name}"?`)) return;
                    await api("DELETE", `/api/templates/${t.id}`).catch((e) => setStatus(errorText(e)));
                    await load();
                  }}
                >
                  Delete
                </button>
              </span>
            )}
          </li>
        ))}
        {items.length === 0 && <li class="muted">No templates yet.</li>}
      </ul>
      {admin && (
        <form onSubmit={save}>
          <h3>{editing ? `Edit "${editing.name}"` : "New template"}</h3>
          <div class="row wrap">
            <label>
              Template name
              <input
                value={name}
                maxLength={80}
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
                required
              />
            </label>
            <label>
              Shortcut (optional)
              <input
                value={shortcut}
                maxLength={30}
                placeholder="thanks"
                onInput={(e) => setShortcut((e.target as HTMLInputElement).value)}
              />
            </label>
            <label>
              WhatsApp Content SID (optional)
              <input
                value={contentSid}
                maxLength={34}
                placeholder="HX…"
                onInput={(e) => setContentSid((e.target as HTMLInputElement).value)}
              />
            </label>
          </div>
          <label>
            Template text
            <textarea
              rows={3}
              value={body}
              onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)}
              required
            />
          </label>
          <div class="row">
            <button type="submit" class="primary" disabled={!name.trim() || !body.trim()}>
              {editing ? "Save template" : "Add template"}
            </button>
            {editing && (
              <button type="button" class="link" onClick={reset}>
                Cancel
              </button>
            )}
          </div>
        </form>
      )}
      <p class="muted small" role="status">
        {status}
      </p>
    </section>
  );
}

interface WorkspacePolicy {
  timezone: string;
  quietHours: QuietHours | null;
  businessHours: BusinessHours | null;
  awayMessage: string | null;
  limits: { userSendsPerMinute: number; workspaceSendsPerSecond: number; workspaceSendBurst: number };
}

const DAY_NAMES: Record<Weekday, string> = {
  mon: "Monday",
  tue: "Tuesday",
  wed: "Wednesday",
  thu: "Thursday",
  fri: "Friday",
  sat: "Saturday",
  sun: "Sunday",
};

export function SendingSettings(props: { me: Me }) {
  const admin = props.me.role === "owner" || props.me.role === "admin";
  const [policy, setPolicy] = useState<WorkspacePolicy | null>(null);
  const [draft, setDraft] = useState<QuietHours>({
    start: "21:00",
    end: "08:00",
    mode: "defer",
    exemptRepliesWithinHours: 24,
  });
  const [on, setOn] = useState(false);
  const [zone, setZone] = useState("");
  const [hoursOn, setHoursOn] = useState(false);
  const [hours, setHours] = useState<Record<Weekday, [string, string] | null>>({
    mon: ["09:00", "17:00"],
    tue: ["09:00", "17:00"],
    wed: ["09:00", "17:00"],
    thu: ["09:00", "17:00"],
    fri: ["09:00", "17:00"],
    sat: null,
    sun: null,
  });
  const [away, setAway] = useState("");
  const [limits, setLimits] = useState({ userSendsPerMinute: 30, workspaceSendsPerSecond: 10, workspaceSendBurst: 50 });
  const [status, setStatus] = useState<string | null>(null);
  useEffect(() => {
    api<WorkspacePolicy>("GET", "/api/workspace").then(
      (w) => {
        setPolicy(w);
        setZone(w.timezone);
        setOn(w.quietHours !== null);
        if (w.quietHours) setDraft(w.quietHours);
        setHoursOn(w.businessHours !== null);
        if (w.businessHours) {
          const b = w.businessHours;
          setHours(
            Object.fromEntries(WEEKDAYS.map((d) => [d, b[d]?.[0] ?? null])) as Record<Weekday, [string, string] | null>,
          );
        }
        setAway(w.awayMessage ?? "");
        setLimits(w.limits);
      },
      (e) => setStatus(errorText(e)),
    );
  }, []);
  if (!policy) return null;
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const w = await api<WorkspacePolicy>("PATCH", "/api/workspace", {
        timezone: zone,
        quietHours: on ? draft : null,
        businessHours: hoursOn
          ? Object.fromEntries(WEEKDAYS.flatMap((d) => (hours[d] ? [[d, [hours[d]]]] : [])))
          : null,
        awayMessage: away.trim() || null,
        ...limits,
      });
      setPolicy(w);
      setStatus(on ? `Quiet hours on: ${draft.start}–${draft.end}, recipients' local time.` : "Quiet hours off.");
    } catch (err) {
      setStatus(errorText(err, "timezone") || errorText(err));
    }
  };
  return (
    <section aria-labelledby="sending-title" class="card">
      <h2 id="sending-title">Sending rules</h2>
      <form onSubmit={save}>
        <fieldset disabled={!admin}>
          <legend class="sr-only">Quiet hours</legend>
          <label>
            Workspace time zone
            <input value={zone} onInput={(e) => setZone((e.target as HTMLInputElement).value)} />
          </label>
          <label class="check">
            <input type="checkbox" checked={on} onChange={(e) => setOn((e.target as HTMLInputElement).checked)} /> Quiet
            hours: no texts at night, by each recipient's local time
          </label>
          {on && (
            <div class="row wrap">
              <label>
                From
                <input
                  type="time"
                  value={draft.start}
                  onInput={(e) => setDraft({ ...draft, start: (e.target as HTMLInputElement).value })}
                />
              </label>
              <label>
                Until
                <input
                  type="time"
                  value={draft.end}
                  onInput={(e) => setDraft({ ...draft, end: (e.target as HTMLInputElement).value })}
                />
              </label>
              <label>
                Texts sent then
                <select
                  value={draft.mode}
                  onChange={(e) =>
                    setDraft({ ...draft, mode: (e.target as HTMLSelectElement).value as QuietHours["mode"] })
                  }
                >
                  <option value="defer">wait until morning</option>
                  <option value="refuse">are refused</option>
                </select>
              </label>
              <label>
                Replies allowed within (hours of the customer's last text)
                <input
                  type="number"
                  min={0}
                  max={168}
                  value={draft.exemptRepliesWithinHours}
                  onInput={(e) =>
                    setDraft({ ...draft, exemptRepliesWithinHours: Number((e.target as HTMLInputElement).value) })
                  }
                />
              </label>
            </div>
          )}
          <label class="check">
            <input
              type="checkbox"
              checked={hoursOn}
              onChange={(e) => setHoursOn((e.target as HTMLInputElement).checked)}
            />{" "}
            Business hours (in the workspace's zone): texts outside them get the away reply
          </label>
          {hoursOn && (
            <>
              <table class="table hours">
                <caption class="sr-only">Opening hours by day</caption>
                <tbody>
                  {WEEKDAYS.map((d) => {
                    const day = hours[d];
                    return (
                      <tr key={d}>
                        <th scope="row">
                          <label class="check">
                            <input
                              type="checkbox"
                              checked={day !== null}
                              onChange={(e) =>
                                setHours({
                                  ...hours,
                                  [d]: (e.target as HTMLInputElement).checked ? ["09:00", "17:00"] : null,
                                })
                              }
                            />{" "}
                            {DAY_NAMES[d]}
                          </label>
                        </th>
                        <td>
                          {day ? (
                            <>
                              <label>
                                <span class="sr-only">{DAY_NAMES[d]} opens</span>
                                <input
                                  type="time"
                                  value={day[0]}
                                  onInput={(e) =>
                                    setHours({ ...hours, [d]: [(e.target as HTMLInputElement).value, day[1]] })
                                  }
                                />
                              </label>{" "}
                              –{" "}
                              <label>
                                <span class="sr-only">{DAY_NAMES[d]} closes</span>
                                <input
                                  type="time"
                                  value={day[1]}
                                  onInput={(e) =>
                                    setHours({ ...hours, [d]: [day[0], (e.target as HTMLInputElement).value] })
                                  }
                                />
                              </label>
                            </>
                          ) : (
                            <span class="muted">closed</span>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              <label>
                Away reply (at most once per conversation every 12 hours; never to STOP, START or HELP)
                <textarea
                  rows={2}
                  maxLength={320}
                  value={away}
                  onInput={(e) => setAway((e.target as HTMLTextAreaElement).value)}
                />
              </label>
            </>
          )}
          <div class="row wrap">
            <label>
              Messages a member may send per minute
              <input
                type="number"
                min={1}
                max={600}
                value={limits.userSendsPerMinute}
                onInput={(e) =>
                  setLimits({ ...limits, userSendsPerMinute: Number((e.target as HTMLInputElement).value) })
                }
              />
            </label>
            <label>
              Workspace messages per second
              <input
                type="number"
                min={1}
                max={100}
                value={limits.workspaceSendsPerSecond}
                onInput={(e) =>
                  setLimits({ ...limits, workspaceSendsPerSecond: Number((e.target as HTMLInputElement).value) })
                }
              />
            </label>
            <label>
              Burst (messages at once)
              <input
                type="number"
                min={1}
                max={1000}
                value={limits.workspaceSendBurst}
                onInput={(e) =>
                  setLimits({ ...limits, workspaceSendBurst: Number((e.target as HTMLInputElement).value) })
                }
              />
            </label>
          </div>
          <button type="submit">Save sending rules</button>
        </fieldset>
      </form>
      <p class="muted small" role="status">
        {status}
      </p>
    </section>
  );
}

interface SearchHit {
  conversation: ConversationJson;
  message: { id: string; seq: number; snippet: { text: string; highlights: [number, number][] } } | null;
}

/** A snippet with its matched ranges marked (plain text in, elements out: nothing is parsed as HTML). */
function Highlighted(props: { text: string; ranges: [number, number][] }) {
  const parts = [];
  let at = 0;
  for (const [start, end] of props.ranges) {
    if (start > at) parts.push(props.text.slice(at, start));
    parts.push(<mark key={start}>{props.text.slice(start, end)}</mark>);
    at = end;
  }
  parts.push(props.text.slice(at));
  return <>{parts}</>;
}

/** The search box: Ctrl-K (or `/` outside a text field) focuses it; results open the thread at the message. */
export function SearchBox(props: {
  onOpen: (conversationId: string, messageId: string | null, seq: number | null) => void;
}) {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing =
        target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
      if ((e.key === "k" && (e.ctrlKey || e.metaKey)) || (e.key === "/" && !typing)) {
        e.preventDefault();
        input.current?.focus();
        input.current?.select();
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
  useEffect(() => {
    if (!q.trim()) {
      setHits(null);
      return;
    }
    const t = setTimeout(async () => {
      try {
        const res = await api<{ items: SearchHit[] }>("GET", `/api/search?q=${encodeURIComponent(q.trim())}&limit=12`);
        setHits(res.items);
        setActive(0);
        setError(null);
      } catch (err) {
        setError(errorText(err));
      }
    }, 200);
    return () => clearTimeout(t);
  }, [q]);
  const open = (h: SearchHit) => {
    setQ("");
    setHits(null);
    props.onOpen(h.conversation.id, h.message?.id ?? null, h.message?.seq ?? null);
  };
  return (
    <div class="searchbox">
      <label class="sr-only" for="global-search">
        Search all conversations (text and contacts)
      </label>
      <input
        id="global-search"
        ref={input}
        type="search"
        placeholder="Search messages (Ctrl-K)"
        value={q}
        onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (!hits?.length) return;
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            const step = e.key === "ArrowDown" ? 1 : -1;
            setActive((i) => (i + step + hits.length) % hits.length);
          } else if (e.key === "Enter") {
            e.preventDefault();
            const hit = hits[active];
            if (hit) open(hit);
          } else if (e.key === "Escape") setQ("");
        }}
      />
      {(hits || error) && (
        <section class="panel card search-results" aria-label="Search results">
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          {hits && hits.length === 0 && <p class="muted">Nothing found.</p>}
          <ul class="plain">
            {hits?.map((h, i) => (
              <li key={`${h.conversation.id}-${h.message?.id ?? "contact"}`} class={i === active ? "active" : ""}>
                <button type="button" class="hit" onClick={() => open(h)}>
                  <strong>{contactName(h.conversation.contact)}</strong>{" "}
                  <span class="muted small">{shortWhen(h.conversation.lastMessageAt)}</span>
                  <span class="snippet">
                    {h.message ? (
                      <Highlighted text={h.message.snippet.text} ranges={h.message.snippet.highlights} />
                    ) : (
                      <span class="muted">Contact: {h.conversation.contact.phone}</span>
                    )}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
