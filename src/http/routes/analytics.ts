/** Analytics (owners/admins): the dashboard's report over hourly rollups, its CSV, and rebuilding a range. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { archivingWorkspaces } from "../../db/queries/archive";
import { audit } from "../../db/queries/audit";
import { unprocessable } from "../../domain/errors";
import {
  buildReport,
  floorHour,
  HOUR_MS,
  MAX_RECOMPUTE_HOURS,
  recomputeRange,
  reportCsv,
} from "../../messaging/analytics";
import type { AppEnv } from "../context";
import { requireAdmin } from "../middleware/auth";
import { errorResponses, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const DAY = 24 * HOUR_MS;
const MAX_RANGE = 400 * DAY;

const Query = z.object({
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: "Start (default: 30 days ago)" }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: "End (default: now)" }),
  granularity: z.enum(["hour", "day"]).optional().openapi({ description: "Default: hour for up to 2 days, else day" }),
  inbox: z.string().max(254).optional().openapi({ description: "An inbox address (its number, whatsapp:…, or email)" }),
  agent: z.string().max(64).optional().openapi({ description: "A member's user id" }),
});

function range(q: z.infer<typeof Query>) {
  const to = q.to ? Date.parse(q.to) : Date.now();
  const from = q.from ? Date.parse(q.from) : to - 30 * DAY;
  if (!(from < to))
    throw unprocessable("validation_failed", "from must be before to.", {
      fields: [{ path: "from", message: "must be before to" }],
    });
  if (to - from > MAX_RANGE)
    throw unprocessable("validation_failed", "The range is at most 400 days.", {
      fields: [{ path: "from", message: "at most 400 days before to" }],
    });
  return {
    from,
    to,
    granularity: q.granularity ?? (to - from <= 2 * DAY ? "hour" : "day"),
    inbox: q.inbox,
    agent: q.agent,
  } as const;
}

const Timing = z.object({
  count: z.number().int(),
  medianMs: z.number().nullable(),
  p90Ms: z.number().nullable(),
  histogram: z.array(z.number().int()),
  bucketsMs: z.array(z.number()),
});

const ReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    granularity: z.enum(["hour", "day"]),
    totals: z.object({
      inbound: z.number().int(),
      outbound: z.number().int(),
      delivered: z.number().int(),
      failed: z.number().int(),
      segments: z.number().int(),
      deliveryRate: z.number().nullable(),
      optOuts: z.number().int(),
    }),
    byChannel: z.record(z.string(), z.object({ inbound: z.number().int(), outbound: z.number().int() })),
    series: z.array(
      z.object({
        t: z.string(),
        inbound: z.number().int(),
        outbound: z.number().int(),
        delivered: z.number().int(),
        failed: z.number().int(),
        segments: z.number().int(),
      }),
    ),
    firstResponse: Timing,
    resolution: Timing,
    failures: z.array(z.object({ code: z.number().int(), description: z.string(), count: z.number().int() })),
    agents: z.array(
      z.object({
        agentId: z.string(),
        name: z.string().nullable(),
        outbound: z.number().int(),
        firstResponse: Timing,
        resolution: Timing,
      }),
    ),
    campaigns: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        status: z.string(),
        sent: z.number().int(),
        delivered: z.number().int(),
        replied: z.number().int(),
      }),
    ),
  })
  .openapi("AnalyticsReport");

const reportRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["analytics"],
  summary:
    "Volume in/out per channel, delivery rate, failures by error code in words, segments, first-response and resolution times (median, p90), per agent, opt-outs and campaigns, over hourly rollups (owner/admin)",
  security,
  request: { query: Query },
  responses: { 200: jsonContent(ReportSchema, "The report"), ...errorResponses },
});

const csvRoute = createRoute({
  method: "get",
  path: "/csv",
  tags: ["analytics"],
  summary: "The report's series as CSV, one row per hour or day (owner/admin)",
  security,
  request: { query: Query },
  responses: { 200: { description: "CSV", content: { "text/csv": { schema: z.string() } } }, ...errorResponses },
});

const recomputeRoute = createRoute({
  method: "post",
  path: "/recompute",
  tags: ["analytics"],
  summary: "Rebuild the rollups of a range (at most 31 days) from the messages (owner/admin; idempotent)",
  security,
  request: {
    body: jsonBody(z.object({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }) }).strict()),
  },
  responses: { 200: jsonContent(z.object({ hours: z.number().int() }), "Rebuilt"), ...errorResponses },
});

export const analyticsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(reportRoute, async (c) => {
    const { workspaceId } = requireAdmin(c);
    return c.json(await buildReport(c.get("d1"), workspaceId, range(c.req.valid("query"))), 200);
  })
  .openapi(csvRoute, async (c) => {
    const { workspaceId } = requireAdmin(c);
    const report = await buildReport(c.get("d1"), workspaceId, range(c.req.valid("query")));
    return c.body(reportCsv(report), 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="parley-analytics-${report.from.slice(0, 10)}-${report.to.slice(0, 10)}.csv"`,
    });
  })
  .openapi(recomputeRoute, async (c) => {
    const principal = requireAdmin(c);
    const { from, to } = c.req.valid("json");
    const start = floorHour(Date.parse(from));
    const end = Date.parse(to);
    if (!(start < end) || end - start > MAX_RECOMPUTE_HOURS * HOUR_MS) {
      throw unprocessable("validation_failed", "Rebuild at most 31 days, from before to.", {
        fields: [{ path: "from", message: "at most 31 days before to" }],
      });
    }
    // Hours whose messages were archived to R2 can no longer be rebuilt from D1: their rollups stay as computed.
    const [archiving] = await archivingWorkspaces(c.get("d1"), principal.workspaceId);
    const archiveAfterDays = archiving?.archiveAfterDays ?? null;
    if (archiveAfterDays !== null && start < Date.now() - archiveAfterDays * DAY) {
      throw unprocessable(
        "range_archived",
        `Messages older than ${archiveAfterDays} days are archived; their hours keep the rollups computed before.`,
        { fields: [{ path: "from", message: `at most ${archiveAfterDays} days ago` }] },
      );
    }
    const hours = await recomputeRange(c.env, principal.workspaceId, start, end);
    await audit(c.get("db"), principal, "analytics.recomputed", "workspace", principal.workspaceId, {
      from,
      to,
      hours,
    });
    return c.json({ hours }, 200);
  });
