/**
 * Operations (owners and admins): delivery health over `/api/ops/delivery`, refreshed every 10 s — counts by
 * status, stalled messages, dead letters, the oldest pending message, the Twilio breaker, and each cron
 * job's last run — with what to do when a figure is bad (the runbooks in docs/runbooks/).
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "./api";

export interface Alert {
  id: string;
  kind: string;
  subject: string | null;
  summary: string;
  status: "open" | "resolved";
  details: Record<string, unknown>;
  openedAt: string;
  resolvedAt: string | null;
}

const RUNBOOKS: Record<string, string> = {
  failure_rate: "twilio-outage.md",
  stuck_pending: "twilio-outage.md",
  dead_letters: "dlq-drain.md",
  opt_out_spike: "carrier-filtering.md",
  carrier_filtered: "carrier-filtering.md",
  webhook_disabled: "integration-webhooks.md",
};

function alertText(a: Alert): string {
  const d = a.details;
  const figures =
    a.kind === "failure_rate"
      ? `${d.failed} of ${d.total} (${d.percent} %)`
      : a.kind === "stuck_pending"
        ? `${d.messages} message(s), the oldest ${d.oldestMinutes} min`
        : a.kind === "dead_letters"
          ? `${d.lastHour} in the last hour`
          : a.kind === "opt_out_spike"
            ? `${d.lastHour} in the last hour (usually ${d.hourlyAverage})`
            : a.kind === "webhook_disabled"
              ? `${d.url}; enable it again in Settings → Webhooks once it answers`
              : `${a.subject}: ${d.filteredLastHour} filtered in the last hour`;
  return `${a.summary}: ${figures}.`;
}

/** Open alerts for owners and admins, above every page but Operations (checked every minute). */
export function AlertBanner(props: { onOpen: () => void }) {
  const [open, setOpen] = useState<Alert[]>([]);
  useEffect(() => {
    const load = () =>
      api<{ items: Alert[] }>("GET", "/api/alerts").then(
        (r) => setOpen(r.items),
        () => undefined,
      );
    load();
    const t = setInterval(load, 60_000);
    return () => clearInterval(t);
  }, []);
  if (open.length === 0) return null;
  return (
    <div class="alert-banner" role="alert" data-testid="alert-banner">
      <strong>
        {open.length} alert{open.length === 1 ? "" : "s"}:
      </strong>{" "}
      {open.map((a) => alertText(a)).join(" ")}{" "}
      <button type="button" class="link" onClick={props.onOpen}>
        Open Operations
      </button>
    </div>
  );
}

interface Delivery {
  at: string;
  byStatus: Record<string, number>;
  stalled: { queued: number; sent: number; pendingAttempts: number };
  deadLetters: { last24h: number; total: number };
  twilio: { breaker: "closed" | "open" | "half_open" };
  oldestPendingAgeSeconds: number | null;
  jobs: { name: string; lastStartedAt: string | null; lastSuccessAt: string | null; lastError: string | null }[];
}

const ORDER = [
  "scheduled",
  "pending",
  "queued",
  "sending",
  "sent",
  "delivery_unknown",
  "delivered",
  "read",
  "undelivered",
  "failed",
  "canceled",
  "received",
];

function ago(iso: string | null): string {
  if (!iso) return "never";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function OpsPage(props: { onBack: () => void }) {
  const [d, setD] = useState<Delivery | null>(null);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const load = () => {
      api<{ items: Alert[] }>("GET", "/api/alerts?status=all").then(
        (r) => setAlerts(r.items),
        () => undefined,
      );
      return api<Delivery>("GET", "/api/ops/delivery").then(
        (x) => {
          setD(x);
          setProblem(null);
        },
        (err: unknown) => setProblem(errorText(err)),
      );
    };
    load();
    const t = setInterval(load, 10_000);
    return () => clearInterval(t);
  }, []);
  const hints: { text: string; runbook: string }[] = [];
  for (const a of alerts.filter((x) => x.status === "open"))
    hints.push({ text: alertText(a), runbook: RUNBOOKS[a.kind] ?? "README.md" });
  if (d) {
    if (d.twilio.breaker !== "closed")
      hints.push({
        text: `Twilio is not answering: the breaker is ${d.twilio.breaker}; sends are held.`,
        runbook: "twilio-outage.md",
      });
    if (d.deadLetters.last24h > 0)
      hints.push({
        text: `${d.deadLetters.last24h} message(s) ran out of retries in the last 24 h.`,
        runbook: "dlq-drain.md",
      });
    if ((d.oldestPendingAgeSeconds ?? 0) > 600)
      hints.push({
        text: `A message has been pending for ${Math.round((d.oldestPendingAgeSeconds ?? 0) / 60)} min.`,
        runbook: "twilio-outage.md",
      });
    if (d.stalled.queued + d.stalled.sent > 0)
      hints.push({
        text: `${d.stalled.queued + d.stalled.sent} message(s) have no status report for too long (reconciliation asks Twilio).`,
        runbook: "webhook-signature-failures.md",
      });
  }
  return (
    <main class="settings ops">
      <button type="button" class="link" onClick={props.onBack}>
        ← Back to the inbox
      </button>
      <h1>Operations</h1>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {!d && !problem && <p class="muted">Loading…</p>}
      {d && (
        <>
          <section class="card" aria-labelledby="ops-health">
            <h2 id="ops-health">Health</h2>
            {hints.length === 0 ? (
              <p class="ok" data-testid="ops-ok">
                All clear: Twilio answering, nothing stalled, no dead letters today.
              </p>
            ) : (
              <ul class="plain" data-testid="ops-alerts">
                {hints.map((a) => (
                  <li key={a.text} class="bad">
                    {a.text} <span class="muted small">Runbook: docs/runbooks/{a.runbook}</span>
                  </li>
                ))}
              </ul>
            )}
            <dl class="stats">
              <div>
                <dt>Twilio breaker</dt>
                <dd>{d.twilio.breaker}</dd>
              </div>
              <div>
                <dt>Oldest pending</dt>
                <dd>{d.oldestPendingAgeSeconds === null ? "none" : `${Math.round(d.oldestPendingAgeSeconds)} s`}</dd>
              </div>
              <div>
                <dt>Dead letters (24 h / all)</dt>
                <dd>
                  {d.deadLetters.last24h} / {d.deadLetters.total}
                </dd>
              </div>
              <div>
                <dt>Stalled (queued / sent / unknown attempts)</dt>
                <dd>
                  {d.stalled.queued} / {d.stalled.sent} / {d.stalled.pendingAttempts}
                </dd>
              </div>
            </dl>
            <p class="muted small">As of {new Date(d.at).toLocaleTimeString()} · refreshes every 10 s</p>
          </section>
          <section class="card" aria-labelledby="ops-alerts">
            <h2 id="ops-alerts">Alerts</h2>
            {alerts.length === 0 ? (
              <p class="muted">No alerts yet. Parley checks every minute.</p>
            ) : (
              <table class="table small">
                <caption class="sr-only">Alerts, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Alert</th>
                    <th scope="col">Opened</th>
                    <th scope="col">Resolved</th>
                  </tr>
                </thead>
                <tbody>
                  {alerts.map((a) => (
                    <tr key={a.id} data-alert={a.status}>
                      <td class={a.status === "open" ? "bad" : ""}>{alertText(a)}</td>
                      <td>{new Date(a.openedAt).toLocaleString()}</td>
                      <td>{a.resolvedAt ? new Date(a.resolvedAt).toLocaleString() : "open"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section class="card" aria-labelledby="ops-status">
            <h2 id="ops-status">Messages by status</h2>
            <table class="table">
              <caption class="sr-only">Messages by status</caption>
              <tbody>
                {ORDER.filter((s) => d.byStatus[s] !== undefined).map((s) => (
                  <tr key={s}>
                    <th scope="row">{s.replace("_", " ")}</th>
                    <td data-status={s}>{d.byStatus[s]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section class="card" aria-labelledby="ops-jobs">
            <h2 id="ops-jobs">Scheduled jobs</h2>
            <table class="table">
              <caption class="sr-only">Cron jobs</caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Last success</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {d.jobs.map((j) => (
                  <tr key={j.name} data-job={j.name}>
                    <td>{j.name}</td>
                    <td>{ago(j.lastStartedAt)}</td>
                    <td>{ago(j.lastSuccessAt)}</td>
                    <td class={j.lastError ? "bad" : "muted"}>{j.lastError ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
    </main>
  );
}
