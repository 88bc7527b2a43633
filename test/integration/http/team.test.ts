/**
 * The team: invitations and members, the last-owner rule, several workspaces per user, password change
 * and reset, and the audit trail of all of it.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Account, call, signup } from "../../helpers/api";
import { addMember, countRows } from "../../helpers/db";
import { openSocket } from "../../helpers/sockets";

function cookieOf(res: { headers: Headers }): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

async function invite(owner: Account, email: string, role = "agent") {
  const res = await call("POST", "/api/invitations", owner, { body: { email, role } });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; token: string; url: string; role: string; expiresAt: string };
}

describe("invitations", () => {
  let owner: Account;
  beforeAll(async () => {
    owner = await signup({ name: "Olivia Owner" });
  });

  it("an invited person signs up into the inviting workspace with the invited role (no new workspace)", async () => {
    const email = `new-${Date.now()}@example.com`;
    const inv = await invite(owner, email, "agent");
    expect(inv.url).toContain(`?invite=${encodeURIComponent(inv.token)}`);
    expect(Date.parse(inv.expiresAt) - Date.now()).toBeGreaterThan(6.9 * 24 * 3600_000);
    const workspacesBefore = await countRows("workspaces");
    const res = await call(
      "POST",
      "/api/auth/signup",
      {},
      {
        body: { email, password: "a-long-password-1", name: "Nora New", invitationToken: inv.token },
        headers: { "CF-Connecting-IP": "10.9.9.1" },
      },
    );
    expect(res.status, res.text).toBe(201);
    expect(res.json.workspace.id).toBe(owner.workspaceId);
    expect(await countRows("workspaces")).toBe(workspacesBefore);
    const me = await call("GET", "/api/me", { cookie: cookieOf(res) });
    expect(me.json.role).toBe("agent");
    expect(me.json.workspaces).toEqual([{ id: owner.workspaceId, name: expect.any(String), role: "agent" }]);

    // One use: the token is spent.
    const again = await call(
      "POST",
      "/api/auth/signup",
      {},
      {
        body: { email: `x-${email}`, password: "a-long-password-1", name: "X", invitationToken: inv.token },
        headers: { "CF-Connecting-IP": "10.9.9.2" },
      },
    );
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe("invitation_not_found");
    expect(await countRows("users", "email = ?", `x-${email}`)).toBe(0);

    // The token is shown once: the list has no token.
    const list = await call("GET", "/api/invitations", owner);
    expect(JSON.stringify(list.json)).not.toContain(inv.token);
  });

  it("a signed-in user of another workspace accepts, sees both workspaces and switches between them", async () => {
    const other = await signup({ name: "Sam Other" });
    const inv = await invite(owner, other.email, "viewer");
    const accepted = await call("POST", "/api/invitations/accept", other, { body: { token: inv.token } });
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.json).toEqual({ workspace: { id: owner.workspaceId, name: expect.any(String) }, role: "viewer" });
    // Accepting moves the session to the joined workspace (a new cookie; the old one ended).
    const cookie = cookieOf(accepted);
    expect((await call("GET", "/api/me", other)).status).toBe(401);
    const me = await call("GET", "/api/me", { cookie });
    expect(me.json.workspace.id).toBe(owner.workspaceId);
    expect(me.json.workspaces.map((w: { id: string }) => w.id).sort()).toEqual(
      [owner.workspaceId, other.workspaceId].sort(),
    );
    const switched = await call("POST", "/api/auth/switch", { cookie }, { body: { workspaceId: other.workspaceId } });
    expect(switched.status).toBe(200);
    expect(switched.json.role).toBe("owner");
    const back = await call("GET", "/api/me", { cookie: cookieOf(switched) });
    expect(back.json.workspace.id).toBe(other.workspaceId);
    // Not a member: 404, whatever the id.
    const stranger = await signup();
    const refused = await call(
      "POST",
      "/api/auth/switch",
      { cookie: cookieOf(switched) },
      { body: { workspaceId: stranger.workspaceId } },
    );
    expect(refused.status).toBe(404);
  });

  it("an invitation for another email cannot be accepted; a revoked one is gone", async () => {
    const inv = await invite(owner, `someone-${Date.now()}@example.com`);
    const intruder = await signup();
    const res = await call("POST", "/api/invitations/accept", intruder, { body: { token: inv.token } });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("invitation_email_mismatch");
    expect((await call("DELETE", `/api/invitations/${inv.id}`, owner)).status).toBe(204);
    const list = await call("GET", "/api/invitations", owner);
    expect(list.json.items.map((i: { id: string }) => i.id)).not.toContain(inv.id);
    const late = await call(
      "POST",
      "/api/auth/signup",
      {},
      {
        body: {
          email: `someone-late@example.com`,
          password: "a-long-password-1",
          name: "L",
          invitationToken: inv.token,
        },
        headers: { "CF-Connecting-IP": "10.9.9.3" },
      },
    );
    expect(late.status).toBe(404);
  });

  it("an expired invitation cannot be used", async () => {
    const email = `late-${Date.now()}@example.com`;
    const inv = await invite(owner, email);
    await env.DB.prepare("UPDATE invitations SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, inv.id)
      .run();
    const res = await call(
      "POST",
      "/api/auth/signup",
      {},
      {
        body: { email, password: "a-long-password-1", name: "Late", invitationToken: inv.token },
        headers: { "CF-Connecting-IP": "10.9.9.4" },
      },
    );
    expect(res.status).toBe(404);
    expect(await countRows("users", "email = ?", email)).toBe(0);
  });

  it("inviting an existing member is a 409; a bad role or email is a 422 that stores nothing", async () => {
    const before = await countRows("invitations", "workspace_id = ?", owner.workspaceId);
    expect((await call("POST", "/api/invitations", owner, { body: { email: owner.email } })).status).toBe(409);
    expect((await call("POST", "/api/invitations", owner, { body: { email: "x@y.z", role: "god" } })).status).toBe(422);
    expect((await call("POST", "/api/invitations", owner, { body: { email: "not-an-email" } })).status).toBe(422);
    expect(await countRows("invitations", "workspace_id = ?", owner.workspaceId)).toBe(before);
  });

  it("agents and viewers cannot invite; admins cannot invite owners", async () => {
    const agent = await addMember(owner.workspaceId, "agent");
    const viewer = await addMember(owner.workspaceId, "viewer");
    const admin = await addMember(owner.workspaceId, "admin");
    expect((await call("POST", "/api/invitations", agent, { body: { email: "a@b.co" } })).status).toBe(403);
    expect((await call("POST", "/api/invitations", viewer, { body: { email: "a@b.co" } })).status).toBe(403);
    expect((await call("POST", "/api/invitations", admin, { body: { email: "a@b.co", role: "owner" } })).status).toBe(
      403,
    );
    expect((await call("POST", "/api/invitations", admin, { body: { email: "a@b.co", role: "admin" } })).status).toBe(
      201,
    );
  });
});

describe("members", () => {
  it("lists members; re-roles them; the last owner can neither be demoted nor leave (409)", async () => {
    const owner = await signup({ name: "Only Owner" });
    const agent = await addMember(owner.workspaceId, "agent");
    const list = await call("GET", "/api/members", owner);
    expect(list.status).toBe(200);
    const me = list.json.items.find((m: { userId: string }) => m.userId === owner.userId);
    expect(me).toMatchObject({ role: "owner", email: owner.email, name: "Only Owner" });
    expect(me.id).toMatch(/^mem_/);

    const demote = await call("PATCH", `/api/members/${me.id}`, owner, { body: { role: "admin" } });
    expect(demote.status).toBe(409);
    const leave = await call("DELETE", `/api/members/${me.id}`, owner);
    expect(leave.status).toBe(409);

    // Promote the agent to owner; now the first owner may step down.
    const promoted = await call("PATCH", `/api/members/${agent.memberId}`, owner, { body: { role: "owner" } });
    expect(promoted.status).toBe(200);
    expect(promoted.json.role).toBe("owner");
    expect((await call("PATCH", `/api/members/${me.id}`, owner, { body: { role: "agent" } })).status).toBe(200);
    // The role holds at once: the former owner is an agent now.
    expect((await call("GET", "/api/me", owner)).json.role).toBe("agent");
    expect((await call("GET", "/api/invitations", owner)).status).toBe(403);

    const audit = await env.DB.prepare(
      "SELECT data FROM audit_log WHERE workspace_id = ? AND action = 'member.role_changed' ORDER BY id",
    )
      .bind(owner.workspaceId)
      .all<{ data: string }>();
    expect(audit.results.map((r) => JSON.parse(r.data))).toEqual([
      expect.objectContaining({ before: "agent", after: "owner" }),
      expect.objectContaining({ before: "owner", after: "agent" }),
    ]);
  });

  it("a removed member's sessions end, their sockets close and their conversations become unassigned", async () => {
    const owner = await signup();
    const agent = await addMember(owner.workspaceId, "agent");
    const contact = await call("POST", "/api/contacts", owner, { body: { phone: "+14155550142", name: "C" } });
    await call("POST", "/api/numbers", owner, { body: { phoneNumber: `+1415555${String(Date.now()).slice(-4)}` } });
    const conv = await call("POST", "/api/conversations", owner, { body: { contactId: contact.json.id } });
    expect(conv.status, conv.text).toBe(201);
    const assigned = await call("PATCH", `/api/conversations/${conv.json.id}`, owner, {
      body: { assignee: agent.userId },
    });
    expect(assigned.json.assignee).toEqual({ id: agent.userId, name: "Member agent" });

    const socket = await openSocket("/api/ws", agent);
    const removed = await call("DELETE", `/api/members/${agent.memberId}`, owner);
    expect(removed.status).toBe(204);
    expect((await socket.closed).code).toBe(4401);
    expect((await call("GET", "/api/me", agent)).status).toBe(401);
    const after = await call("GET", `/api/conversations/${conv.json.id}`, owner);
    expect(after.json.assignee).toBeNull();
    expect(await countRows("audit_log", "workspace_id = ? AND action = 'member.removed'", owner.workspaceId)).toBe(1);
  });

  it("a member may leave; another workspace's member id is a 404", async () => {
    const owner = await signup();
    const agent = await addMember(owner.workspaceId, "agent");
    const other = await signup();
    const otherAgent = await addMember(other.workspaceId, "agent");
    expect((await call("DELETE", `/api/members/${otherAgent.memberId}`, owner)).status).toBe(404);
    expect(
      (await call("PATCH", `/api/members/${otherAgent.memberId}`, owner, { body: { role: "admin" } })).status,
    ).toBe(404);
    // An agent cannot remove others, but can leave.
    expect(
      (await call("DELETE", `/api/members/${(await addMember(owner.workspaceId, "viewer")).memberId}`, agent)).status,
    ).toBe(403);
    expect((await call("DELETE", `/api/members/${agent.memberId}`, agent)).status).toBe(204);
    expect(await countRows("audit_log", "workspace_id = ? AND action = 'member.left'", owner.workspaceId)).toBe(1);
  });
});

describe("passwords", () => {
  it("changing the password ends the other sessions, keeps this one, and needs the current password", async () => {
    const user = await signup();
    const login = await call(
      "POST",
      "/api/auth/login",
      {},
      { body: { email: user.email, password: user.password }, headers: { "CF-Connecting-IP": "10.8.0.1" } },
    );
    const otherSession = { cookie: cookieOf(login) };
    const wrong = await call("POST", "/api/auth/password", user, {
      body: { currentPassword: "nope", newPassword: "a-brand-new-password" },
    });
    expect(wrong.status).toBe(401);
    expect((await call("GET", "/api/me", otherSession)).status).toBe(200);
    const changed = await call("POST", "/api/auth/password", user, {
      body: { currentPassword: user.password, newPassword: "a-brand-new-password" },
    });
    expect(changed.status).toBe(204);
    expect((await call("GET", "/api/me", user)).status).toBe(200);
    expect((await call("GET", "/api/me", otherSession)).status).toBe(401);
    const relog = await call(
      "POST",
      "/api/auth/login",
      {},
      { body: { email: user.email, password: "a-brand-new-password" }, headers: { "CF-Connecting-IP": "10.8.0.2" } },
    );
    expect(relog.status).toBe(200);
  });

  it("a reset token works once, ends every session, and unknown emails look the same", async () => {
    const user = await signup();
    const unknown = await call("POST", "/api/auth/password/reset", {}, { body: { email: "nobody@example.com" } });
    expect(unknown.status).toBe(202);
    const asked = await call("POST", "/api/auth/password/reset", {}, { body: { email: user.email } });
    expect(asked.status).toBe(202);
    // The link goes to the user's inbox; the test reads the token the way the email would carry it.
    const token = "pwr_testtoken_0123456789";
    const { sha256Hex } = await import("../../../src/security/crypto");
    await env.DB.prepare("INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES (?, ?, ?)")
      .bind(await sha256Hex(token), user.userId, Date.now() + 60_000)
      .run();
    const set = await call(
      "POST",
      "/api/auth/password/reset/confirm",
      {},
      { body: { token, newPassword: "reset-password-123" } },
    );
    expect(set.status).toBe(204);
    expect((await call("GET", "/api/me", user)).status).toBe(401);
    const again = await call(
      "POST",
      "/api/auth/password/reset/confirm",
      {},
      { body: { token, newPassword: "other-password-123" } },
    );
    expect(again.status).toBe(404);
    expect(await countRows("password_resets", "user_id = ?", user.userId)).toBe(2);
  });
});

describe("deleting the workspace", () => {
  it("only a signed-in owner, confirming with its name; everything in it goes, other workspaces stay", async () => {
    const { textingWorkspace } = await import("../../helpers/pipeline");
    const ws = await textingWorkspace();
    const owner = ws.account;
    const admin = await addMember(owner.workspaceId, "admin");
    const conv = await call("POST", "/api/conversations", owner, { body: { phone: ws.customer } });
    await call("POST", `/api/conversations/${conv.json.id}/messages`, owner, { body: { body: "hello" } });
    await call("POST", `/api/conversations/${conv.json.id}/notes`, owner, { body: { body: "a note" } });
    await call("POST", "/api/labels", owner, { body: { name: "L" } });
    await call("POST", "/api/invitations", owner, { body: { email: "someone@example.com" } });
    const bystander = await signup();
    const name = (await call("GET", "/api/me", owner)).json.workspace.name;

    expect((await call("DELETE", "/api/workspace", admin, { body: { confirm: name } })).status).toBe(403);
    expect((await call("DELETE", "/api/workspace", { key: ws.key }, { body: { confirm: name } })).status).toBe(403);
    const wrong = await call("DELETE", "/api/workspace", owner, { body: { confirm: "nope" } });
    expect(wrong.status).toBe(422);
    expect(await countRows("workspaces", "id = ?", owner.workspaceId)).toBe(1);

    expect((await call("DELETE", "/api/workspace", owner, { body: { confirm: name } })).status).toBe(204);
    const tables = await env.DB.prepare(
      "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND sql LIKE '%`workspace_id`%' AND substr(name, 1, 4) <> '_cf_'",
    ).all<{ t: string }>();
    expect(tables.results.length).toBeGreaterThan(10);
    for (const { t } of tables.results) {
      expect(await countRows(t, "workspace_id = ?", owner.workspaceId), t).toBe(0);
    }
    expect((await call("GET", "/api/me", owner)).status).toBe(401);
    expect((await call("GET", "/api/me", bystander)).status).toBe(200);
  });
});
