/** Workspace settings: sender numbers (added from the Twilio account, removed safely), API keys with scopes (shown once), and the HELP auto-reply. */
import { useEffect, useState } from "preact/hooks";
import { API_KEY_SCOPES, DEFAULT_KEY_SCOPES, SCOPE_DESCRIPTIONS, type Scope } from "../../src/shared/scopes";
import { ApiError, api } from "./api";
import { ArchiveSettings } from "./archive";
import { InboxSettings } from "./channels";
import { SendingSettings, TemplateSettings } from "./policies";
import { AssignmentSettings, DeleteWorkspace, LabelSettings, PasswordSettings, TeamSettings } from "./team";
import type { Me, Page } from "./types";
import { WebhookSettings } from "./webhooks";

interface NumberRow {
  id: string;
  phoneNumber: string;
  label: string | null;
  ratePerSecond: number | null;
}
interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  scopes: string[];
}

export function Settings(props: { me: Me; onChanged: () => void; onBack: () => void }) {
  const admin = props.me.role === "owner" || props.me.role === "admin";
  return (
    <main class="settings">
      <button type="button" class="link" onClick={props.onBack}>
        ← Back to the inbox
      </button>
      <h1>Settings</h1>
      <TeamSettings me={props.me} />
      <AssignmentSettings me={props.me} />
      <LabelSettings me={props.me} />
      <TemplateSettings me={props.me} />
      <SendingSettings me={props.me} />
      <Numbers admin={admin} />
      <InboxSettings admin={admin} />
      {admin && props.me.user && <Keys />}
      {admin && <WebhookSettings />}
      {admin && <ArchiveSettings />}
      <HelpText me={props.me} admin={admin} onChanged={props.onChanged} />
      {props.me.user && <PasswordSettings />}
      <DeleteWorkspace me={props.me} />
    </main>
  );
}

function message(err: unknown, field?: string): string {
  if (err instanceof ApiError) {
    const f = field ? err.fieldMessage(field) : null;
    const names: Record<string, string> = {
      phoneNumber: "Phone number",
      ratePerSecond: "Rate limit",
      helpText: "HELP reply",
      name: "Name",
    };
    return f && field ? `${names[field] ?? field}: ${f}` : err.message;
  }
  return String(err);
}

function Numbers({ admin }: { admin: boolean }) {
  const [items, setItems] = useState<NumberRow[]>([]);
  const [phone, setPhone] = useState("");
  const [label, setLabel] = useState("");
  const [rate, setRate] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const load = async () => setItems((await api<Page<NumberRow>>("GET", "/api/numbers")).items);
  useEffect(() => {
    load().catch((e) => setStatus(message(e)));
  }, []);
  const remove = async (n: NumberRow) => {
    if (!confirm(`Remove ${n.phoneNumber}? Conversations keep their history; new texts to it stop arriving here.`))
      return;
    try {
      await api("DELETE", `/api/numbers/${n.id}`);
      setStatus(`${n.phoneNumber} removed.`);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "number_in_use")) return setStatus(message(err));
      const waiting = (err.details as { waiting?: number } | undefined)?.waiting ?? 0;
      if (
        !confirm(`${waiting} message(s) are still waiting to go out from ${n.phoneNumber}. Cancel them and remove it?`)
      )
        return setStatus(`${n.phoneNumber} kept: ${waiting} message(s) still waiting.`);
      try {
        await api("DELETE", `/api/numbers/${n.id}?cancel=true`);
        setStatus(`${n.phoneNumber} removed; ${waiting} waiting message(s) canceled.`);
      } catch (again) {
        return setStatus(message(again));
      }
    }
    await load();
  };
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      await api("POST", "/api/numbers", {
        phoneNumber: phone,
        label: label || undefined,
        ratePerSecond: rate ? Number(rate) : undefined,
      });
      setPhone("");
      setLabel("");
      setRate("");
      setStatus("Number added.");
      await load();
    } catch (err) {
      setStatus(message(err, "phoneNumber"));
    }
  };
  return (
    <section aria-labelledby="numbers-title" class="card">
      <h2 id="numbers-title">Sender numbers</h2>
      <ul class="plain">
        {items.map((n) => (
          <li key={n.id}>
            <strong>{n.phoneNumber}</strong> {n.label && <span class="muted">{n.label}</span>}{" "}
            <span class="muted small">{n.ratePerSecond ? `· at most ${n.ratePerSecond} segments/s` : ""}</span>{" "}
            {admin && (
              <button type="button" class="link" onClick={() => remove(n)}>
                Remove
              </button>
            )}
          </li>
        ))}
        {items.length === 0 && (
          <li class="muted">
            No numbers yet: add a number of your Twilio account; Parley points its webhooks here for you.
          </li>
        )}
      </ul>
      {admin && (
        <form onSubmit={add} class="row wrap">
          <label>
            Phone number
            <input
              name="phoneNumber"
              type="tel"
              value={phone}
              placeholder="+1 415 555 0100"
              onInput={(e) => setPhone((e.target as HTMLInputElement).value)}
              required
            />
          </label>
          <label>
            Label
            <input name="label" value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Rate limit (segments/s, optional)
            <input
              name="ratePerSecond"
              type="number"
              min={1}
              step={1}
              value={rate}
              onInput={(e) => setRate((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" class="primary">
            Add number
          </button>
        </form>
      )}
      <p role="status" class="small">
        {status}
      </p>
    </section>
  );
}

function Keys() {
  const [items, setItems] = useState<KeyRow[]>([]);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>([...DEFAULT_KEY_SCOPES]);
  const [fresh, setFresh] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const load = async () => setItems((await api<Page<KeyRow>>("GET", "/api/api-keys")).items);
  useEffect(() => {
    load().catch((e) => setStatus(message(e)));
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const created = await api<{ key: string }>("POST", "/api/api-keys", { name, scopes });
      setFresh(created.key);
      setName("");
      setScopes([...DEFAULT_KEY_SCOPES]);
      await load();
    } catch (err) {
      setStatus(message(err, "name"));
    }
  };
  const revoke = async (id: string) => {
    if (!confirm("Revoke this key? Integrations using it stop working at once.")) return;
    await api("DELETE", `/api/api-keys/${id}`);
    await load();
  };
  return (
    <section aria-labelledby="keys-title" class="card">
      <h2 id="keys-title">API keys</h2>
      {fresh && (
        <p class="notice" role="status">
          Copy this key now; it is not shown again: <code>{fresh}</code>{" "}
          <button type="button" class="link" onClick={() => navigator.clipboard?.writeText(fresh)}>
            Copy
          </button>
        </p>
      )}
      <ul class="plain">
        {items.map((k) => (
          <li key={k.id}>
            <strong>{k.name}</strong> <code>{k.prefix}…</code> <span class="small">{k.scopes.join(" · ")}</span>{" "}
            <span class="muted small">
              {k.lastUsedAt ? `used ${new Date(k.lastUsedAt).toLocaleString()}` : "never used"}
            </span>{" "}
            <button type="button" class="link" onClick={() => revoke(k.id)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
      <form onSubmit={create} class="row wrap">
        <label>
          Key name
          <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        </label>
        <fieldset class="scopes">
          <legend>What the key may do</legend>
          {API_KEY_SCOPES.map((scope) => (
            <label key={scope} title={SCOPE_DESCRIPTIONS[scope]}>
              <input
                type="checkbox"
                name="scope"
                value={scope}
                checked={scopes.includes(scope)}
                onChange={(e) =>
                  setScopes((list) =>
                    (e.target as HTMLInputElement).checked ? [...list, scope] : list.filter((s) => s !== scope),
                  )
                }
              />{" "}
              <code>{scope}</code> <span class="muted small">{SCOPE_DESCRIPTIONS[scope]}</span>
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={scopes.length === 0}>
          Create key
        </button>
      </form>
      <p role="status" class="small">
        {status}
      </p>
    </section>
  );
}

function HelpText(props: { me: Me; admin: boolean; onChanged: () => void }) {
  const [text, setText] = useState(props.me.workspace.helpText);
  const [status, setStatus] = useState<string | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await api("PATCH", "/api/workspace", { helpText: text });
      setStatus("Saved. Customers who text HELP or INFO get this reply.");
      props.onChanged();
    } catch (err) {
      setStatus(message(err, "helpText"));
    }
  };
  return (
    <section aria-labelledby="help-title" class="card">
      <h2 id="help-title">HELP reply</h2>
      <form onSubmit={save}>
        <label>
          Reply to HELP and INFO
          <textarea
            rows={3}
            value={text}
            disabled={!props.admin}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        {props.admin && (
          <button type="submit" class="primary">
            Save reply
          </button>
        )}
      </form>
      <p role="status" class="small">
        {status}
      </p>
    </section>
  );
}
