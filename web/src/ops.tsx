/**
 * Operations (owners and admins): delivery health over `/api/ops/delivery`, refreshed every 10 s — counts by
 * status, stalled messages, dead letters, the oldest pending message, the Twilio breaker, and each cron
 * job's last run — with what to do when a figure is bad (the runbooks in docs/runbooks/).
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "./api";

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
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const load = () =>
      api<Delivery>("GET", "/api/ops/delivery").then(
        (x) => {
          setD(x);
          setProblem(null);
        },
        (err: unknown) => setProblem(errorText(err)),
      );
    load();
    const t = setInterval(load, 10_000);
    return () => clearInterval(t);
  }, []);
  const alerts: { text: string; runbook: string }[] = [];
  if (d) {
    if (d.twilio.breaker !== "closed")
      alerts.push({
        text: `Twilio is not answering: the breaker is ${d.twilio.breaker}; sends are held.`,
        runbook: "twilio-outage.md",
      });
    if (d.deadLetters.last24h > 0)
      alerts.push({
        text: `${d.deadLetters.last24h} message(s) ran out of retries in the last 24 h.`,
        runbook: "dlq-drain.md",
      });
    if ((d.oldestPendingAgeSeconds ?? 0) > 600)
      alerts.push({
        text: `A message has been pending for ${Math.round((d.oldestPendingAgeSeconds ?? 0) / 60)} min.`,
        runbook: "twilio-outage.md",
      });
    if (d.stalled.queued + d.stalled.sent > 0)
      alerts.push({
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
            {alerts.length === 0 ? (
              <p class="ok" data-testid="ops-ok">
                All clear: Twilio answering, nothing stalled, no dead letters today.
              </p>
            ) : (
              <ul class="plain" data-testid="ops-alerts">
                {alerts.map((a) => (
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
