/** Sign up, sign in, sign out and "who am I". Sessions are random tokens stored hashed. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { deleteSession, findPrimaryMembership, findUserByEmail, getMe, SESSION_TTL_MS } from "../../db/queries/auth";
import { clearWindow, countAttempt, stateOf, uncountAttempt } from "../../db/queries/rate-limits";
import { memberships, sessions, users, workspaces } from "../../db/schema";
import { ApiError, conflict, tooManyRequests } from "../../domain/errors";
import { newId } from "../../domain/ids";
import { inboxFor } from "../../rooms/inbox-stream";
import { DUMMY_PASSWORD_HASH, hashPassword, randomToken, sha256Hex, verifyPassword } from "../../security/crypto";
import type { AppEnv } from "../context";
import { requireAuth, resolvePrincipal, SESSION_COOKIE } from "../middleware/auth";
import { ErrorSchema, jsonBody, jsonContent, security } from "../schemas";
import { validationHook } from "../validation";

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
      z.object({
        email: Email,
        password: Password,
        name: z.string().trim().min(1).max(100),
        workspaceName: z.string().trim().min(1).max(100),
      }),
    ),
  },
  responses: {
    201: jsonContent(z.object({ user: UserSchema, workspace: WorkspaceSchema }), "Signed up and signed in"),
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

export const MeSchema = z
  .object({
    user: UserSchema.nullable(),
    workspace: z.object({
      id: z.string(),
      name: z.string(),
      helpText: z.string(),
      retentionDays: z.number().nullable(),
    }),
    role: z.enum(["owner", "admin", "agent"]),
    via: z.enum(["session", "api_key"]),
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

function clientKey(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? "local";
}

function isLocalHost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

async function startSession(c: Context<AppEnv>, userId: string, workspaceId: string) {
  const token = randomToken(32);
  const expiresAt = Date.now() + SESSION_TTL_MS;
  await c
    .get("db")
    .insert(sessions)
    .values({ tokenHash: await sha256Hex(token), userId, workspaceId, expiresAt });
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: !isLocalHost(c.req.url),
    path: "/",
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

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
    const workspaceId = newId("ws");
    const passwordHash = await hashPassword(input.password);
    try {
      await db.batch([
        db.insert(workspaces).values({ id: workspaceId, name: input.workspaceName, helpText: DEFAULT_HELP_TEXT }),
        db.insert(users).values({ id: userId, email: input.email, name: input.name, passwordHash }),
        db.insert(memberships).values({ workspaceId, userId, role: "owner" }),
      ]);
    } catch (err) {
      if (String(err).includes("UNIQUE")) throw conflict("An account with this email already exists.");
      throw err;
    }
    await startSession(c, userId, workspaceId);
    return c.json(
      {
        user: { id: userId, email: input.email, name: input.name },
        workspace: { id: workspaceId, name: input.workspaceName },
      },
      201,
    );
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
  });

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
    },
    200,
  );
});
