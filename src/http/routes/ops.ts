/**
 * Operations: `GET /api/healthz` (the trivial route benchmarks compare against) and
 * `GET /api/ops/delivery`, the data a delivery dashboard and its alerts need: messages by status,
 * stalled counts, dead letters, the age of the oldest pending message and each cron job's last run.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { JOB_NAMES } from "../../cron";
import { listAlerts } from "../../db/queries/alerts";
import { deliveryHealth } from "../../db/queries/ops";
import { MESSAGE_STATUSES } from "../../db/schema";
import { iso } from "../../domain/time";
import { jobConfig } from "../../messaging/config";
import { breakerFor } from "../../rooms/twilio-breaker";
import { ALERT_KINDS, ALERT_WORDS } from "../../shared/alerts";
import type { AppEnv } from "../context";
import { requireAdmin } from "../middleware/auth";
import { errorResponses, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const DeliverySchema = z
  .object({
    at: z.string(),
    byStatus: z.record(z.string(), z.number().int()),
    stalled: z.object({ queued: z.number().int(), sent: z.number().int(), pendingAttempts: z.number().int() }),
    deadLetters: z.object({ last24h: z.number().int(), total: z.number().int() }),
    twilio: z.object({
      breaker: z
        .enum(["closed", "open", "half_open"])
        .openapi({ description: "open: Twilio is not answering and sends are held as pending" }),
    }),
    oldestPendingAgeSeconds: z.number().nullable(),
    jobs: z.array(
      z.object({
        name: z.string(),
        lastStartedAt: z.string().nullable(),
        lastSuccessAt: z.string().nullable(),
        lastError: z.string().nullable(),
        lastResult: z.unknown(),
      }),
    ),
  })
  .openapi("DeliveryOps");

const AlertSchema = z
  .object({
    id: z.string(),
    kind: z.enum(ALERT_KINDS),
    subject: z.string().nullable(),
    summary: z.string(),
    status: z.enum(["open", "resolved"]),
    details: z.record(z.string(), z.unknown()),
    openedAt: z.string(),
    lastSeenAt: z.string(),
    resolvedAt: z.string().nullable(),
  })
  .openapi("Alert");

const alertsRoute = createRoute({
  method: "get",
  path: "/alerts",
  tags: ["ops"],
  summary: "The workspace's alerts (owners and admins): open ones by default; ?status=resolved|all for history",
  security,
  request: { query: z.object({ status: z.enum(["open", "resolved", "all"]).default("open") }) },
  responses: { 200: jsonContent(z.object({ items: z.array(AlertSchema) }), "Alerts"), ...errorResponses },
});

const deliveryRoute = createRoute({
  method: "get",
  path: "/ops/delivery",
  tags: ["operations"],
  summary:
    "Delivery health of this workspace (owners and admins): counts by status, stalled messages, dead letters, cron runs, the Twilio breaker",
  security,
  responses: { 200: jsonContent(DeliverySchema, "Delivery health"), ...errorResponses },
});

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["operations"],
  summary: "Liveness (no auth, no I/O)",
  responses: { 200: jsonContent(z.object({ ok: z.literal(true) }), "Alive") },
});

export const opsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(healthRoute, (c) => c.json({ ok: true as const }, 200))
  .openapi(alertsRoute, async (c) => {
    const { workspaceId } = requireAdmin(c);
    const rows = await listAlerts(c.get("db"), workspaceId, c.req.valid("query").status);
    return c.json(
      {
        items: rows.map((a) => ({
          id: a.id,
          kind: a.kind,
          subject: a.subject || null,
          summary: ALERT_WORDS[a.kind] ?? a.kind,
          status: a.status,
          details: a.details,
          openedAt: iso(a.openedAt) ?? "",
          lastSeenAt: iso(a.lastSeenAt) ?? "",
          resolvedAt: iso(a.resolvedAt),
        })),
      },
      200,
    );
  })
  .openapi(deliveryRoute, async (c) => {
    const { workspaceId } = requireAdmin(c);
    const d1 = c.get("d1");
    const now = Date.now();
    const config = jobConfig(c.env);
    const stalledBefore = now - config.reconcileAfterMs;
    const [byStatus, stalled, dead, oldest, jobs] = await deliveryHealth(
      d1,
      workspaceId,
      stalledBefore,
      now - 2 * config.reconcileAfterMs,
      now - 86_400_000,
    );
    const counts: Record<string, number> = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0]));
    for (const row of (byStatus?.results ?? []) as { status: string; n: number }[]) counts[row.status] = row.n;
    const s = (stalled?.results[0] ?? {}) as {
      queued: number | null;
      sent: number | null;
      pendingAttempts: number | null;
    };
    const d = (dead?.results[0] ?? {}) as { total: number | null; last24h: number | null };
    const o = (oldest?.results[0] ?? {}) as { oldest: number | null };
    const runs = new Map(
      (
        (jobs?.results ?? []) as {
          name: string;
          last_started_at: number | null;
          last_success_at: number | null;
          last_error: string | null;
          last_result: string | null;
        }[]
      ).map((r) => [r.name, r]),
    );
    return c.json(
      {
        at: iso(now),
        byStatus: counts,
        stalled: { queued: s.queued ?? 0, sent: s.sent ?? 0, pendingAttempts: s.pendingAttempts ?? 0 },
        deadLetters: { last24h: d.last24h ?? 0, total: d.total ?? 0 },
        twilio: { breaker: (await breakerFor(c.env).status()).state },
        oldestPendingAgeSeconds: o.oldest ? Math.round((now - o.oldest) / 1000) : null,
        jobs: JOB_NAMES.map((name) => {
          const r = runs.get(name);
          return {
            name,
            lastStartedAt: iso(r?.last_started_at),
            lastSuccessAt: iso(r?.last_success_at),
            // Jobs run for every workspace: their errors and results may name other tenants' data.
            lastError: r?.last_error ? "The last run failed; the Worker's logs have the reason." : null,
            lastResult: null,
          };
        }),
      },
      200,
    );
  });
