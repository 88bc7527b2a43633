/** A send's text from a template: rendered for its contact, agent and workspace, or 422 naming what is missing. */
import type { Db } from "../db/client";
import { templateWithNames } from "../db/queries/templates";
import type { contacts } from "../db/schema";
import { notFound, unprocessable } from "../domain/errors";
import type { Principal } from "../domain/principal";
import { renderTemplate } from "../domain/templates";

export async function renderForContact(
  db: Db,
  principal: Principal,
  templateId: string,
  contact: Pick<typeof contacts.$inferSelect, "name" | "phone" | "email" | "fields">,
  variables: Record<string, string> = {},
): Promise<string> {
  const found = await templateWithNames(db, principal.workspaceId, templateId, principal.userId);
  if (!found) throw notFound("Template");
  const result = renderTemplate(
    found.template.body,
    {
      contact: { name: contact.name, phone: contact.phone, email: contact.email, fields: contact.fields ?? {} },
      agent: { name: found.agentName },
      workspace: { name: found.workspaceName },
    },
    variables,
  );
  if (!result.ok) {
    throw unprocessable(
      "template_variable_missing",
      `The template needs ${result.missing.map((m) => `{{${m}}}`).join(", ")}: give a value in variables, or a fallback like {{${result.missing[0]}|there}}.`,
      { missing: result.missing },
    );
  }
  if (!result.body.trim()) throw unprocessable("validation_failed", "The template rendered an empty message.");
  return result.body;
}
