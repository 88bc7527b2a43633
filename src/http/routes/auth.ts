/** Sign up, sign in, sign out and "who am I". Sessions are random tokens stored hashed. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { deleteCookie } from "hono/cookie";
import { audit } from "../../db/queries/audit";
import { deleteSession, findPrimaryMembership, findUserByEmail, getMe } from "../../db/queries/auth";
import { clearWindow, countAttempt, stateOf, uncountAttempt } from "../../db/queries/rate-limits";
import {
  createPasswordReset,
  findMembership,
  setPasswordStatements,
  spendPasswordReset,
  workspacesOf,
} from "../../db/queries/team";
import { auditLog, memberships, users, workspaces } from "../../db/schema";
import { ApiError, conflict, forbidden, notFound, tooManyRequests } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { log } from "../../log";
import { inboxFor } from "../../rooms/inbox-stream";
import { DUMMY_PASSWORD_HASH, hashPassword, randomToken, sha256Hex, verifyPassword } from "../../security/crypto";
import { ROLES } from "../../shared/status";
import type { AppEnv } from "../context";
import { requireAuth, resolvePrincipal, SESSION_COOKIE } from "../middleware/auth";
import { ErrorSchema, jsonBody, jsonContent, security } from "../schemas";
import { clientKey, isLocalHost, startSession, switchSession } from "../session";
import { validationHook } from "../validation";
import { joinByInvitation } from "./team";

export const DEFAULT_HELP_TEXT = "Reply STOP to unsubscribe. Msg&data rates may apply.";

const LOGIN_WINDOW_MS = 15 * 60 * 1000;
const LOGIN_MAX_FAILURES_PER_EMAIL = 5;
const LOGIN_MAX_FAILURES_PER_CLIENT = 20;
const SIGNUP_WINDOW_MS = 60 * 60 * 1000;
const SIGNUP_MAX_PER_CLIENT = 20;

const Email = z.string().trim().toLowerCase().email().max(254).openapi({ example: "ada@example.com" });
const Password = z.string().min(10, "must be at least 10 characters").max(256);

const UserSchema = z.object({ id: z.string(), email: z.string(), name: z.string() }).openapi("User");
const WorkspaceSchema = z.object({ id: z.string(), name: z.string() }).openapi("Workspace");

const signupRoute = createRoute({
  method: "post",
  path: "/signup",
  tags: ["auth"],
  summary: "Create an account and its workspace; signs in",
  request: {
    body: jsonBody(
      z
        .object({
          email: Email,
          password: Password,
          name: z.string().trim().min(1).max(100),
          workspaceName: z.string().trim().min(1).max(100).optional(),
          invitationToken: z.string().min(10).max(200).optional().openapi({
            description: "Join the inviting workspace (with the invitation's role) instead of creating one",
          }),
        })
        .refine((v) => v.workspaceName !== undefined || v.invitationToken !== undefined, {
          message: "name the new workspace (workspaceName), or pass an invitationToken to join one",
          path: ["workspaceName"],
        }),
    ),
  },
  responses: {
    201: jsonContent(z.object({ user: UserSchema, workspace: WorkspaceSchema }), "Signed up and signed in"),
    404: jsonContent(ErrorSchema, "The invitation is not valid any more"),
    409: jsonContent(ErrorSchema, "Email already registered"),
    422: jsonContent(ErrorSchema, "Validation failed"),
    429: jsonContent(ErrorSchema, "Too many sign-ups from this client"),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  tags: ["auth"],
  summary: "Sign in with email and password",
  request: { body: jsonBody(z.object({ email: Email, password: z.string().min(1).max(256) })) },
  responses: {
    200: jsonContent(z.object({ user: UserSchema, workspace: WorkspaceSchema }), "Signed in"),
    401: jsonContent(ErrorSchema, "Wrong email or password"),
    429: jsonContent(ErrorSchema, "Too many failed attempts; see Retry-After"),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/logout",
  tags: ["auth"],
  summary: "Sign out (ends the session)",
  responses: { 204: { description: "Signed out" } },
});

const switchRoute = createRoute({
  method: "post",
  path: "/switch",
  tags: ["auth"],
  summary: "Switch the session to another of your workspaces (a new session cookie)",
  security,
  request: { body: jsonBody(z.object({ workspaceId: z.string().min(1).max(64) }).strict()) },
  responses: {
    200: jsonContent(z.object({ workspace: WorkspaceSchema, role: z.enum(ROLES) }), "Switched"),
    404: jsonContent(ErrorSchema, "Not one of your workspaces"),
  },
});

const passwordRoute = createRoute({
  method: "post",
  path: "/password",
  tags: ["auth"],
  summary: "Change your password; ends your other sessions",
  security,
  request: {
    body: jsonBody(z.object({ currentPassword: z.string().min(1).max(256), newPassword: Password }).strict()),
  },
  responses: {
    204: { description: "Changed" },
    401: jsonContent(ErrorSchema, "The current password is wrong"),
  },
});

const resetRequestRoute = createRoute({
  method: "post",
  path: "/password/reset",
  tags: ["auth"],
  summary:
    "Ask for a password reset link (always 202; the link goes to the account's email — until email exists, `npm run dev` prints it)",
  request: { body: jsonBody(z.object({ email: Email }).strict()) },
  responses: { 202: { description: "If the account exists, a link is on its way" } },
});

const resetConfirmRoute = createRoute({
  method: "post",
  path: "/password/reset/confirm",
  tags: ["auth"],
  summary: "Set a new password with a reset token (one use, 1 hour); ends every session of the account",
  request: { body: jsonBody(z.object({ token: z.string().min(10).max(200), newPassword: Password }).strict()) },
  responses: {
    204: { description: "Password set; sign in with it" },
    404: jsonContent(ErrorSchema, "The token is not valid any more"),
  },
});

export const RESET_TTL_MS = 60 * 60 * 1000;

export const MeSchema = z
  .object({
    user: UserSchema.nullable(),
    workspace: z.object({
      id: z.string(),
      name: z.string(),
      helpText: z.string(),
      retentionDays: z.number().nullable(),
    }),
    role: z.enum(ROLES),
    via: z.enum(["session", "api_key"]),
    workspaces: z
      .array(z.object({ id: z.string(), name: z.string(), role: z.enum(ROLES) }))
      .openapi({ description: "Every workspace the signed-in user belongs to (just this one for API keys)" }),
  })
  .openapi("Me");

const meRoute = createRoute({
  method: "get",
  path: "/me",
  tags: ["auth"],
  summary: "The caller: user, workspace and role",
  security,
  middleware: [requireAuth] as const,
  responses: { 200: jsonContent(MeSchema, "The caller"), 401: jsonContent(ErrorSchema, "Not signed in") },
});

export const authRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(signupRoute, async (c) => {
    const db = c.get("db");
    const input = c.req.valid("json");
    const now = Date.now();
    const limitKey = `signup:client:${clientKey(c)}`;
    const [counted] = await countAttempt(db, limitKey, SIGNUP_WINDOW_MS, now);
    const window = stateOf(counted, SIGNUP_WINDOW_MS, now);
    if (window.count > SIGNUP_MAX_PER_CLIENT) throw tooManyRequests(window.retryAfterSeconds);

    if (await findUserByEmail(db, input.email)) {
      throw conflict("An account with this email already exists; sign in instead.", { field: "email" });
    }
    const userId = newId("usr");
    const passwordHash = await hashPassword(input.password);
    const user = { id: userId, email: input.email, name: input.name };
    if (input.invitationToken !== undefined) {
      // Joining a team: the account is created, then the invitation is spent (its email must match).
      try {
        await db.insert(users).values({ ...user, passwordHash });
      } catch (err) {
        if (String(err).includes("UNIQUE")) throw conflict("An account with this email already exists.");
        throw err;
      }
      let joined: Awaited<ReturnType<typeof joinByInvitation>>;
      try {
        joined = await joinByInvitation(c, input.invitationToken, user);
      } catch (err) {
        // Nothing is kept of a sign-up whose invitation did not hold.
        await db.delete(users).where(eq(users.id, userId));
        throw err;
      }
      await startSession(c, userId, joined.workspaceId);
      return c.json({ user, workspace: { id: joined.workspaceId, name: joined.workspaceName } }, 201);
    }
    const workspaceId = newId("ws");
    const workspaceName = input.workspaceName ?? "";
    try {
      await db.batch([
        db.insert(workspaces).values({ id: workspaceId, name: workspaceName, helpText: DEFAULT_HELP_TEXT }),
        db.insert(users).values({ ...user, passwordHash }),
        db.insert(memberships).values({ id: newId("mem"), workspaceId, userId, role: "owner" }),
      ]);
    } catch (err) {
      if (String(err).includes("UNIQUE")) throw conflict("An account with this email already exists.");
      throw err;
    }
    await startSession(c, userId, workspaceId);
    return c.json({ user, workspace: { id: workspaceId, name: workspaceName } }, 201);
  })
  .openapi(loginRoute, async (c) => {
    const db = c.get("db");
    const { email, password } = c.req.valid("json");
    const now = Date.now();
    const emailKey = `login:email:${email}`;
    const clientLimitKey = `login:client:${clientKey(c)}`;
    // Every attempt is counted before the password is checked, both counters in one round trip, so
    // parallel guesses cannot slip past the limit between a read and a write.
    const [[emailRow], [clientRow]] = await db.batch([
      countAttempt(db, emailKey, LOGIN_WINDOW_MS, now),
      countAttempt(db, clientLimitKey, LOGIN_WINDOW_MS, now),
    ]);
    const byEmail = stateOf(emailRow, LOGIN_WINDOW_MS, now);
    const byClient = stateOf(clientRow, LOGIN_WINDOW_MS, now);
    if (byEmail.count > LOGIN_MAX_FAILURES_PER_EMAIL) throw tooManyRequests(byEmail.retryAfterSeconds);
    if (byClient.count > LOGIN_MAX_FAILURES_PER_CLIENT) throw tooManyRequests(byClient.retryAfterSeconds);

    const user = await findUserByEmail(db, email);
    // Verify against a dummy hash for unknown emails so timing does not reveal which emails exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    const membership = user && ok ? await findPrimaryMembership(db, user.id) : undefined;
    if (!user || !ok || !membership) {
      throw new ApiError(401, "invalid_credentials", "Wrong email or password.");
    }
    // A success wipes the email's failures and is not held against the client.
    await clearWindow(db, emailKey);
    await uncountAttempt(db, clientLimitKey);
    await startSession(c, user.id, membership.workspaceId);
    const me = await getMe(db, user.id, membership.workspaceId);
    return c.json(
      {
        user: { id: user.id, email: user.email, name: user.name },
        workspace: { id: membership.workspaceId, name: me?.workspaceName ?? "" },
      },
      200,
    );
  })
  .openapi(logoutRoute, async (c) => {
    const principal = await resolvePrincipal(c);
    if (principal?.kind === "session") {
      await deleteSession(c.get("db"), principal.credentialId);
      // The inbox stream closes this session's sockets now; rooms within CREDENTIAL_CHECK_MS.
      c.executionCtx.waitUntil(
        inboxFor(c.env, principal.workspaceId)
          .closeCredential(principal.credentialId)
          .catch(() => 0),
      );
    }
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.body(null, 204);
  })
  .openapi(switchRoute, async (c) => {
    const principal = await sessionPrincipal(c);
    const { workspaceId } = c.req.valid("json");
    const db = c.get("db");
    const membership = await findMembership(db, workspaceId, principal.userId);
    if (!membership) throw notFound("Workspace");
    const me = await getMe(db, principal.userId, workspaceId);
    if (workspaceId !== principal.workspaceId) await switchSession(c, principal, workspaceId);
    return c.json({ workspace: { id: workspaceId, name: me?.workspaceName ?? "" }, role: membership.role }, 200);
  })
  .openapi(passwordRoute, async (c) => {
    const principal = await sessionPrincipal(c);
    const { currentPassword, newPassword } = c.req.valid("json");
    const db = c.get("db");
    const user = await db.query.users.findFirst({ where: eq(users.id, principal.userId) });
    if (!user || !(await verifyPassword(currentPassword, user.passwordHash))) {
      throw new ApiError(401, "invalid_credentials", "Your current password is not right.", {
        field: "currentPassword",
      });
    }
    await db.batch([
      ...setPasswordStatements(db, user.id, await hashPassword(newPassword), principal.credentialId),
      db.insert(auditLog).values({
        workspaceId: principal.workspaceId,
        actorType: "user",
        actorId: user.id,
        action: "auth.password_changed",
        targetType: "user",
        targetId: user.id,
        clientIp: principal.clientIp ?? null,
      }),
    ]);
    return c.body(null, 204);
  })
  .openapi(resetRequestRoute, async (c) => {
    const { email } = c.req.valid("json");
    const db = c.get("db");
    const now = Date.now();
    const limitKey = `reset:email:${email}`;
    const [counted] = await countAttempt(db, limitKey, LOGIN_WINDOW_MS, now);
    if (stateOf(counted, LOGIN_WINDOW_MS, now).count > LOGIN_MAX_FAILURES_PER_EMAIL) return c.body(null, 202);
    const user = await findUserByEmail(db, email);
    if (user) {
      const token = `pwr_${randomToken(24)}`;
      await createPasswordReset(db, user.id, await sha256Hex(token), now + RESET_TTL_MS);
      const link = `${c.env.PUBLIC_BASE_URL.replace(/\/$/, "")}/?reset=${encodeURIComponent(token)}`;
      // No email provider yet: a local deployment prints the link (never a deployed one, whose logs
      // others may read).
      if (isLocalHost(c.env.PUBLIC_BASE_URL)) console.log(`[parley] password reset link for ${email}: ${link}`);
      else log("info", "password reset requested", { userId: user.id });
    }
    return c.body(null, 202);
  })
  .openapi(resetConfirmRoute, async (c) => {
    const { token, newPassword } = c.req.valid("json");
    const db = c.get("db");
    const spent = await spendPasswordReset(db, await sha256Hex(token), Date.now());
    if (!spent) throw new ApiError(404, "reset_not_found", "This reset link is not valid any more (used or expired).");
    await db.batch(setPasswordStatements(db, spent.userId, await hashPassword(newPassword)));
    const membership = await findPrimaryMembership(db, spent.userId);
    if (membership) {
      await audit(
        db,
        {
          kind: "session",
          workspaceId: membership.workspaceId,
          userId: spent.userId,
          credentialId: "",
          clientIp: clientKey(c),
        },
        "auth.password_reset",
        "user",
        spent.userId,
      );
    }
    return c.body(null, 204);
  });

/** Routes only a signed-in person may call (not an API key). */
async function sessionPrincipal(c: Context<AppEnv>) {
  const principal = c.get("principal");
  if (principal.kind !== "session" || !principal.userId) throw forbidden("Only a signed-in person can do this.");
  return { ...principal, userId: principal.userId };
}

export const meRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(meRoute, async (c) => {
  const principal = c.get("principal");
  const db = c.get("db");
  const workspace = await db.query.workspaces.findFirst({
    where: (w, { eq }) => eq(w.id, principal.workspaceId),
  });
  if (!workspace) throw new ApiError(401, "unauthorized", "Your workspace no longer exists.");
  const user = principal.userId
    ? await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, principal.userId ?? "") })
    : undefined;
  return c.json(
    {
      user: user ? { id: user.id, email: user.email, name: user.name } : null,
      workspace: {
        id: workspace.id,
        name: workspace.name,
        helpText: workspace.helpText,
        retentionDays: workspace.retentionDays,
      },
      role: principal.role,
      via: principal.kind,
      workspaces: principal.userId
        ? await workspacesOf(db, principal.userId)
        : [{ id: workspace.id, name: workspace.name, role: principal.role }],
    },
    200,
  );
});
