/** The contacts page: search, filter by label or custom field, edit, and each contact's history. */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "./api";
import { contactName, shortWhen } from "./format";
import { useLabels } from "./team";
import type { Contact, Me, Page } from "./types";

interface History {
  conversations: { id: string; from: string; status: string; lastMessageAt: string | null }[];
  firstMessageAt: string | null;
  lastMessageAt: string | null;
  inbound: number;
  outbound: number;
  consent: { optedOut: boolean; at: string; source: string | null; keyword: string | null }[];
}

export function ContactsPage(props: { me: Me; go: (to: string) => void }) {
  const [q, setQ] = useState("");
  const [label, setLabel] = useState("");
  const [field, setField] = useState("");
  const [items, setItems] = useState<Contact[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [selected, setSelected] = useState<Contact | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [labels] = useLabels();

  const params = (next?: string | null) => {
    const p = new URLSearchParams({ limit: "50" });
    if (q.trim()) p.set("q", q.trim());
    if (label) p.set("label", label);
    if (/^[A-Za-z][A-Za-z0-9_]*:.+$/.test(field.trim())) p.set("field", field.trim());
    if (next) p.set("cursor", next);
    return p;
  };
  const load = async (more = false) => {
    try {
      const page = await api<Page<Contact>>("GET", `/api/contacts?${params(more ? cursor : null)}`);
      setItems((list) => (more ? [...list, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    const t = setTimeout(() => load(), q ? 200 : 0);
    return () => clearTimeout(t);
  }, [q, label, field]);

  return (
    <main class="settings wide contacts-page">
      <button type="button" class="link" onClick={() => props.go("/")}>
        ← Back to the inbox
      </button>
      <h1>Contacts</h1>
      <div class="row wrap">
        <label>
          Search contacts
          <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          With label
          <select value={label} onChange={(e) => setLabel((e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>
            {labels.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Custom field (key:value)
          <input value={field} placeholder="plan:Pro" onInput={(e) => setField((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="contacts-layout">
        <table class="table">
          <caption class="sr-only">Contacts</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Phone</th>
              <th scope="col">Email</th>
              <th scope="col">Consent</th>
              <th scope="col">Fields</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id} class={selected?.id === c.id ? "selected" : ""}>
                <td>
                  <button type="button" class="link" onClick={() => setSelected(c)}>
                    {contactName(c)}
                  </button>
                </td>
                <td>{c.phone}</td>
                <td>{c.email ?? ""}</td>
                <td>{c.optedOut ? <span class="bad">Opted out</span> : "Subscribed"}</td>
                <td class="small">
                  {Object.entries(c.fields ?? {})
                    .map(([k, v]) => `${k}: ${v}`)
                    .join(", ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {selected && (
          <ContactDetail
            key={selected.id}
            contact={selected}
            canEdit={props.me.role !== "viewer"}
            go={props.go}
            onSaved={(c) => {
              setSelected(c);
              setItems((list) => list.map((x) => (x.id === c.id ? c : x)));
            }}
          />
        )}
      </div>
      {items.length === 0 && !error && <p class="muted">No contacts match.</p>}
      {cursor && (
        <button type="button" class="link" onClick={() => load(true)}>
          Load more
        </button>
      )}
    </main>
  );
}

function ContactDetail(props: {
  contact: Contact;
  canEdit: boolean;
  go: (to: string) => void;
  onSaved: (c: Contact) => void;
}) {
  const { contact } = props;
  const [name, setName] = useState(contact.name ?? "");
  const [email, setEmail] = useState(contact.email ?? "");
  const [timezone, setTimezone] = useState(contact.timezone ?? "");
  const [fields, setFields] = useState(
    Object.entries(contact.fields ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  );
  const [history, setHistory] = useState<History | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  useEffect(() => {
    api<History>("GET", `/api/contacts/${contact.id}/history`).then(setHistory, (e) => setStatus(errorText(e)));
  }, [contact.id]);
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const parsed = Object.fromEntries(
        fields
          .split("\n")
          .map((line) => line.trim())
          .filter(Boolean)
          .map((line) => {
            const at = line.indexOf("=");
            return at < 0 ? [line, ""] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
          }),
      );
      const saved = await api<Contact>("PATCH", `/api/contacts/${contact.id}`, {
        name: name.trim() || null,
        email: email.trim() || null,
        timezone: timezone.trim() || null,
        fields: parsed,
      });
      props.onSaved(saved);
      setStatus("Saved.");
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  return (
    <section class="card contact-detail" aria-labelledby="contact-detail-title">
      <h2 id="contact-detail-title">{contactName(contact)}</h2>
      <form onSubmit={save}>
        <fieldset disabled={!props.canEdit}>
          <legend class="sr-only">Edit contact</legend>
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
              placeholder="America/Chicago"
              onInput={(e) => setTimezone((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Custom fields (one key=value per line)
            <textarea rows={3} value={fields} onInput={(e) => setFields((e.target as HTMLTextAreaElement).value)} />
          </label>
          <button type="submit">Save contact</button>
        </fieldset>
      </form>
      <p class="muted small" role="status">
        {status}
      </p>
      {history && (
        <>
          <h3>History</h3>
          <p class="small">
            {history.inbound} received · {history.outbound} sent
            {history.firstMessageAt && ` · first ${shortWhen(history.firstMessageAt)}`}
            {history.lastMessageAt && ` · last ${shortWhen(history.lastMessageAt)}`}
          </p>
          <ul class="plain">
            {history.conversations.map((c) => (
              <li key={c.id}>
                <a
                  href={`/c/${c.id}`}
                  onClick={(e) => {
                    e.preventDefault();
                    props.go(`/c/${c.id}`);
                  }}
                >
                  Conversation from {c.from}
                </a>{" "}
                <span class="muted small">
                  {c.status}
                  {c.lastMessageAt ? ` · ${shortWhen(c.lastMessageAt)}` : ""}
                </span>
              </li>
            ))}
          </ul>
          <h3>Consent</h3>
          <ul class="plain small">
            {history.consent.map((e) => (
              <li key={e.at}>
                {new Date(e.at).toLocaleString()}: {e.optedOut ? "opted out" : "opted back in"}
                {e.keyword ? ` (${e.keyword})` : e.source ? ` (${e.source})` : ""}
              </li>
            ))}
            {history.consent.length === 0 && <li class="muted">No changes: subscribed since the first text.</li>}
          </ul>
        </>
      )}
    </section>
  );
}
