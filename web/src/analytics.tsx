/**
 * The analytics dashboard (owners and admins): a date range (7, 30 or 90 days, or chosen), hour or day,
 * an inbox and an agent; totals, a volume chart and a delivery chart, first-response and resolution
 * times, failures by code in words, per-agent figures, campaigns; CSV export. The charting library
 * (uPlot) loads only on this page, so the inbox's first load stays small.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "./api";
import { useInboxes } from "./channels";
import { useMembers } from "./team";

interface Timing {
  count: number;
  medianMs: number | null;
  p90Ms: number | null;
}

interface Report {
  from: string;
  to: string;
  granularity: "hour" | "day";
  totals: {
    inbound: number;
    outbound: number;
    delivered: number;
    failed: number;
    segments: number;
    deliveryRate: number | null;
    optOuts: number;
  };
  byChannel: Record<string, { inbound: number; outbound: number }>;
  series: { t: string; inbound: number; outbound: number; delivered: number; failed: number; segments: number }[];
  firstResponse: Timing;
  resolution: Timing;
  failures: { code: number; description: string; count: number }[];
  agents: { agentId: string; name: string | null; outbound: number; firstResponse: Timing; resolution: Timing }[];
  campaigns: { id: string; name: string; status: string; sent: number; delivered: number; replied: number }[];
}

const DAY = 86_400_000;

function duration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 3_600_000) return `≤ ${Math.round(ms / 60_000)} min`;
  return `≤ ${Math.round(ms / 3_600_000)} h`;
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A line chart of some series of the report, drawn by uPlot (loaded on first use). */
function Chart(props: {
  report: Report;
  series: { key: keyof Report["series"][number]; label: string; color: string }[];
  title: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let plot: { destroy(): void } | null = null;
    let cancelled = false;
    (async () => {
      const [{ default: uPlot }] = await Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]);
      if (cancelled || !ref.current) return;
      const xs = props.report.series.map((p) => Date.parse(p.t) / 1000);
      const data = [xs, ...props.series.map((s) => props.report.series.map((p) => Number(p[s.key])))];
      plot = new uPlot(
        {
          width: Math.min(ref.current.clientWidth || 640, 900),
          height: 220,
          series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
          axes: [{}, { size: 50 }],
        },
        data as never,
        ref.current,
      );
    })();
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [props.report]);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={ref} data-testid={`chart-${props.title}`} />
    </figure>
  );
}

export function AnalyticsPage(props: { onBack: () => void }) {
  const inboxes = useInboxes();
  const members = useMembers();
  const [to, setTo] = useState(() => isoDay(Date.now()));
  const [from, setFrom] = useState(() => isoDay(Date.now() - 29 * DAY));
  const [granularity, setGranularity] = useState<"hour" | "day">("day");
  const [inbox, setInbox] = useState("");
  const [agent, setAgent] = useState("");
  const [report, setReport] = useState<Report | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const query = () => {
    const p = new URLSearchParams({
      from: new Date(`${from}T00:00:00Z`).toISOString(),
      to: new Date(Date.parse(`${to}T00:00:00Z`) + DAY).toISOString(),
      granularity,
    });
    if (inbox) p.set("inbox", inbox);
    if (agent) p.set("agent", agent);
    return p.toString();
  };
  useEffect(() => {
    setProblem(null);
    api<Report>("GET", `/api/analytics?${query()}`).then(setReport, (err: unknown) => setProblem(errorText(err)));
  }, [from, to, granularity, inbox, agent]);
  const preset = (days: number) => {
    setTo(isoDay(Date.now()));
    setFrom(isoDay(Date.now() - (days - 1) * DAY));
  };
  const t = report?.totals;
  return (
    <main class="settings analytics">
      <button type="button" class="link" onClick={props.onBack}>
        ← Back to the inbox
      </button>
      <h1>Analytics</h1>
      <form
        class="row wrap analytics-filters"
        onSubmit={(e) => e.preventDefault()}
        aria-label="Report range and filters"
      >
        <label>
          From
          <input type="date" value={from} max={to} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          To
          <input type="date" value={to} min={from} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </label>
        <span class="row">
          {[7, 30, 90].map((d) => (
            <button key={d} type="button" onClick={() => preset(d)}>
              {d} days
            </button>
          ))}
        </span>
        <label>
          By
          <select
            value={granularity}
            onChange={(e) => setGranularity((e.target as HTMLSelectElement).value as "hour" | "day")}
          >
            <option value="day">Day</option>
            <option value="hour">Hour</option>
          </select>
        </label>
        <label>
          Inbox
          <select value={inbox} onChange={(e) => setInbox((e.target as HTMLSelectElement).value)}>
            <option value="">All inboxes</option>
            {inboxes.map((i) => (
              <option key={i.id} value={i.address}>
                {i.name} ({i.address})
              </option>
            ))}
          </select>
        </label>
        <label>
          Agent
          <select value={agent} onChange={(e) => setAgent((e.target as HTMLSelectElement).value)}>
            <option value="">Everyone</option>
            {members.map((m) => (
              <option key={m.userId} value={m.userId}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <a class="button" href={`/api/analytics/csv?${query()}`} download>
          Export CSV
        </a>
      </form>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {!report && !problem && <p class="muted">Loading…</p>}
      {report && t && (
        <>
          <section class="card" aria-labelledby="an-totals">
            <h2 id="an-totals">Totals</h2>
            <dl class="stats" data-testid="analytics-totals">
              <div>
                <dt>Received</dt>
                <dd>{t.inbound}</dd>
              </div>
              <div>
                <dt>Sent</dt>
                <dd>{t.outbound}</dd>
              </div>
              <div>
                <dt>Delivery rate</dt>
                <dd>{t.deliveryRate === null ? "—" : `${Math.round(t.deliveryRate * 1000) / 10} %`}</dd>
              </div>
              <div>
                <dt>Failed</dt>
                <dd>{t.failed}</dd>
              </div>
              <div>
                <dt>Segments (≈ cost)</dt>
                <dd>{t.segments}</dd>
              </div>
              <div>
                <dt>Opt-outs</dt>
                <dd>{t.optOuts}</dd>
              </div>
              <div>
                <dt>First response (median / p90)</dt>
                <dd>
                  {duration(report.firstResponse.medianMs)} / {duration(report.firstResponse.p90Ms)}
                </dd>
              </div>
              <div>
                <dt>Resolution (median / p90)</dt>
                <dd>
                  {duration(report.resolution.medianMs)} / {duration(report.resolution.p90Ms)}
                </dd>
              </div>
            </dl>
            <p class="muted small">
              By channel:{" "}
              {Object.entries(report.byChannel)
                .map(([ch, v]) => `${ch} ${v.inbound} in / ${v.outbound} out`)
                .join(" · ") || "nothing yet"}
              . Times are read off hourly histograms (“≤ 15 min”: within that bucket). Figures refresh every 15 minutes.
            </p>
          </section>
          <section class="card" aria-labelledby="an-charts">
            <h2 id="an-charts">Volume and delivery</h2>
            <Chart
              report={report}
              title="Messages"
              series={[
                { key: "inbound", label: "Received", color: "#2563eb" },
                { key: "outbound", label: "Sent", color: "#16a34a" },
              ]}
            />
            <Chart
              report={report}
              title="Delivery"
              series={[
                { key: "delivered", label: "Delivered", color: "#16a34a" },
                { key: "failed", label: "Failed", color: "#dc2626" },
              ]}
            />
          </section>
          <section class="card" aria-labelledby="an-failures">
            <h2 id="an-failures">Failures by reason</h2>
            {report.failures.length === 0 ? (
              <p class="muted">No failures in this range.</p>
            ) : (
              <table class="table">
                <caption class="sr-only">Failures by error code</caption>
                <tbody>
                  {report.failures.map((f) => (
                    <tr key={f.code}>
                      <th scope="row">
                        {f.description} <span class="muted small">({f.code})</span>
                      </th>
                      <td>{f.count}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section class="card" aria-labelledby="an-agents">
            <h2 id="an-agents">Agents</h2>
            <table class="table">
              <caption class="sr-only">Per-agent figures</caption>
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">Sent</th>
                  <th scope="col">First responses</th>
                  <th scope="col">Median first response</th>
                  <th scope="col">Resolved</th>
                  <th scope="col">Median resolution</th>
                </tr>
              </thead>
              <tbody>
                {report.agents.map((a) => (
                  <tr key={a.agentId}>
                    <td>{a.name ?? a.agentId}</td>
                    <td>{a.outbound}</td>
                    <td>{a.firstResponse.count}</td>
                    <td>{duration(a.firstResponse.medianMs)}</td>
                    <td>{a.resolution.count}</td>
                    <td>{duration(a.resolution.medianMs)}</td>
                  </tr>
                ))}
                {report.agents.length === 0 && (
                  <tr>
                    <td colSpan={6} class="muted">
                      No replies by people in this range.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </section>
          {report.campaigns.length > 0 && (
            <section class="card" aria-labelledby="an-campaigns">
              <h2 id="an-campaigns">Campaigns</h2>
              <table class="table">
                <caption class="sr-only">Campaign results</caption>
                <thead>
                  <tr>
                    <th scope="col">Campaign</th>
                    <th scope="col">Status</th>
                    <th scope="col">Sent</th>
                    <th scope="col">Delivered</th>
                    <th scope="col">Replies</th>
                  </tr>
                </thead>
                <tbody>
                  {report.campaigns.map((c) => (
                    <tr key={c.id}>
                      <td>{c.name}</td>
                      <td>{c.status}</td>
                      <td>{c.sent}</td>
                      <td>{c.delivered}</td>
                      <td>{c.replied}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
        </>
      )}
    </main>
  );
}
