/**
 * Templates (saved replies): `{{name}}` or `{{name|fallback}}` placeholders, filled from the request's
 * variables first, then the context (contact, agent, workspace), then the fallback. A placeholder with
 * none of the three is reported by name, never sent as braces.
 */

export interface TemplateContext {
  contact: { name: string | null; phone: string; email: string | null; fields: Record<string, string> };
  agent: { name: string | null };
  workspace: { name: string };
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*(?:\|([^}]*))?\}\}/g;

/** The names the template uses, each once, in order. */
export function placeholders(body: string): string[] {
  return [...new Set([...body.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ""))];
}

function fromContext(name: string, ctx: TemplateContext): string | undefined {
  const firstName = ctx.contact.name?.trim().split(/\s+/)[0];
  switch (name) {
    case "contact.firstName":
      return firstName || undefined;
    case "contact.name":
      return ctx.contact.name?.trim() || undefined;
    case "contact.phone":
      return ctx.contact.phone;
    case "contact.email":
      return ctx.contact.email ?? undefined;
    case "agent.name":
      return ctx.agent.name ?? undefined;
    case "workspace.name":
      return ctx.workspace.name;
  }
  if (name.startsWith("contact.fields.")) {
    const value = ctx.contact.fields[name.slice("contact.fields.".length)];
    return value?.trim() ? value : undefined;
  }
  return undefined;
}

export type RenderResult = { ok: true; body: string } | { ok: false; missing: string[] };

export function renderTemplate(
  body: string,
  ctx: TemplateContext,
  variables: Record<string, string> = {},
): RenderResult {
  const missing: string[] = [];
  const rendered = body.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
    const value = variables[name] ?? fromContext(name, ctx) ?? (fallback === undefined ? undefined : fallback.trim());
    if (value === undefined) {
      if (!missing.includes(name)) missing.push(name);
      return "";
    }
    return value;
  });
  return missing.length > 0 ? { ok: false, missing } : { ok: true, body: rendered };
}
