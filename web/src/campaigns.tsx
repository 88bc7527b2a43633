/**
 * The campaigns page: the list with live progress, a builder (audience from labels, a custom field or
 * every contact; a template or a text; one or more sender numbers; now or later), and each campaign's
 * counts with pause, resume and cancel. Progress arrives as `campaign` frames on /api/ws (a poll
 * covers a dropped socket).
 */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { CampaignJson } from "../../src/shared/frames";
import { api, errorText } from "./api";
import { shortWhen } from "./format";
import { useLabels } from "./team";
import type { Me } from "./types";

interface NumberItem {
  id: string;
  phoneNumber: string;
  label: string | null;
  ratePerSecond: number | null;
}
interface TemplateItem {
  id: string;
  name: string;
  body: string;
}

const STATUS_TEXT: Record<CampaignJson["status"], string> = {
  draft: "Draft",
  scheduled: "Scheduled",
  running: "Sending",
  paused: "Paused",
  completed: "Completed",
  canceled: "Canceled",
};

function pausedWhy(c: CampaignJson): string | null {
  if (c.status !== "paused") return null;
  if (c.pausedReason === "opt_out_rate")
    return "Paused by Parley: too many recipients opted out. Check the text before resuming.";
  if (c.pausedReason === "no_senders") return "Paused: none of its sender numbers is left in the workspace.";
  return "Paused by a person.";
}

/** Live campaign frames for one page (main.tsx re-dispatches them as `parley:campaign` events). */
function useCampaignFrames(onFrame: (c: CampaignJson) => void) {
  useEffect(() => {
    const handler = (e: Event) => onFrame((e as CustomEvent<CampaignJson>).detail);
    addEventListener("parley:campaign", handler);
    return () => removeEventListener("parley:campaign", handler);
  }, []);
}

export function CampaignsPage(props: { me: Me; go: (to: string) => void }) {
  const [items, setItems] = useState<CampaignJson[]>([]);
  const [openId, setOpenId] = useState<string | null>(null);
  const [building, setBuilding] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const admin = props.me.role === "owner" || props.me.role === "admin";

  const load = async () => {
    try {
      setItems((await api<{ items: CampaignJson[] }>("GET", "/api/campaigns")).items);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    load();
  }, []);
  useCampaignFrames((c) =>
    setItems((list) => (list.some((x) => x.id === c.id) ? list.map((x) => (x.id === c.id ? c : x)) : [c, ...list])),
  );
  // A running campaign is polled too, in case the socket dropped a frame.
  useEffect(() => {
    if (!items.some((c) => c.status === "running")) return;
    const t = setTimeout(load, 3000);
    return () => clearTimeout(t);
  }, [items]);

  const open = items.find((c) => c.id === openId) ?? null;
  return (
    <main class="settings wide campaigns-page">
      <button type="button" class="link" onClick={() => props.go("/")}>
        ← Back to the inbox
      </button>
      <h1>Campaigns</h1>
      <p class="muted">
        One text to many contacts. Campaign messages go out at each number's pace and always after your conversations'
        replies; opted-out numbers are skipped and quiet hours respected.
      </p>
      {admin && !building && (
        <button type="button" class="primary" onClick={() => setBuilding(true)}>
          New campaign
        </button>
      )}
      {building && (
        <CampaignBuilder
          onCancel={() => setBuilding(false)}
          onCreated={(c) => {
            setBuilding(false);
            setItems((list) => [c, ...list]);
            setOpenId(c.id);
          }}
        />
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {open && (
        <CampaignView
          campaign={open}
          admin={admin}
          onChanged={(c) => setItems((l) => l.map((x) => (x.id === c.id ? c : x)))}
        />
      )}
      <table class="table campaigns">
        <caption class="sr-only">Campaigns</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Sent · delivered · replied</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.id} aria-selected={c.id === openId}>
              <td>
                <button type="button" class="link" onClick={() => setOpenId(c.id)}>
                  {c.name}
                </button>
              </td>
              <td>
                <span class={`badge campaign-${c.status}`}>{STATUS_TEXT[c.status]}</span>
              </td>
              <td>
                <progress max={1} value={c.progress} aria-label={`${c.name} progress`} /> {Math.round(c.progress * 100)}
                %
              </td>
              <td>
                {c.counts.sent} · {c.counts.delivered} · {c.counts.replied}
              </td>
              <td>{shortWhen(c.createdAt)}</td>
            </tr>
          ))}
          {items.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                No campaigns yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </main>
  );
}

/** One campaign: its counts as they change, and the controls its state allows. */
function CampaignView(props: { campaign: CampaignJson; admin: boolean; onChanged: (c: CampaignJson) => void }) {
  const c = props.campaign;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (action: "start" | "pause" | "resume" | "cancel") => {
    if (action === "cancel" && !confirm(`Cancel “${c.name}”? Messages not sent yet will not go out.`)) return;
    setBusy(true);
    setError(null);
    try {
      props.onChanged(await api<CampaignJson>("POST", `/api/campaigns/${c.id}/${action}`));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const n = c.counts;
  const why = pausedWhy(c);
  return (
    <section class="card campaign-view" aria-labelledby="campaign-title">
      <h2 id="campaign-title">
        {c.name} <span class={`badge campaign-${c.status}`}>{STATUS_TEXT[c.status]}</span>
      </h2>
      {why && (
        <p class={c.pausedReason ? "warning" : "muted"} role={c.pausedReason ? "alert" : undefined}>
          {why}
        </p>
      )}
      {c.status === "scheduled" && c.sendAt && <p class="muted">Starts {new Date(c.sendAt).toLocaleString()}.</p>}
      <div role="status" aria-live="polite" class="campaign-progress">
        <progress max={1} value={c.progress} aria-label="Campaign progress" /> {Math.round(c.progress * 100)}% of{" "}
        {n.audience} contacts
      </div>
      <dl class="counts">
        {(
          [
            ["Audience", n.audience],
            ["Waiting", n.queued],
            ["Sent", n.sent],
            ["Delivered", n.delivered],
            ["Failed", n.failed],
            ["Skipped (opted out)", n.skippedOptOut],
            ["Held for quiet hours", n.skippedQuietHours],
            ["Replied", n.replied],
            ["Opted out since", n.optedOut],
            ["Canceled", n.canceled],
          ] as const
        ).map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd data-count={label}>{value}</dd>
          </div>
        ))}
      </dl>
      {props.admin && (
        <div class="row">
          {c.status === "draft" && (
            <button type="button" class="primary" disabled={busy} onClick={() => act("start")}>
              {c.sendAt ? "Schedule" : `Start sending to ${n.audience}`}
            </button>
          )}
          {(c.status === "running" || c.status === "scheduled") && (
            <button type="button" disabled={busy} onClick={() => act("pause")}>
              Pause
            </button>
          )}
          {c.status === "paused" && (
            <button type="button" class="primary" disabled={busy} onClick={() => act("resume")}>
              Resume
            </button>
          )}
          {["draft", "scheduled", "running", "paused"].includes(c.status) && (
            <button type="button" class="danger" disabled={busy} onClick={() => act("cancel")}>
              Cancel campaign
            </button>
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

/** The builder: who, what, from which numbers, when. Creates a draft showing how many it will reach. */
function CampaignBuilder(props: { onCreated: (c: CampaignJson) => void; onCancel: () => void }) {
  // Fresh: an import may have just created labels.
  const [labels, reloadLabels] = useLabels();
  const [numbers, setNumbers] = useState<NumberItem[]>([]);
  const [templates, setTemplates] = useState<TemplateItem[]>([]);
  const [name, setName] = useState("");
  const [who, setWho] = useState<"labels" | "field" | "all">("labels");
  const [chosenLabels, setChosenLabels] = useState<string[]>([]);
  const [field, setField] = useState("");
  const [templateId, setTemplateId] = useState("");
  const [body, setBody] = useState("");
  const [from, setFrom] = useState<string[]>([]);
  const [sendAt, setSendAt] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    reloadLabels();
    api<{ items: NumberItem[] }>("GET", "/api/numbers").then(
      (r) => {
        setNumbers(r.items);
        setFrom(r.items.slice(0, 1).map((n) => n.id));
      },
      () => undefined,
    );
    api<{ items: TemplateItem[] }>("GET", "/api/templates").then(
      (r) => setTemplates(r.items),
      () => undefined,
    );
  }, []);

  const audience = () => {
    if (who === "labels") return { labels: chosenLabels };
    if (who === "field") {
      const at = field.indexOf(":");
      return { filter: { fields: { [field.slice(0, at).trim()]: field.slice(at + 1).trim() } } };
    }
    return { filter: {} };
  };
  const valid =
    name.trim() &&
    from.length > 0 &&
    (templateId || body.trim()) &&
    (who !== "labels" || chosenLabels.length > 0) &&
    (who !== "field" || /^[A-Za-z][A-Za-z0-9_]*:.+$/.test(field.trim()));

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api<CampaignJson>("POST", "/api/campaigns", {
        name: name.trim(),
        audience: audience(),
        ...(templateId ? { templateId } : { body: body.trim() }),
        from,
        ...(sendAt ? { sendAt: new Date(sendAt).toISOString() } : {}),
      });
      props.onCreated(created);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const preview = templates.find((t) => t.id === templateId)?.body;
  return (
    <form class="card campaign-builder" onSubmit={create} aria-labelledby="builder-title">
      <h2 id="builder-title">New campaign</h2>
      <label>
        Name
        <input value={name} required maxLength={100} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </label>
      <fieldset>
        <legend>Who</legend>
        <label class="inline">
          <input type="radio" name="who" checked={who === "labels"} onChange={() => setWho("labels")} /> Contacts with a
          label
        </label>
        <label class="inline">
          <input type="radio" name="who" checked={who === "field"} onChange={() => setWho("field")} /> A custom field
        </label>
        <label class="inline">
          <input type="radio" name="who" checked={who === "all"} onChange={() => setWho("all")} /> Every contact
        </label>
        {who === "labels" && (
          <div class="row wrap">
            {labels.map((l) => (
              <Check
                key={l.id}
                name="campaign-label"
                value={l.name}
                id={l.id}
                chosen={chosenLabels}
                onChange={setChosenLabels}
              >
                {l.name}
              </Check>
            ))}
            {labels.length === 0 && <span class="muted">No labels yet.</span>}
          </div>
        )}
        {who === "field" && (
          <label>
            Custom field (key:value)
            <input
              value={field}
              placeholder="plan:Pro"
              onInput={(e) => setField((e.target as HTMLInputElement).value)}
            />
          </label>
        )}
        <p class="small muted">Opted-out numbers are never texted; they are counted as skipped.</p>
      </fieldset>
      <fieldset>
        <legend>What</legend>
        <label>
          Template
          <select value={templateId} onChange={(e) => setTemplateId((e.target as HTMLSelectElement).value)}>
            <option value="">(write a text instead)</option>
            {templates.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        {templateId ? (
          <p class="small template-preview">{preview}</p>
        ) : (
          <label>
            Text
            <textarea
              value={body}
              maxLength={1600}
              rows={3}
              onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)}
            />
          </label>
        )}
      </fieldset>
      <fieldset>
        <legend>From</legend>
        <div class="row wrap">
          {numbers.map((n) => (
            <Check key={n.id} name="campaign-number" value={n.phoneNumber} id={n.id} chosen={from} onChange={setFrom}>
              {n.label ? `${n.label} (${n.phoneNumber})` : n.phoneNumber}
              {n.ratePerSecond ? <span class="muted small"> · {n.ratePerSecond}/s</span> : null}
            </Check>
          ))}
        </div>
      </fieldset>
      <label>
        Send later (optional)
        <input type="datetime-local" value={sendAt} onInput={(e) => setSendAt((e.target as HTMLInputElement).value)} />
      </label>
      <div class="row">
        <button type="submit" class="primary" disabled={!valid || busy}>
          Save draft
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** A checkbox that adds its id to, or takes it from, a chosen list. */
function Check(props: {
  name: string;
  value: string;
  id: string;
  chosen: string[];
  onChange: (update: (list: string[]) => string[]) => void;
  children: ComponentChildren;
}) {
  return (
    <label class="inline">
      <input
        type="checkbox"
        name={props.name}
        value={props.value}
        checked={props.chosen.includes(props.id)}
        onChange={(e) => {
          const on = (e.target as HTMLInputElement).checked;
          props.onChange((list) => (on ? [...list, props.id] : list.filter((x) => x !== props.id)));
        }}
      />{" "}
      {props.children}
    </label>
  );
}
