/**
 * Settings → Integrations: webhook endpoints (owners and admins). Add one with the events it wants (its
 * signing secret is shown once), see whether it is healthy, read its delivery log with each response
 * code, redeliver an event, enable or disable it, remove it.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "./api";
import type { Page } from "./types";

interface Endpoint {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  lastSuccessAt: string | null;
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: "pending" | "retrying" | "succeeded" | "failed";
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
}

const EVENTS = [
  ["message.received", "A customer's message arrives"],
  ["message.status", "A message's delivery status changes"],
  ["conversation.created", "A conversation starts"],
  ["conversation.assigned", "A conversation is assigned"],
  ["conversation.resolved", "A conversation is resolved"],
  ["contact.opted_out", "A contact opts out"],
  ["campaign.completed", "A campaign completes"],
  ["alert.opened", "An alert opens"],
] as const;

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "medium" }) : "—";
}

export function WebhookSettings() {
  const [items, setItems] = useState<Endpoint[]>([]);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>(["message.received", "message.status"]);
  const [secret, setSecret] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const load = async () => setItems((await api<Page<Endpoint>>("GET", "/api/webhooks")).items);
  useEffect(() => {
    load().catch((e) => setStatus(errorText(e)));
  }, []);
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      const created = await api<Endpoint & { secret: string }>("POST", "/api/webhooks", { url, events });
      setSecret(created.secret);
      setUrl("");
      setStatus("Endpoint added. Copy its signing secret now: it is not shown again.");
      await load();
    } catch (err) {
      setStatus(errorText(err, "url") || errorText(err));
    }
  };
  const toggle = async (ep: Endpoint) => {
    try {
      await api("PATCH", `/api/webhooks/${ep.id}`, { enabled: !ep.enabled });
      await load();
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  const remove = async (ep: Endpoint) => {
    if (!confirm(`Remove the webhook ${ep.url} and its delivery log?`)) return;
    try {
      await api("DELETE", `/api/webhooks/${ep.id}`);
      setStatus("Endpoint removed.");
      await load();
    } catch (err) {
      setStatus(errorText(err));
    }
  };
  return (
    <section aria-labelledby="webhooks-title" class="card">
      <h2 id="webhooks-title">Integrations: webhooks</h2>
      <p class="muted small">
        Parley POSTs each event as JSON, signed per Standard Webhooks (<code>webhook-id</code>,{" "}
        <code>webhook-timestamp</code>, <code>webhook-signature</code>); failures are retried for 24 hours, then the
        endpoint is disabled and admins are told.
      </p>
      <ul class="plain webhook-list">
        {items.map((ep) => (
          <li key={ep.id}>
            <strong>{ep.url}</strong>{" "}
            <span class={ep.enabled ? (ep.failingSince ? "bad" : "ok") : "bad"}>
              {!ep.enabled ? "disabled" : ep.failingSince ? `failing since ${when(ep.failingSince)}` : "healthy"}
            </span>
            <div class="muted small">
              {ep.events.join(", ")}
              {ep.disabledReason ? ` · ${ep.disabledReason}` : ""}
              {ep.lastSuccessAt ? ` · last success ${when(ep.lastSuccessAt)}` : ""}
            </div>
            <span class="row">
              <button type="button" class="link" onClick={() => setOpen(open === ep.id ? null : ep.id)}>
                {open === ep.id ? "Hide deliveries" : "Deliveries"}
              </button>
              <button type="button" class="link" onClick={() => toggle(ep)}>
                {ep.enabled ? "Disable" : "Enable"}
              </button>
              <button type="button" class="link danger" onClick={() => remove(ep)}>
                Remove
              </button>
            </span>
            {open === ep.id && <DeliveryLog endpoint={ep} onStatus={setStatus} />}
          </li>
        ))}
        {items.length === 0 && <li class="muted">No webhooks yet.</li>}
      </ul>
      <form onSubmit={add} aria-label="Add a webhook">
        <label>
          Endpoint URL
          <input
            type="url"
            value={url}
            placeholder="https://example.com/hooks/parley"
            onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
            required
          />
        </label>
        <fieldset class="plain">
          <legend>Events</legend>
          {EVENTS.map(([type, words]) => (
            <label key={type} class="check">
              <input
                type="checkbox"
                checked={events.includes(type)}
                onChange={(e) =>
                  setEvents(
                    (e.target as HTMLInputElement).checked ? [...events, type] : events.filter((x) => x !== type),
                  )
                }
              />{" "}
              <code>{type}</code> <span class="muted small">{words}</span>
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={events.length === 0}>
          Add webhook
        </button>
      </form>
      {secret && (
        <p class="notice" role="status">
          Signing secret: <code data-testid="webhook-secret">{secret}</code>
        </p>
      )}
      <p role="status" class="small">
        {status}
      </p>
    </section>
  );
}

function DeliveryLog(props: { endpoint: Endpoint; onStatus: (s: string) => void }) {
  const [items, setItems] = useState<Delivery[] | null>(null);
  const load = () =>
    api<Page<Delivery>>("GET", `/api/webhooks/${props.endpoint.id}/deliveries`).then(
      (p) => setItems(p.items),
      (err: unknown) => props.onStatus(errorText(err)),
    );
  // Deliveries happen in the background: the open log follows them.
  useEffect(() => {
    load();
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [props.endpoint.id]);
  const redeliver = async (d: Delivery) => {
    try {
      await api("POST", `/api/webhooks/${props.endpoint.id}/deliveries/${d.id}/redeliver`);
      props.onStatus(`${d.eventType} queued again.`);
      setTimeout(load, 1500);
    } catch (err) {
      props.onStatus(errorText(err));
    }
  };
  if (!items) return <p class="muted small">Loading deliveries…</p>;
  if (items.length === 0) return <p class="muted small">No deliveries yet.</p>;
  return (
    <table class="table small">
      <caption class="sr-only">Deliveries to {props.endpoint.url}</caption>
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
          <th scope="col">Response</th>
          <th scope="col">When</th>
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((d) => (
          <tr key={d.id} data-delivery={d.status}>
            <td>
              <code>{d.eventType}</code>
            </td>
            <td class={d.status === "succeeded" ? "ok" : d.status === "failed" ? "bad" : ""}>
              {d.status}
              {d.status === "retrying" && d.nextAttemptAt ? ` (next ${when(d.nextAttemptAt)})` : ""}
            </td>
            <td>{d.attempts}</td>
            <td>{d.lastStatusCode ?? d.lastError ?? "—"}</td>
            <td>{when(d.createdAt)}</td>
            <td>
              {d.status !== "pending" && (
                <button type="button" class="link" onClick={() => redeliver(d)}>
                  Redeliver
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
