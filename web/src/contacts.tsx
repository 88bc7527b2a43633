/** The contacts page: search, filter by label or custom field, edit, and each contact's history. */
import { useEffect, useState } from "preact/hooks";
import type { ImportJson } from "../../src/shared/frames";
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
  consent: { optedOut: boolean; at: string; source: string | null; keyword: string | null; phone: string }[];
  numbers: { phone: string; optedOut: boolean }[];
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
      {props.me.role !== "viewer" && <ImportCsv onDone={() => load()} />}
      {(props.me.role === "owner" || props.me.role === "admin") && <Exports />}
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
            onMerged={(c, goneId) => {
              setSelected(c);
              setItems((list) => list.filter((x) => x.id !== goneId).map((x) => (x.id === c.id ? c : x)));
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
  onMerged: (c: Contact, goneId: string) => void;
}) {
  const { contact } = props;
  const [reload, setReload] = useState(0);
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
  }, [contact.id, reload]);
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
          <h3>Numbers</h3>
          <ul class="plain small contact-numbers">
            {history.numbers.map((n) => (
              <li key={n.phone}>
                {n.phone} {n.optedOut ? <span class="bad">opted out</span> : <span class="muted">subscribed</span>}
              </li>
            ))}
          </ul>
          <h3>Consent</h3>
          <ul class="plain small">
            {history.consent.map((e) => (
              <li key={`${e.at}-${e.phone}`}>
                {new Date(e.at).toLocaleString()}: {history.numbers.length > 1 ? `${e.phone} ` : ""}
                {e.optedOut ? "opted out" : "opted back in"}
                {e.keyword ? ` (${e.keyword})` : e.source ? ` (${e.source})` : ""}
              </li>
            ))}
            {history.consent.length === 0 && <li class="muted">No changes: subscribed since the first text.</li>}
          </ul>
        </>
      )}
      {props.canEdit && (
        <MergeInto
          contact={contact}
          onMerged={(c, goneId) => {
            props.onMerged(c, goneId);
            setReload((n) => n + 1);
          }}
        />
      )}
    </section>
  );
}

/** Pick a duplicate of this contact and merge it in (its threads, number, consent and fields come along). */
function MergeInto(props: { contact: Contact; onMerged: (c: Contact, goneId: string) => void }) {
  const [q, setQ] = useState("");
  const [matches, setMatches] = useState<Contact[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  useEffect(() => {
    if (q.trim().length < 2) {
      setMatches([]);
      return;
    }
    const t = setTimeout(async () => {
      const page = await api<Page<Contact>>("GET", `/api/contacts?limit=8&q=${encodeURIComponent(q.trim())}`).catch(
        () => null,
      );
      setMatches((page?.items ?? []).filter((c) => c.id !== props.contact.id));
    }, 200);
    return () => clearTimeout(t);
  }, [q]);
  const merge = async (other: Contact) => {
    if (
      !confirm(
        `Merge ${contactName(other)} (${other.phone}) into ${contactName(props.contact)}? Its conversations, custom fields and labels move here; its number and that number's consent are kept.`,
      )
    )
      return;
    try {
      const merged = await api<Contact>("POST", `/api/contacts/${props.contact.id}/merge`, { contactId: other.id });
      setQ("");
      setMatches([]);
      setStatus(`Merged ${contactName(other)} into this contact.`);
      props.onMerged(merged, other.id);
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  return (
    <details class="merge">
      <summary>Merge a duplicate into this contact</summary>
      <label>
        Find the duplicate (name, phone or email)
        <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </label>
      <ul class="plain">
        {matches.map((m) => (
          <li key={m.id}>
            <button type="button" class="link" onClick={() => merge(m)}>
              Merge {contactName(m)} · {m.phone}
            </button>
          </li>
        ))}
      </ul>
      <p class="small muted" role="status">
        {status}
      </p>
    </details>
  );
}

const TARGETS = [
  ["phone", "Phone (required)"],
  ["name", "Name"],
  ["email", "Email"],
  ["timezone", "Time zone"],
  ["consent", "Consent (no / unsubscribed = opted out)"],
  ["labels", "Labels (names separated by ;)"],
] as const;

/** Upload a CSV: pick which column fills what (with a preview of the first rows), then watch it import. */
function ImportCsv(props: { onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [columns, setColumns] = useState<string[]>([]);
  const [preview, setPreview] = useState<string[][]>([]);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [country, setCountry] = useState("US");
  const [labelAll, setLabelAll] = useState("");
  const [job, setJob] = useState<ImportJson | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const onFrame = (e: Event) => {
      const next = (e as CustomEvent<ImportJson>).detail;
      setJob((current) => (current && current.id === next.id ? next : current));
    };
    addEventListener("parley:import", onFrame);
    return () => removeEventListener("parley:import", onFrame);
  }, []);
  // Frames are the fast path; a poll every two seconds covers a dropped socket.
  useEffect(() => {
    if (!job || job.status === "done" || job.status === "failed") {
      if (job?.status === "done") props.onDone();
      return;
    }
    const t = setTimeout(async () => {
      setJob(await api<ImportJson>("GET", `/api/imports/${job.id}`).catch(() => job));
    }, 2000);
    return () => clearTimeout(t);
  }, [job]);

  const pick = async (f: File | null) => {
    setFile(f);
    setJob(null);
    setError(null);
    if (!f) return;
    const head = await f.slice(0, 16 * 1024).text();
    const lines = head
      .replace(/^\uFEFF/, "")
      .split(/\r?\n/)
      .slice(0, 6)
      .filter(Boolean);
    const rows = lines.map((l) => l.split(",").map((c) => c.replace(/^"|"$/g, "").trim()));
    const header = rows[0] ?? [];
    setColumns(header);
    setPreview(rows.slice(1, 6));
    const guess = (words: string[]) => header.find((h) => words.some((w) => h.toLowerCase().includes(w))) ?? "";
    setMapping({
      phone: guess(["phone", "mobile", "cell", "number"]),
      name: guess(["name"]),
      email: guess(["mail"]),
      timezone: guess(["zone"]),
      consent: guess(["consent", "opt", "subscri"]),
      labels: guess(["label", "tag"]),
    });
  };

  const start = async () => {
    if (!file) return;
    setError(null);
    const map = Object.entries(mapping)
      .filter(([, column]) => column)
      .map(([target, column]) => `${target}:${column}`)
      .join(",");
    try {
      const labels = labelAll.trim() ? `&labels=${encodeURIComponent(labelAll.trim())}` : "";
      const res = await fetch(`/api/imports?map=${encodeURIComponent(map)}&country=${country}${labels}`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "text/csv" },
        body: file,
      });
      const json = await res.json();
      if (!res.ok) throw new Error(json?.error?.message ?? `Upload failed (${res.status}).`);
      setJob(json as ImportJson);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section class="card" aria-labelledby="import-title">
      <h2 id="import-title">Import contacts from CSV</h2>
      <label>
        CSV file (up to 10 MB, 50,000 rows)
        <input
          type="file"
          accept=".csv,text/csv"
          onChange={(e) => pick((e.target as HTMLInputElement).files?.[0] ?? null)}
        />
      </label>
      {columns.length > 0 && !job && (
        <>
          <div class="row wrap">
            {TARGETS.map(([target, label]) => (
              <label key={target}>
                {label}
                <select
                  value={mapping[target] ?? ""}
                  onChange={(e) => setMapping({ ...mapping, [target]: (e.target as HTMLSelectElement).value })}
                >
                  <option value="">(none)</option>
                  {columns.map((c) => (
                    <option key={c} value={c}>
                      {c}
                    </option>
                  ))}
                </select>
              </label>
            ))}
            <label>
              Label every imported contact
              <input
                value={labelAll}
                placeholder="Newsletter, 2026 fair"
                onInput={(e) => setLabelAll((e.target as HTMLInputElement).value)}
              />
            </label>
            <label>
              Country for numbers without a code
              <input
                value={country}
                maxLength={2}
                onInput={(e) => setCountry((e.target as HTMLInputElement).value.toUpperCase())}
              />
            </label>
          </div>
          <table class="table small">
            <caption>First rows of the file</caption>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {preview.map((r, i) => (
                <tr key={i}>
                  {r.map((cell, j) => (
                    <td key={j}>{cell}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" class="primary" disabled={!mapping.phone} onClick={start}>
            Import
          </button>
        </>
      )}
      {job && (
        <div role="status" aria-live="polite" class="import-progress">
          <progress max={1} value={job.progress} aria-label="Import progress" />{" "}
          {job.status === "failed"
            ? `Import failed: ${job.failure}`
            : `${job.status === "done" ? "Done" : "Importing"}: ${job.total} rows · ${job.imported} new · ${job.updated} updated · ${job.skipped} unchanged or skipped`}
          {job.errorCount > 0 && (
            <>
              <ul class="plain small import-errors">
                {job.errors.slice(0, 10).map((e) => (
                  <li key={e.row}>
                    Row {e.row}: {e.reason}
                  </li>
                ))}
              </ul>
              <a href={`/api/imports/${job.id}/errors.csv`} download>
                Download all {job.errorCount} errors (CSV)
              </a>
            </>
          )}
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

interface ExportJson {
  id: string;
  kind: "contacts" | "transcripts";
  status: "queued" | "running" | "done" | "failed";
  rows: number;
  failure: string | null;
  expiresAt: string;
  url: string | null;
}

/** Exports (owners and admins): contacts as CSV, transcripts over a date range as CSV or JSON. */
function Exports() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [format, setFormat] = useState<"csv" | "json">("csv");
  const [jobs, setJobs] = useState<(ExportJson & { link: string })[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const waiting = jobs.filter((j) => j.status === "queued" || j.status === "running");
    if (waiting.length === 0) return;
    const t = setTimeout(async () => {
      const fresh = await Promise.all(
        jobs.map(async (j) =>
          j.status === "queued" || j.status === "running"
            ? { ...(await api<ExportJson>("GET", `/api/exports/${j.id}`).catch(() => j)), link: j.link }
            : j,
        ),
      );
      setJobs(fresh);
    }, 1000);
    return () => clearTimeout(t);
  }, [jobs]);
  const start = async (body: Record<string, unknown>) => {
    setError(null);
    try {
      const job = await api<ExportJson>("POST", "/api/exports", body);
      setJobs((list) => [{ ...job, link: job.url ?? "" }, ...list]);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class="card" aria-labelledby="export-title">
      <h2 id="export-title">Export</h2>
      <div class="row wrap">
        <button type="button" onClick={() => start({ kind: "contacts" })}>
          Export contacts (CSV)
        </button>
      </div>
      <div class="row wrap">
        <label>
          Transcripts from
          <input type="date" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          to
          <input type="date" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Format
          <select value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value as "csv" | "json")}>
            <option value="csv">CSV</option>
            <option value="json">JSON</option>
          </select>
        </label>
        <button
          type="button"
          onClick={() =>
            start({
              kind: "transcripts",
              format,
              ...(from ? { from: new Date(`${from}T00:00:00`).toISOString() } : {}),
              ...(to ? { to: new Date(`${to}T23:59:59`).toISOString() } : {}),
            })
          }
        >
          Export transcripts
        </button>
      </div>
      <ul class="plain small" aria-live="polite">
        {jobs.map((j) => (
          <li key={j.id}>
            {j.kind === "contacts" ? "Contacts" : "Transcripts"}:{" "}
            {j.status === "done" ? (
              <>
                {j.rows} rows · <a href={j.link}>Download</a> (link valid until {new Date(j.expiresAt).toLocaleString()}
                )
              </>
            ) : j.status === "failed" ? (
              `failed: ${j.failure}`
            ) : (
              "preparing…"
            )}
          </li>
        ))}
      </ul>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
