/**
 * CSV imports: streamed to R2, parsed chunk by chunk on the jobs queue, numbers normalised, duplicates
 * merged, opted-out rows suppressed, bad rows reported with their row number, and the same file twice
 * changing nothing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, signup } from "../../helpers/api";
import { addMember, countRows } from "../../helpers/db";
import { openSocket } from "../../helpers/sockets";
import { eventually } from "../../helpers/twilio";

async function upload(who: { cookie?: string; key?: string }, csv: string, query = "") {
  return call("POST", `/api/imports${query}`, who, { rawBody: csv, headers: { "Content-Type": "text/csv" } });
}

async function finished(who: { cookie?: string }, id: string) {
  return eventually(
    async () => {
      const res = await call("GET", `/api/imports/${id}`, who);
      return ["done", "failed"].includes(res.json.status) ? res.json : undefined;
    },
    20_000,
    `import ${id} to finish`,
  );
}

describe("CSV imports", () => {
  it("applies labels from a column and to every row (creating missing labels); the same file again adds none", async () => {
    const a = await signup();
    const csv = ["phone,tags", "+14155550201,VIP;Fair", "+14155550202,", "+14155550203,Fair"].join("\n");
    const first = await upload(a, csv, "?map=phone:phone,labels:tags&labels=Newsletter");
    expect(first.status, first.text).toBe(202);
    expect(await finished(a, first.json.id)).toMatchObject({ status: "done", imported: 3 });
    const names = (await call("GET", "/api/labels", a)).json.items.map((l: { name: string }) => l.name);
    expect(names).toEqual(["Fair", "Newsletter", "VIP"]);
    expect(await countRows("contact_labels", "workspace_id = ?", a.workspaceId)).toBe(6);
    const fair = (await call("GET", "/api/contacts?label=Fair&limit=10", a)).json.items.map(
      (c: { phone: string }) => c.phone,
    );
    expect(fair.sort()).toEqual(["+14155550201", "+14155550203"]);
    const again = await upload(a, csv, "?map=phone:phone,labels:tags&labels=Newsletter");
    expect(await finished(a, again.json.id)).toMatchObject({ status: "done", imported: 0, updated: 0 });
    expect(await countRows("contact_labels", "workspace_id = ?", a.workspaceId)).toBe(6);
    expect(await countRows("labels", "workspace_id = ?", a.workspaceId)).toBe(3);
    // A campaign's audience sees contact labels.
    const number = (await call("POST", "/api/numbers", a, { body: { phoneNumber: "+14155550299" } })).json;
    const draft = await call("POST", "/api/campaigns", a, {
      body: { name: "Fair", audience: { labels: ["Fair"] }, body: "See you there", from: number.id },
    });
    expect(draft.json.counts.audience).toBe(2);
  });

  it("imports, normalises, merges duplicates, suppresses opt-outs, reports bad rows; the same file again changes nothing", async () => {
    const a = await signup();
    const inbox = await openSocket("/api/ws", a);
    const csv = [
      "Full name,Mobile,Email,Plan,Consent",
      '"Lee, Ana",(415) 555-0101,ANA@example.com,Pro,yes',
      "Bo,+14155550102,,Free,",
      "Bo Again,415.555.0102,bo@example.com,,",
      "Nobody,12,,,",
      "Quinn,+14155550103,,,unsubscribed",
    ].join("\n");
    const res = await upload(a, csv, "?map=name:Full%20name,phone:Mobile,email:Email,fields.plan:Plan,consent:Consent");
    expect(res.status, res.text).toBe(202);
    expect(res.json).toMatchObject({ status: "queued" });
    const done = await finished(a, res.json.id);
    expect(done).toMatchObject({ status: "done", total: 5, imported: 3, updated: 0, errorCount: 1 });
    expect(done.errors).toEqual([{ row: 5, reason: '"12" is not a valid phone number' }]);
    const frame = await inbox.next((f) => f.type === "import" && f.import.status === "done");
    expect(frame.import.id).toBe(res.json.id);

    const contacts = (await call("GET", "/api/contacts?limit=10", a)).json.items;
    const ana = contacts.find((c: { phone: string }) => c.phone === "+14155550101");
    expect(ana).toMatchObject({ name: "Lee, Ana", email: "ana@example.com", fields: { plan: "Pro" }, optedOut: false });
    expect(contacts.find((c: { phone: string }) => c.phone === "+14155550102")).toMatchObject({
      name: "Bo Again",
      email: "bo@example.com",
      fields: { plan: "Free" },
    });
    expect(contacts.find((c: { phone: string }) => c.phone === "+14155550103")).toMatchObject({ optedOut: true });
    expect(await countRows("suppressions", "workspace_id = ? AND phone = ?", a.workspaceId, "+14155550103")).toBe(1);

    const errors = await call("GET", `/api/imports/${res.json.id}/errors.csv`, a);
    expect(errors.headers.get("Content-Type")).toContain("text/csv");
    expect(errors.text).toBe('row,reason\r\n5,"""12"" is not a valid phone number"\r\n');

    const again = await upload(
      a,
      csv,
      "?map=name:Full%20name,phone:Mobile,email:Email,fields.plan:Plan,consent:Consent",
    );
    const second = await finished(a, again.json.id);
    expect(second).toMatchObject({ status: "done", imported: 0, updated: 0 });
    expect(await countRows("contacts", "workspace_id = ?", a.workspaceId)).toBe(3);
  });

  it("parses a file bigger than one chunk (quoted line breaks across the boundary) in several jobs", async () => {
    const a = await signup();
    const rows = ["name,phone,notes"];
    for (let i = 0; i < 1500; i++) {
      rows.push(`"Person ${i}",+1415${String(3000000 + i)},"line one\nline two, with a comma ${"x".repeat(40)}"`);
    }
    const csv = `\uFEFF${rows.join("\r\n")}\r\n`;
    expect(csv.length).toBeGreaterThan(2 * 64 * 1024);
    const res = await upload(a, csv, "?map=fields.notes:notes");
    const done = await finished(a, res.json.id);
    expect(done).toMatchObject({ status: "done", total: 1500, imported: 1500, errorCount: 0, progress: 1 });
    expect(await countRows("contacts", "workspace_id = ?", a.workspaceId)).toBe(1500);
    const one = (await call("GET", "/api/contacts?q=Person%20777", a)).json.items[0];
    expect(one.fields.notes).toContain("line one\nline two, with a comma");
  });

  it("refuses what it cannot import, storing nothing: wrong type, no phone column, bad mapping; viewers cannot import", async () => {
    const a = await signup();
    expect((await call("POST", "/api/imports", a, { body: { not: "csv" } })).status).toBe(415);
    expect((await upload(a, "a,b\n1,2", "?map=bogus:x")).status).toBe(422);
    const noPhone = await upload(a, "name,email\nAna,ana@example.com");
    expect((await finished(a, noPhone.json.id)).failure).toMatch(/No "phone" column/);
    expect(await countRows("contacts", "workspace_id = ?", a.workspaceId)).toBe(0);
    const viewer = await addMember(a.workspaceId, "viewer");
    expect((await upload(viewer, "phone\n+14155550101")).status).toBe(403);
    const other = await signup();
    expect((await call("GET", `/api/imports/${noPhone.json.id}`, other)).status).toBe(404);
    expect((await call("GET", `/api/imports/${noPhone.json.id}/errors.csv`, other)).status).toBe(404);
    void env;
  });
});

describe("exports", () => {
  it("exports contacts (CSV) and transcripts in a date range (CSV, JSON) with a token link that expires; admins only; audited", async () => {
    const a = await signup();
    const imported = await upload(
      a,
      'name,phone,plan\n"Lee, Ana",+14155550101,=SUM(A1)\nBo,+14155550102,\n',
      "?map=fields.plan:plan",
    );
    await finished(a, imported.json.id);
    const started = await call("POST", "/api/exports", a, { body: { kind: "contacts" } });
    expect(started.status, started.text).toBe(202);
    expect(started.json.url).toMatch(/^\/api\/exports\/exp_[a-z0-9]+\/download\?token=/);
    const done = await eventually(async () => {
      const res = await call("GET", `/api/exports/${started.json.id}`, a);
      return res.json.status === "done" ? res.json : undefined;
    }, 15_000);
    expect(done).toMatchObject({ rows: 2, url: null });
    // The link works without a session; the file is CSV with formulas neutralised.
    const file = await call("GET", started.json.url, {});
    expect(file.status).toBe(200);
    expect(file.headers.get("Content-Type")).toContain("text/csv");
    const lines = file.text.trim().split("\r\n");
    expect(lines[0]).toBe("id,name,phone,email,timezone,opted_out,created_at,fields,merged_into");
    expect(lines).toHaveLength(3);
    expect(file.text).toContain('"Lee, Ana"');
    // Fields are one JSON cell (it starts with {, so no spreadsheet reads it as a formula).
    expect(file.text).toContain('"{""plan"":""=SUM(A1)""}"');
    // A wrong token is a 404; an expired link a 410.
    expect((await call("GET", `/api/exports/${started.json.id}/download?token=wrongwrongwrong`, {})).status).toBe(404);
    await env.DB.prepare("UPDATE exports SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, started.json.id)
      .run();
    expect((await call("GET", started.json.url, {})).status).toBe(410);

    const transcripts = await call("POST", "/api/exports", a, {
      body: { kind: "transcripts", format: "json", from: new Date(Date.now() - 3_600_000).toISOString() },
    });
    await eventually(
      async () => (await call("GET", `/api/exports/${transcripts.json.id}`, a)).json.status === "done",
      15_000,
    );
    const json = await call("GET", transcripts.json.url, {});
    expect(json.json).toEqual([]);
    expect(await countRows("audit_log", "workspace_id = ? AND action = 'export.created'", a.workspaceId)).toBe(2);
    // Agents cannot export; another workspace cannot see it.
    const agent = await addMember(a.workspaceId, "agent");
    expect((await call("POST", "/api/exports", agent, { body: { kind: "contacts" } })).status).toBe(403);
    const other = await signup();
    expect((await call("GET", `/api/exports/${started.json.id}`, other)).status).toBe(404);
    expect((await call("POST", "/api/exports", a, { body: { kind: "contacts", format: "json" } })).status).toBe(422);
  });
});
