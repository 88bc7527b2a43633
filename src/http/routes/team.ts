/**
 * The team: members (list, re-role, remove or leave) and invitations (create, list, revoke, accept).
 * Owners and admins manage; only an owner makes or unmakes owners; the last owner cannot leave or be
 * demoted (409, guarded in the statement). Every change is audited.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq, inArray } from "drizzle-orm";
import type { Context } from "hono";
import { audit, auditValues } from "../../db/queries/audit";
import {
  acceptInvitationStatements,
  deleteInvitation,
  findOpenInvitation,
  getMember,
  listInvitations,
  listMembers,
  presentInvitation,
  removeMember,
  setMemberInboxes,
  setMemberRole,
} from "../../db/queries/team";
import { auditLog, invitations, numbers } from "../../db/schema";
import { ApiError, conflict, forbidden, notFound, unprocessable } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { iso } from "../../domain/time";
import { inboxFor, publishConversation } from "../../rooms/inbox-stream";
import { randomToken, sha256Hex } from "../../security/crypto";
import { ROLES } from "../../shared/status";
import type { AppEnv, Principal } from "../context";
import { requireAdmin } from "../middleware/auth";
import { ErrorSchema, errorResponses, IdParam, jsonBody, jsonContent, listOf, security } from "../schemas";
import { switchSession } from "../session";
import { validationHook } from "../validation";

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const Email = z.string().trim().toLowerCase().email().max(254).openapi({ example: "sam@example.com" });

export const MemberSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    name: z.string(),
    email: z.string(),
    role: z.enum(ROLES),
    /** The inboxes this member works in (null: all of them). */
    inboxIds: z.array(z.string()).nullable(),
    joinedAt: z.string(),
  })
  .openapi("Member");

const InvitationSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    role: z.enum(ROLES),
    status: z.enum(["pending", "accepted", "expired"]),
    expiresAt: z.string(),
    createdAt: z.string(),
  })
  .openapi("Invitation");

const CreatedInvitationSchema = z
  .object({ ...InvitationSchema.shape, token: z.string(), url: z.string() })
  .openapi("CreatedInvitation");

type MemberRow = {
  id: string | null;
  userId: string;
  name: string;
  email: string;
  role: string;
  inboxIds?: string[] | null;
  joinedAt: number;
};

function presentMember(row: MemberRow) {
  return {
    id: row.id ?? "",
    userId: row.userId,
    name: row.name,
    email: row.email,
    role: row.role as (typeof ROLES)[number],
    inboxIds: row.inboxIds ?? null,
    joinedAt: iso(row.joinedAt) ?? "",
  };
}

export function invitationUrl(env: Env, token: string): string {
  return `${env.PUBLIC_BASE_URL.replace(/\/$/, "")}/?invite=${encodeURIComponent(token)}`;
}

/** Only owners hand out or take away the owner role. */
function assertMayGrant(principal: Principal, role: string, what: string) {
  if (role === "owner" && principal.role !== "owner") throw forbidden(`Only an owner can ${what} an owner.`);
}

/** Closes a removed member's sockets: the inbox stream now, rooms at their next credential check. */
async function closeSocketsOf(c: Context<AppEnv>, workspaceId: string, userId: string) {
  await inboxFor(c.env, workspaceId)
    .closeUser(userId)
    .catch(() => 0);
}

const listMembersRoute = createRoute({
  method: "get",
  path: "/members",
  tags: ["team"],
  summary: "The workspace's members",
  security,
  responses: { 200: jsonContent(z.object({ items: z.array(MemberSchema) }), "Members"), ...errorResponses },
});

const patchMemberRoute = createRoute({
  method: "patch",
  path: "/members/{id}",
  tags: ["team"],
  summary:
    "Change a member's role, or limit them to some inboxes (inboxIds; null: all) (owner/admin; only owners make or unmake owners)",
  security,
  request: {
    params: IdParam,
    body: jsonBody(
      z
        .object({
          role: z.enum(ROLES).optional(),
          inboxIds: z.array(z.string().min(1).max(64)).max(100).nullable().optional(),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(MemberSchema, "Updated"),
    409: jsonContent(ErrorSchema, "The last owner cannot be demoted"),
    ...errorResponses,
  },
});

const deleteMemberRoute = createRoute({
  method: "delete",
  path: "/members/{id}",
  tags: ["team"],
  summary: "Remove a member (owner/admin), or leave (your own membership)",
  security,
  request: { params: IdParam },
  responses: {
    204: { description: "Removed; their sockets close and their conversations become unassigned" },
    409: jsonContent(ErrorSchema, "The last owner cannot leave"),
    ...errorResponses,
  },
});

const createInvitationRoute = createRoute({
  method: "post",
  path: "/invitations",
  tags: ["team"],
  summary: "Invite someone by email (owner/admin); the token and url are in this response only",
  security,
  request: { body: jsonBody(z.object({ email: Email, role: z.enum(ROLES).default("agent") }).strict()) },
  responses: {
    201: jsonContent(CreatedInvitationSchema, "Invited"),
    409: jsonContent(ErrorSchema, "Already a member"),
    ...errorResponses,
  },
});

const listInvitationsRoute = createRoute({
  method: "get",
  path: "/invitations",
  tags: ["team"],
  summary: "Invitations not yet accepted (owner/admin)",
  security,
  responses: { 200: jsonContent(listOf(InvitationSchema, "InvitationList"), "Invitations"), ...errorResponses },
});

const deleteInvitationRoute = createRoute({
  method: "delete",
  path: "/invitations/{id}",
  tags: ["team"],
  summary: "Revoke an invitation (owner/admin)",
  security,
  request: { params: IdParam },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});

const acceptInvitationRoute = createRoute({
  method: "post",
  path: "/invitations/accept",
  tags: ["team"],
  summary: "Accept an invitation as the signed-in user (its email must be yours); switches to that workspace",
  security,
  request: { body: jsonBody(z.object({ token: z.string().min(10).max(200) }).strict()) },
  responses: {
    200: jsonContent(
      z.object({ workspace: z.object({ id: z.string(), name: z.string() }), role: z.enum(ROLES) }),
      "Joined",
    ),
    ...errorResponses,
  },
});

/** 404 for a token that is unknown, spent or expired (one message, so tokens cannot be probed). */
export const invitationNotFound = () =>
  new ApiError(404, "invitation_not_found", "This invitation is not valid any more (used, revoked or expired).");

/**
 * Joins the invitation's workspace as `user` (whose email must match). Spends the invitation in the
 * same batch as the membership insert; a second accept of the same token finds it spent.
 */
export async function joinByInvitation(
  c: Context<AppEnv>,
  token: string,
  user: { id: string; email: string },
): Promise<{ workspaceId: string; workspaceName: string; role: (typeof ROLES)[number] }> {
  const db = c.get("db");
  const now = Date.now();
  const found = await findOpenInvitation(db, await sha256Hex(token), now);
  if (!found) throw invitationNotFound();
  const { invitation } = found;
  if (invitation.email !== user.email.toLowerCase()) {
    throw new ApiError(
      403,
      "invitation_email_mismatch",
      `This invitation is for ${invitation.email}; sign in with that address to accept it.`,
    );
  }
  const [taken] = await c
    .get("d1")
    .batch(acceptInvitationStatements(c.get("d1"), invitation, user.id, newId("mem"), now));
  if (!taken?.results[0]) throw invitationNotFound();
  await db.insert(auditLog).values({
    workspaceId: invitation.workspaceId,
    actorType: "user",
    actorId: user.id,
    action: "invitation.accepted",
    targetType: "invitation",
    targetId: invitation.id,
    data: { email: invitation.email, role: invitation.role },
    clientIp: c.req.header("CF-Connecting-IP") ?? null,
  });
  return { workspaceId: invitation.workspaceId, workspaceName: found.workspaceName, role: invitation.role };
}

export const teamRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listMembersRoute, async (c) => {
    const { workspaceId } = c.get("principal");
    const rows = await listMembers(c.get("db"), workspaceId);
    return c.json({ items: rows.map(presentMember) }, 200);
  })
  .openapi(patchMemberRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const role = input.role;
    const db = c.get("db");
    const member = await getMember(db, principal.workspaceId, id);
    if (!member) throw notFound("Member");
    let changed = false;
    if (role !== undefined && member.role !== role) {
      assertMayGrant(principal, member.role, "demote");
      assertMayGrant(principal, role, "make");
      if (!(await setMemberRole(db, principal.workspaceId, id, role))) {
        throw conflict("The workspace's last owner cannot be demoted; make someone else an owner first.");
      }
      await audit(db, principal, "member.role_changed", "member", id, {
        userId: member.userId,
        email: member.email,
        before: member.role,
        after: role,
      });
      changed = true;
    }
    let inboxIds = member.inboxIds ?? null;
    if (input.inboxIds !== undefined) {
      const wanted = input.inboxIds === null ? null : [...new Set(input.inboxIds)];
      if (wanted !== null) {
        const own = new Set(
          (
            await db
              .select({ id: numbers.id })
              .from(numbers)
              .where(and(eq(numbers.workspaceId, principal.workspaceId), inArray(numbers.id, wanted)))
          ).map((n) => n.id),
        );
        const unknown = wanted.filter((x) => !own.has(x));
        if (unknown.length > 0) {
          throw unprocessable("unknown_inbox", `No such inbox in this workspace: ${unknown.join(", ")}.`, {
            inboxIds: unknown,
          });
        }
      }
      await setMemberInboxes(db, principal.workspaceId, id, wanted);
      await audit(db, principal, "member.inboxes_changed", "member", id, {
        userId: member.userId,
        before: member.inboxIds ?? null,
        after: wanted,
      });
      inboxIds = wanted;
      changed = true;
    }
    // Sessions take the new role and inboxes at once (read with every request); the sockets reconnect with them.
    if (changed) await closeSocketsOf(c, principal.workspaceId, member.userId);
    return c.json(presentMember({ ...member, role: role ?? member.role, inboxIds }), 200);
  })
  .openapi(deleteMemberRoute, async (c) => {
    const principal = c.get("principal");
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const member = await getMember(db, principal.workspaceId, id);
    if (!member) throw notFound("Member");
    const leaving = principal.kind === "session" && principal.userId === member.userId;
    if (!leaving) {
      requireAdmin(c);
      assertMayGrant(principal, member.role, "remove");
    }
    const removed = await removeMember(db, principal.workspaceId, id, member.userId);
    if (!removed) {
      throw conflict(
        leaving
          ? "You are the workspace's last owner; make someone else an owner before you leave."
          : "The workspace's last owner cannot be removed.",
      );
    }
    await audit(db, principal, leaving ? "member.left" : "member.removed", "member", id, {
      userId: member.userId,
      email: member.email,
      role: member.role,
    });
    await closeSocketsOf(c, principal.workspaceId, member.userId);
    c.executionCtx.waitUntil(
      Promise.all(
        removed.unassigned.map((conversationId) => publishConversation(c.env, principal.workspaceId, conversationId)),
      ),
    );
    return c.body(null, 204);
  })
  .openapi(createInvitationRoute, async (c) => {
    const principal = requireAdmin(c);
    const { email, role } = c.req.valid("json");
    assertMayGrant(principal, role, "invite");
    const db = c.get("db");
    const members = await listMembers(db, principal.workspaceId);
    if (members.some((m) => m.email === email)) {
      throw conflict(`${email} is already a member of this workspace.`, { field: "email" });
    }
    const token = `inv_${randomToken(24)}`;
    const now = Date.now();
    const row = {
      id: newId("inv"),
      workspaceId: principal.workspaceId,
      email,
      role,
      tokenHash: await sha256Hex(token),
      invitedBy: principal.userId,
      expiresAt: now + INVITATION_TTL_MS,
      createdAt: now,
    };
    await db.batch([
      db.insert(invitations).values(row),
      db.insert(auditLog).values(auditValues(principal, "invitation.created", "invitation", row.id, { email, role })),
    ]);
    const created = presentInvitation({ ...row, invitedBy: row.invitedBy, acceptedAt: null, acceptedBy: null }, now);
    return c.json({ ...created, token, url: invitationUrl(c.env, token) }, 201);
  })
  .openapi(listInvitationsRoute, async (c) => {
    const principal = requireAdmin(c);
    const rows = await listInvitations(c.get("db"), principal.workspaceId);
    const now = Date.now();
    return c.json({ items: rows.map((r) => presentInvitation(r, now)), nextCursor: null }, 200);
  })
  .openapi(deleteInvitationRoute, async (c) => {
    const principal = requireAdmin(c);
    const { id } = c.req.valid("param");
    const db = c.get("db");
    const removed = await deleteInvitation(db, principal.workspaceId, id);
    if (!removed) throw notFound("Invitation");
    await audit(db, principal, "invitation.revoked", "invitation", id, { email: removed.email, role: removed.role });
    return c.body(null, 204);
  })
  .openapi(acceptInvitationRoute, async (c) => {
    const principal = c.get("principal");
    if (principal.kind !== "session" || !principal.userId) {
      throw forbidden("Invitations are accepted by a signed-in person, not an API key.");
    }
    const user = await c.get("db").query.users.findFirst({ where: (u, { eq }) => eq(u.id, principal.userId ?? "") });
    if (!user) throw notFound("User");
    const joined = await joinByInvitation(c, c.req.valid("json").token, user);
    // The session moves to the joined workspace (as a switch would).
    await switchSession(c, principal, joined.workspaceId);
    return c.json({ workspace: { id: joined.workspaceId, name: joined.workspaceName }, role: joined.role }, 200);
  });
