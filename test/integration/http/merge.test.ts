/**
 * Merging contacts: the merged contact's threads, consent and fields show under the kept one; its
 * number still routes texts to its own threads; the merge is audited and tenant-safe.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { addNumber, call, randomUsNumber, signup } from "../../helpers/api";
import { countRows } from "../../helpers/db";
import { deliver, inboundText } from "../../helpers/twilio";

describe("contact merge", () => {
  it("moves threads, consent and fields under the kept contact; texts to the merged number stay in its thread", async () => {
    const a = await signup();
    const number = await addNumber(a);
    const phoneA = randomUsNumber();
    const phoneB = randomUsNumber();
    const kept = (
      await call("POST", "/api/contacts", a, { body: { phone: phoneA, name: "Ana Lee", fields: { plan: "pro" } } })
    ).json;
    // B has a thread (a text from its number), then opts out.
    for (const body of ["Hello from my work phone", "STOP"]) {
      const { held } = await inboundText({ from: phoneB, to: number.phoneNumber, body });
      for (const req of held) expect((await deliver(req)).status).toBe(200);
    }
    const other = (await call("GET", `/api/contacts?q=${encodeURIComponent(phoneB)}`, a)).json.items[0];
    await call("PATCH", `/api/contacts/${other.id}`, a, {
      body: { email: "ana@work.example", fields: { plan: "free", city: "Oslo" } },
    });
    const thread = (await call("GET", "/api/conversations?status=open", a)).json.items.find(
      (c: { contact: { phone: string } }) => c.contact.phone === phoneB,
    );

    const merged = await call("POST", `/api/contacts/${kept.id}/merge`, a, { body: { contactId: other.id } });
    expect(merged.status, merged.text).toBe(200);
    expect(merged.json).toMatchObject({
      id: kept.id,
      name: "Ana Lee",
      email: "ana@work.example",
      phone: phoneA,
      fields: { plan: "pro", city: "Oslo" },
    });
    // One contact in the list; the merged id leads to the kept contact.
    const list = (await call("GET", "/api/contacts?limit=50", a)).json.items;
    expect(list.map((c: { id: string }) => c.id)).toEqual([kept.id]);
    expect((await call("GET", `/api/contacts/${other.id}`, a)).json.id).toBe(kept.id);
    // History: both numbers with their consent, the merged thread and its messages.
    const history = (await call("GET", `/api/contacts/${kept.id}/history`, a)).json;
    expect(history.numbers).toEqual([
      { phone: phoneA, optedOut: false },
      { phone: phoneB, optedOut: true },
    ]);
    expect(history.conversations.map((c: { id: string }) => c.id)).toEqual([thread.id]);
    expect(history.inbound).toBe(2);
    expect(history.consent[0]).toMatchObject({ optedOut: true, phone: phoneB });
    // The thread shows the kept contact's name; a new text from the merged number lands in it.
    const { held } = await inboundText({ from: phoneB, to: number.phoneNumber, body: "START" });
    for (const req of held) expect((await deliver(req)).status).toBe(200);
    const after = (await call("GET", `/api/conversations/${thread.id}`, a)).json;
    expect(after.contact.name).toBe("Ana Lee");
    expect(await countRows("conversations", "workspace_id = ?", a.workspaceId)).toBe(1);
    // A name change on the kept contact shows in the merged number's thread.
    await call("PATCH", `/api/contacts/${kept.id}`, a, { body: { name: "Ana Lee-Berg" } });
    expect((await call("GET", `/api/conversations/${thread.id}`, a)).json.contact.name).toBe("Ana Lee-Berg");
    expect(
      await countRows(
        "audit_log",
        "workspace_id = ? AND action = 'contact.merged' AND target_id = ?",
        a.workspaceId,
        kept.id,
      ),
    ).toBe(1);
    // An audience counts the person once.
    const draft = await call("POST", "/api/campaigns", a, {
      body: { name: "Once", audience: { filter: {} }, body: "Hi", from: number.id },
    });
    expect(draft.json.counts.audience).toBe(1);
    // Deleting the kept contact takes the merged one along.
    expect((await call("DELETE", `/api/contacts/${kept.id}`, a)).status).toBe(204);
    expect(await countRows("contacts", "workspace_id = ?", a.workspaceId)).toBe(0);
  });

  it("refuses merging a contact into itself (422) and across workspaces (404), storing nothing", async () => {
    const a = await signup();
    const b = await signup();
    const mine = (await call("POST", "/api/contacts", a, { body: { phone: randomUsNumber(), name: "Mine" } })).json;
    const theirs = (await call("POST", "/api/contacts", b, { body: { phone: randomUsNumber(), name: "Theirs" } })).json;
    expect((await call("POST", `/api/contacts/${mine.id}/merge`, a, { body: { contactId: mine.id } })).status).toBe(
      422,
    );
    expect((await call("POST", `/api/contacts/${mine.id}/merge`, a, { body: { contactId: theirs.id } })).status).toBe(
      404,
    );
    expect((await call("POST", `/api/contacts/${theirs.id}/merge`, a, { body: { contactId: mine.id } })).status).toBe(
      404,
    );
    expect((await call("POST", `/api/contacts/${mine.id}/merge`, a, { body: {} })).status).toBe(422);
    const row = await env.DB.prepare("SELECT merged_into FROM contacts WHERE id = ?").bind(theirs.id).first();
    expect(row).toEqual({ merged_into: null });
    expect(
      await countRows(
        "audit_log",
        "action = 'contact.merged' AND workspace_id IN (?, ?)",
        a.workspaceId,
        b.workspaceId,
      ),
    ).toBe(0);
  });
});
