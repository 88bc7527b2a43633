/**
 * Builders for integration tests: call the Worker through its real fetch handler and create
 * accounts, keys, numbers and contacts the way a client would.
 */
import { exports } from "cloudflare:workers";

export const ORIGIN = "https://parley.test";

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export interface Caller {
  cookie?: string;
  key?: string;
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function call(method: string, path: string, who: Caller = {}, opts: CallOptions = {}) {
  const headers: Record<string, string> = { Origin: ORIGIN, ...opts.headers };
  if (who.cookie) headers.Cookie = who.cookie;
  if (who.key) headers.Authorization = `Bearer ${who.key}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  } else if (body !== undefined && !headers["Content-Type"]) {
    headers["Content-Type"] = "application/json";
  }
  const res = await exports.default.fetch(new Request(`${ORIGIN}${path}`, { method, headers, body }));
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export function randomUsNumber(): string {
  const exchange = 200 + Math.floor(Math.random() * 800);
  const line = String(Math.floor(Math.random() * 10000)).padStart(4, "0");
  return `+1415${exchange}${line}`;
}

export interface Account {
  cookie: string;
  email: string;
  password: string;
  userId: string;
  workspaceId: string;
}

const octet = () => Math.floor(Math.random() * 256);

export async function signup(
  overrides: Partial<{ email: string; password: string; name: string; workspaceName: string }> = {},
): Promise<Account> {
  const email = overrides.email ?? `user-${unique()}@example.com`;
  const password = overrides.password ?? `Pw-${unique()}-secret`;
  const res = await call(
    "POST",
    "/api/auth/signup",
    {},
    {
      body: {
        email,
        password,
        name: overrides.name ?? "Test User",
        workspaceName: overrides.workspaceName ?? `WS ${unique()}`,
      },
      // Each test account signs up from its own address, so a file's many signups stay under the
      // per-client signup limit (which its own tests exercise).
      headers: { "CF-Connecting-IP": `10.${octet()}.${octet()}.${octet()}` },
    },
  );
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${res.text}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  return { cookie, email, password, userId: res.json.user.id, workspaceId: res.json.workspace.id };
}

/** Test keys get every scope unless a test names them (the API's default leaves out admin). */
export const ALL_SCOPES = ["messages:send", "messages:read", "contacts:write", "admin"];

export async function createKey(
  account: Account,
  name = "test",
  scopes: string[] | null = ALL_SCOPES,
): Promise<string> {
  const res = await call("POST", "/api/api-keys", account, { body: scopes ? { name, scopes } : { name } });
  if (res.status !== 201) throw new Error(`key failed: ${res.status} ${res.text}`);
  return res.json.key;
}

export async function addNumber(
  who: Caller,
  phoneNumber = randomUsNumber(),
): Promise<{ id: string; phoneNumber: string }> {
  const res = await call("POST", "/api/numbers", who, { body: { phoneNumber } });
  if (res.status !== 201) throw new Error(`number failed: ${res.status} ${res.text}`);
  return res.json;
}

export async function addContact(who: Caller, fields: { name?: string; phone?: string; email?: string } = {}) {
  const res = await call("POST", "/api/contacts", who, { body: { name: "Ada", phone: randomUsNumber(), ...fields } });
  if (res.status !== 201) throw new Error(`contact failed: ${res.status} ${res.text}`);
  return res.json as { id: string; phone: string; name: string };
}
