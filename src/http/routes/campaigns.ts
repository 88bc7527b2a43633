/**
 * Campaigns: a text (or template) to an audience of contacts, sent in the background at `bulk` priority
 * (src/messaging/campaigns.ts). Owners and admins create and control them; everyone may watch.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { audit } from "../../db/queries/audit";
import { countAudience, getCampaign, listCampaigns } from "../../db/queries/campaigns";
import { getTemplate } from "../../db/queries/templates";
import { type CampaignAudience, campaigns, labels, numbers } from "../../db/schema";
import { ApiError, notFound, unprocessable } from "../../domain/errors";
import { newId } from "../../domain/ids";
import {
  afterResume,
  campaignJson,
  enqueueTick,
  holdPacers,
  publishCampaign,
  transition,
} from "../../messaging/campaigns";
import { CampaignJsonSchema } from "../../shared/frames";
import { MAX_BODY_CHARS, MAX_SCHEDULE_MS } from "../../shared/limits";
import type { AppEnv } from "../context";
import { ErrorSchema, errorResponses, IdParam, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

const CampaignSchema = z.object(CampaignJsonSchema.shape).openapi("Campaign");

const AudienceSchema = z
  .object({
    labels: z
      .array(z.string().min(1).max(64))
      .max(50)
      .optional()
      .openapi({ description: "Label ids or names (any of)" }),
    contactIds: z.array(z.string().min(1).max(64)).max(10_000).optional(),
    filter: z
      .object({
        q: z.string().trim().min(1).max(100).optional().openapi({ description: "Name, email or phone contains" }),
        fields: z
          .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/), z.string().max(200))
          .optional()
          .openapi({ description: "Custom fields that must match exactly", example: { plan: "pro" } }),
      })
      .strict()
      .optional()
      .openapi({ description: "Narrows the labels/contactIds; alone (even `{}`) it picks from every contact" }),
  })
  .strict()
  .refine((a) => a.labels?.length || a.contactIds?.length || a.filter, {
    message: "name labels, contactIds or a filter ({} for every contact)",
  });

const CreateCampaignSchema = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ example: "December opening hours" }),
    audience: AudienceSchema,
    templateId: z.string().min(1).max(64).optional(),
    body: z.string().trim().min(1).max(MAX_BODY_CHARS).optional(),
    from: z
      .union([z.string().min(1).max(64), z.array(z.string().min(1).max(64)).min(1).max(20)])
      .openapi({ description: "A sender number's id, or several (recipients are spread over them)" }),
    sendAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "Start later (up to 35 days)" }),
  })
  .strict()
  .refine((b) => (b.templateId === undefined) !== (b.body === undefined), {
    message: "give either a body or a templateId",
    path: ["body"],
  });

const campaignResponses = {
  ...errorResponses,
  409: jsonContent(ErrorSchema, "The campaign is not in a state that allows this"),
};

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["campaigns"],
  summary: "The workspace's campaigns, newest first, with their counts",
  security,
  responses: { 200: jsonContent(z.object({ items: z.array(CampaignSchema) }), "Campaigns"), ...errorResponses },
});

const createCampaignRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["campaigns"],
  summary: "Create a campaign (a draft; start it with POST /api/campaigns/{id}/start)",
  security,
  request: { body: jsonBody(CreateCampaignSchema) },
  responses: { 201: jsonContent(CampaignSchema, "The draft, with its audience counted"), ...errorResponses },
});

const getCampaignRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["campaigns"],
  summary: "A campaign and its counts",
  security,
  request: { params: IdParam },
  responses: { 200: jsonContent(CampaignSchema, "The campaign"), ...errorResponses },
});

const deleteCampaignRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["campaigns"],
  summary: "Delete a draft",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...campaignResponses },
});

function actionRoute(action: "start" | "pause" | "resume" | "cancel", summary: string) {
  return createRoute({
    method: "post",
    path: `/{id}/${action}`,
    tags: ["campaigns"],
    summary,
    security,
    request: { params: IdParam },
    responses: { 200: jsonContent(CampaignSchema, "The campaign"), ...campaignResponses },
  });
}

function wrongState(status: string, action: string) {
  return new ApiError(409, "campaign_state", `A ${status} campaign cannot be ${action}.`, { status });
}

export const campaignRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const rows = await listCampaigns(c.get("db"), c.get("principal").workspaceId, 50);
    return c.json({ items: await Promise.all(rows.map((row) => campaignJson(c.env, row))) }, 200);
  })
  .openapi(createCampaignRoute, async (c) => {
    const principal = c.get("principal");
    const input = c.req.valid("json");
    const db = c.get("db");
    const numberIds = [...new Set(Array.isArray(input.from) ? input.from : [input.from])];
    const audience: CampaignAudience = input.audience;
    const now = Date.now();
    const sendAt = input.sendAt ? Date.parse(input.sendAt) : null;
    if (sendAt !== null && (sendAt <= now || sendAt > now + MAX_SCHEDULE_MS)) {
      throw unprocessable("validation_failed", "Invalid sendAt: must be in the future, within 35 days.", {
        fields: [{ path: "sendAt", message: "must be in the future, within 35 days" }],
      });
    }
    const [senders, template, knownLabels] = await Promise.all([
      db
        .select({ id: numbers.id })
        .from(numbers)
        .where(
          and(
            eq(numbers.workspaceId, principal.workspaceId),
            sql`${numbers.id} in (select value from json_each(${JSON.stringify(numberIds)}))`,
          ),
        ),
      input.templateId ? getTemplate(db, principal.workspaceId, input.templateId) : Promise.resolve(null),
      audience.labels?.length
        ? db
            .select({ id: labels.id, name: labels.name })
            .from(labels)
            .where(eq(labels.workspaceId, principal.workspaceId))
        : Promise.resolve([]),
    ]);
    const missingNumbers = numberIds.filter((id) => !senders.some((s) => s.id === id));
    if (missingNumbers.length > 0) {
      throw unprocessable("unknown_sender", `Not one of this workspace's numbers: ${missingNumbers.join(", ")}.`, {
        field: "from",
        ids: missingNumbers,
      });
    }
    if (input.templateId && !template) {
      throw unprocessable("unknown_template", "No such template in this workspace.", { field: "templateId" });
    }
    const unknownLabels = (audience.labels ?? []).filter((l) => !knownLabels.some((k) => k.id === l || k.name === l));
    if (unknownLabels.length > 0) {
      throw unprocessable("unknown_label", `No such label: ${unknownLabels.join(", ")}.`, { labels: unknownLabels });
    }
    const audienceCount = await countAudience(db, principal.workspaceId, audience);
    const [row] = await db
      .insert(campaigns)
      .values({
        id: newId("cmp"),
        workspaceId: principal.workspaceId,
        name: input.name,
        status: "draft",
        audience,
        templateId: input.templateId ?? null,
        body: input.body ?? null,
        numberIds,
        sendAt,
        audienceCount,
        createdBy: principal.userId ?? principal.credentialId,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!row) throw new ApiError(500, "internal", "Could not store the campaign.");
    await audit(db, principal, "campaign.created", "campaign", row.id, { name: row.name, audienceCount, numberIds });
    return c.json(await campaignJson(c.env, row), 201);
  })
  .openapi(getCampaignRoute, async (c) => {
    const row = await getCampaign(c.get("db"), c.get("principal").workspaceId, c.req.valid("param").id);
    if (!row) throw notFound("Campaign");
    return c.json(await campaignJson(c.env, row), 200);
  })
  .openapi(deleteCampaignRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const row = await getCampaign(db, principal.workspaceId, id);
    if (!row) throw notFound("Campaign");
    if (row.status !== "draft") throw wrongState(row.status, "deleted (cancel it instead)");
    await db.delete(campaigns).where(and(eq(campaigns.id, id), eq(campaigns.status, "draft")));
    await audit(db, principal, "campaign.deleted", "campaign", id, { name: row.name });
    return c.body(null, 204);
  })
  .openapi(actionRoute("start", "Start a draft (now, or at its sendAt)"), async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const row = await getCampaign(db, principal.workspaceId, id);
    if (!row) throw notFound("Campaign");
    if (row.status !== "draft") throw wrongState(row.status, "started");
    const audienceCount = await countAudience(db, principal.workspaceId, row.audience);
    if (audienceCount === 0) {
      throw unprocessable("empty_audience", "No contact matches this campaign's audience.", { audience: row.audience });
    }
    const later = row.sendAt !== null && row.sendAt > Date.now();
    const started = await transition(c.env.DB, principal.workspaceId, id, ["draft"], later ? "scheduled" : "running", {
      audienceCount,
      ...(later ? {} : { startedAt: Date.now() }),
    });
    if (!started) throw wrongState("started", "started again");
    if (!later) await enqueueTick(c.env, started.id, started.generation);
    await audit(db, principal, "campaign.started", "campaign", id, {
      name: row.name,
      audienceCount,
      ...(later ? { sendAt: new Date(row.sendAt ?? 0).toISOString() } : {}),
    });
    return c.json(await publishCampaign(c.env, started), 200);
  })
  .openapi(actionRoute("pause", "Pause a running or scheduled campaign (takes effect within 2 s)"), async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const row = await getCampaign(c.get("db"), principal.workspaceId, id);
    if (!row) throw notFound("Campaign");
    const paused = await transition(c.env.DB, principal.workspaceId, id, ["running", "scheduled"], "paused", {
      pausedReason: null,
    });
    if (!paused) throw wrongState(row.status, "paused");
    await holdPacers(c.env, paused, true);
    await audit(c.get("db"), principal, "campaign.paused", "campaign", id, { name: row.name });
    return c.json(await publishCampaign(c.env, paused), 200);
  })
  .openapi(actionRoute("resume", "Resume a paused campaign"), async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const row = await getCampaign(c.get("db"), principal.workspaceId, id);
    if (!row) throw notFound("Campaign");
    const resumed = await transition(c.env.DB, principal.workspaceId, id, ["paused"], "running", {
      startedAt: Date.now(),
    });
    if (!resumed) throw wrongState(row.status, "resumed");
    await afterResume(c.env, resumed);
    await audit(c.get("db"), principal, "campaign.resumed", "campaign", id, { name: row.name });
    return c.json(await publishCampaign(c.env, resumed), 200);
  })
  .openapi(actionRoute("cancel", "Cancel a campaign: nothing more goes out"), async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const row = await getCampaign(c.get("db"), principal.workspaceId, id);
    if (!row) throw notFound("Campaign");
    const canceled = await transition(
      c.env.DB,
      principal.workspaceId,
      id,
      ["draft", "scheduled", "running", "paused"],
      "canceled",
      { completedAt: Date.now() },
    );
    if (!canceled) throw wrongState(row.status, "canceled");
    await holdPacers(c.env, canceled, true);
    // The waiting messages are canceled in the background, a page per tick.
    await enqueueTick(c.env, canceled.id, canceled.generation);
    await audit(c.get("db"), principal, "campaign.canceled", "campaign", id, { name: row.name });
    return c.json(await publishCampaign(c.env, canceled), 200);
  });
