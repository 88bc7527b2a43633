/**
 * Examples for the OpenAPI document: every operation's success response gets one (unless its route wrote
 * its own), built from the response's schema with realistic values (ids with their real prefixes, E.164
 * numbers, ISO times, the first value of an enum), and every error response the example of its status
 * code. Redocly's `no-invalid-media-type-examples` (test/node/openapi-client.test.ts) checks each against its
 * schema, so an example that drifts from the schema fails the tests.
 */

type Schema = Record<string, unknown>;
type Doc = { paths?: Record<string, Record<string, unknown>>; components?: { schemas?: Record<string, Schema> } };

const AT = "2026-11-29T10:15:00.000Z";

/** Id prefixes (src/domain/ids.ts callers) by the name of the field or the schema that holds the id. */
const ID_PREFIXES: Record<string, string> = {
  conversation: "cv",
  message: "msg",
  contact: "ct",
  user: "usr",
  agent: "usr",
  assignee: "usr",
  author: "usr",
  actor: "usr",
  createdBy: "usr",
  sentBy: "usr",
  workspace: "ws",
  number: "num",
  inbox: "num",
  member: "mem",
  membership: "mem",
  label: "lbl",
  alert: "alr",
  webhook: "whk",
  endpoint: "whk",
  delivery: "whd",
  event: "evt",
  template: "tpl",
  notification: "ntf",
  note: "note",
  apiKey: "key",
  key: "key",
  invitation: "inv",
  import: "imp",
  export: "exp",
  campaign: "cmp",
  attachment: "att",
};

const TEXT: Record<string, unknown> = {
  body: "Hi Casey, your order #1042 is ready for pickup.",
  name: "Casey Jones",
  email: "casey@example.com",
  url: "https://hooks.example.com/parley",
  message: "Something went wrong.",
  summary: "Messages have been waiting to send for more than 10 minutes",
  description: "The destination number is unreachable.",
  subject: "Your order #1042",
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  prefix: "pk_live_3f9a",
  role: "agent",
  code: "not_found",
  color: "#2563eb",
  timezone: "America/Los_Angeles",
  encoding: "GSM-7",
  contentType: "image/jpeg",
  providerSid: "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0",
  reason: "Disabled after 24 hours of failed deliveries (last: HTTP 503).",
  error: "HTTP 503",
  lastError: "HTTP 503",
};

function idFor(field: string, holder: string | undefined): string {
  const base = field === "id" ? (holder ?? "") : field.replace(/Ids?$/, "");
  const key =
    Object.keys(ID_PREFIXES).find((k) => base.toLowerCase() === k.toLowerCase()) ??
    Object.keys(ID_PREFIXES).find((k) => base.toLowerCase().endsWith(k.toLowerCase()));
  const prefix = key ? ID_PREFIXES[key] : base.toLowerCase().slice(0, 3) || "id";
  return `${prefix}_8kq2m4x7vt3np9`;
}

function phoneLike(field: string): boolean {
  return /^(phone|phoneNumber|from|to|address|sender|number|customerAddress|fromNumber|toNumber|inbox)$/.test(field);
}

/** A value for `schema` (named `field` inside an object built from the component `holder`). */
function sample(
  doc: Doc,
  schema: Schema | undefined,
  field = "",
  holder?: string,
  depth = 0,
  component = false,
): unknown {
  if (!schema || depth > 12) return null;
  const ref = schema.$ref;
  if (typeof ref === "string") {
    const name = ref.split("/").at(-1) ?? "";
    return sample(doc, doc.components?.schemas?.[name], field, name, depth + 1, true);
  }
  if (schema.example !== undefined) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum.find((v) => v !== null) ?? null;
  if (schema.default !== undefined && schema.default !== null) return schema.default;
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options)) {
      const first = (options as Schema[]).find((o) => o.type !== "null") ?? options[0];
      return sample(doc, first as Schema, field, holder, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...(schema.allOf as Schema[]).map((s) => sample(doc, s, field, holder, depth + 1)));
  }
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string | undefined];
  const type = types.find((t) => t !== "null") ?? (schema.properties ? "object" : undefined);
  // Nullable fields that are empty on a typical, healthy row.
  if (
    types.includes("null") &&
    /^(nextCursor|error|failed|deferred|html|snoozed|resolved|revoked|disabled)/.test(field)
  ) {
    return null;
  }
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      // An object reached through a field (not a named component) names the ids inside it: assignee.id is a user's.
      const inner = field && !component && field !== "item" ? singular(field) : holder;
      for (const [name, prop] of Object.entries(props)) out[name] = sample(doc, prop, name, inner, depth + 1);
      if (Object.keys(props).length === 0 && typeof schema.additionalProperties === "object") {
        out.key = sample(doc, schema.additionalProperties as Schema, "key", holder, depth + 1);
      }
      return out;
    }
    case "array": {
      if (Array.isArray(schema.prefixItems)) {
        return (schema.prefixItems as Schema[]).map((s, i) =>
          sample(doc, s, i === 0 ? "start" : "end", holder, depth + 1),
        );
      }
      const min = typeof schema.minItems === "number" ? schema.minItems : 1;
      const max = typeof schema.maxItems === "number" ? schema.maxItems : 1;
      const count = Math.min(Math.max(min, 1), Math.max(max, 0));
      const item = sample(doc, schema.items as Schema, singular(field), holder, depth + 1);
      return Array.from({ length: count }, () => item);
    }
    case "integer":
    case "number": {
      const min = typeof schema.minimum === "number" ? schema.minimum : undefined;
      const max = typeof schema.maximum === "number" ? schema.maximum : undefined;
      let n = /Ms$/.test(field) ? 300_000 : 1;
      if (min !== undefined && n < min) n = min;
      if (max !== undefined && n > max) n = max;
      return n;
    }
    case "boolean":
      return !/^(revoked|optedOut|is[A-Z])/.test(field);
    case "string":
      return sampleString(schema, field, holder);
    default:
      return null;
  }
}

function singular(field: string): string {
  return field.endsWith("ies") ? `${field.slice(0, -3)}y` : field.replace(/s$/, "");
}

function sampleString(schema: Schema, field: string, holder: string | undefined): string {
  const candidates: string[] = [];
  if (schema.format === "date-time" || /(At|Until)$/.test(field) || field === "at" || field === "t")
    candidates.push(AT);
  if (schema.format === "email") candidates.push("casey@example.com");
  if (schema.format === "uri" || schema.format === "url") candidates.push("https://hooks.example.com/parley");
  if (field === "id" || /Id$/.test(field)) candidates.push(idFor(field, holder));
  if (phoneLike(field)) candidates.push("+14155550100");
  if (field === "start") candidates.push("09:00");
  if (field === "end") candidates.push("17:00");
  if (field === "status" && /message$/i.test(holder ?? "")) candidates.push("delivered");
  if (typeof TEXT[field] === "string") candidates.push(TEXT[field] as string);
  candidates.push("example", "+14155550100", AT, "casey@example.com", "https://hooks.example.com/parley", "09:00");
  const pattern = typeof schema.pattern === "string" ? new RegExp(schema.pattern, "u") : null;
  const min = typeof schema.minLength === "number" ? schema.minLength : 0;
  const max = typeof schema.maxLength === "number" ? schema.maxLength : Number.POSITIVE_INFINITY;
  return (
    candidates.find((c) => (!pattern || pattern.test(c)) && c.length >= min && c.length <= max) ??
    "x".repeat(Math.max(min, 1))
  );
}

const ERROR_EXAMPLES: Record<string, { code: string; message: string; details?: Record<string, unknown> }> = {
  "400": { code: "bad_request", message: "Malformed request." },
  "401": { code: "unauthorized", message: "Sign in, or pass an API key as `Authorization: Bearer pk_…`." },
  "403": { code: "insufficient_scope", message: "This API key lacks the admin scope.", details: { required: "admin" } },
  "404": { code: "not_found", message: "Not found in your workspace." },
  "409": { code: "conflict", message: "That conflicts with what is already there." },
  "413": { code: "too_large", message: "The upload is larger than 5 MB." },
  "422": {
    code: "validation_failed",
    message: "The request is not valid.",
    details: { fields: [{ path: "limit", message: "Too big: expected number to be <=100" }] },
  },
  "429": { code: "rate_limited", message: "Too many requests; retry after 3 s.", details: { retryAfterSeconds: 3 } },
  "4XX": { code: "not_found", message: "Not found." },
  "500": { code: "internal", message: "Something went wrong on our side; it has been logged." },
  "503": { code: "unavailable", message: "Twilio is not answering; try again shortly." },
};

/** The field a validation error would name: the body's first required field, else the first parameter. */
function firstField(op: { requestBody?: Schema; parameters?: unknown }): string {
  const body = op.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined;
  const schema = body?.content?.["application/json"]?.schema;
  const required = Array.isArray(schema?.required) ? (schema.required as string[]) : [];
  const props = Object.keys((schema?.properties ?? {}) as Record<string, unknown>);
  const params = Array.isArray(op.parameters) ? (op.parameters as { name?: string }[]) : [];
  return required[0] ?? props[0] ?? params[0]?.name ?? "id";
}

/** Adds the examples in place; returns how many operations still have none (0 once every one has one). */
export function addExamples(doc: Doc): number {
  let without = 0;
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item) as {
      responses?: Record<string, Schema>;
      requestBody?: Schema;
      parameters?: unknown;
    }[]) {
      if (!op || typeof op !== "object" || !op.responses) continue;
      let has = JSON.stringify(op.requestBody ?? {}).includes('"example');
      for (const [code, response] of Object.entries(op.responses)) {
        const content = response.content as Record<string, Schema> | undefined;
        for (const [mediaType, media] of Object.entries(content ?? {})) {
          if (media.example !== undefined || media.examples !== undefined) {
            has = true;
            continue;
          }
          const error = ERROR_EXAMPLES[code];
          if (!code.startsWith("2") && error && mediaType === "application/json") {
            media.example = {
              error:
                code === "422"
                  ? { ...error, details: { fields: [{ path: firstField(op), message: "Required" }] } }
                  : error,
            };
          } else if (mediaType === "application/json") {
            media.example = sample(doc, media.schema as Schema);
          } else if (mediaType.startsWith("text/csv")) {
            media.example =
              "period,inbound,outbound,delivered,failed,segments\n2026-11-29T00:00:00.000Z,36,80,76,4,88\n";
          } else continue;
          has = true;
        }
      }
      if (!has) without++;
    }
  }
  return without;
}
