import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, signup } from "../../helpers/api";
import { countRows } from "../../helpers/db";

describe("POST /api/auth/signup", () => {
  it("creates user, workspace and owner membership, and sets a hardened session cookie", async () => {
    const res = await call(
      "POST",
      "/api/auth/signup",
      {},
      {
        body: { email: "Ada@Example.com", password: "correct horse battery", name: "Ada", workspaceName: "Acme" },
      },
    );
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      user: { id: expect.any(String), email: "ada@example.com", name: "Ada" },
      workspace: { id: expect.any(String), name: "Acme" },
    });
    const cookie = res.headers.getSetCookie()[0] ?? "";
    expect(cookie).toMatch(/^parley_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Secure/);
    const role = await env.DB.prepare("SELECT role FROM memberships WHERE user_id = ?")
      .bind(res.json.user.id)
      .first("role");
    expect(role).toBe("owner");
  });

  it("stores the password as a salted PBKDF2 hash, and the session token only hashed", async () => {
    const password = "same password for both";
    const a = await signup({ password });
    const b = await signup({ password });
    const rows = await env.DB.prepare("SELECT password_hash FROM users WHERE id IN (?, ?)")
      .bind(a.userId, b.userId)
      .all<{ password_hash: string }>();
    const [ha, hb] = rows.results.map((r) => r.password_hash);
    expect(ha).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(ha).not.toBe(hb);
    expect(ha).not.toContain(password);
    const token = a.cookie.split("=")[1] ?? "";
    expect(await countRows("sessions", "token_hash = ?", token)).toBe(0);
  });

  it("answers 409 for an email already registered, in any case", async () => {
    const a = await signup();
    const res = await call(
      "POST",
      "/api/auth/signup",
      {},
      {
        body: { email: a.email.toUpperCase(), password: "another long password", name: "X", workspaceName: "Y" },
      },
    );
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("conflict");
  });

  it("rejects invalid fields with 422 naming each field, and stores nothing", async () => {
    const before = await countRows("users");
    const res = await call(
      "POST",
      "/api/auth/signup",
      {},
      { body: { email: "not-an-email", password: "short", name: "", workspaceName: "W" } },
    );
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("validation_failed");
    const paths = res.json.error.details.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(["email", "password", "name"]));
    expect(await countRows("users")).toBe(before);
  });
});

describe("POST /api/auth/login", () => {
  it("signs in with the right password and answers 401 otherwise", async () => {
    const a = await signup();
    const ok = await call("POST", "/api/auth/login", {}, { body: { email: a.email, password: a.password } });
    expect(ok.status).toBe(200);
    expect(ok.json.workspace.id).toBe(a.workspaceId);
    const cookie = ok.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    expect((await call("GET", "/api/me", { cookie })).status).toBe(200);

    const wrong = await call("POST", "/api/auth/login", {}, { body: { email: a.email, password: "wrong password!" } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe("invalid_credentials");
    const unknown = await call(
      "POST",
      "/api/auth/login",
      {},
      { body: { email: "nobody@example.com", password: "whatever123" } },
    );
    expect(unknown.status).toBe(401);
    expect(unknown.json.error.message).toBe(wrong.json.error.message);
  });

  it("limits failed attempts per email with 429 and Retry-After, even for the right password", async () => {
    const a = await signup();
    for (let i = 0; i < 5; i++) {
      const r = await call(
        "POST",
        "/api/auth/login",
        {},
        { body: { email: a.email, password: `wrong-${i}-password` } },
      );
      expect(r.status).toBe(401);
    }
    const limited = await call("POST", "/api/auth/login", {}, { body: { email: a.email, password: a.password } });
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
  });

  it("counts attempts before checking the password, so 20 parallel guesses cannot pass the limit", async () => {
    const a = await signup();
    const headers = { "CF-Connecting-IP": "203.0.113.120" };
    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call("POST", "/api/auth/login", {}, { headers, body: { email: a.email, password: `guess-${i}-password` } }),
      ),
    );
    const statuses = guesses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    const right = await call(
      "POST",
      "/api/auth/login",
      {},
      { headers, body: { email: a.email, password: a.password } },
    );
    expect(right.status).toBe(429);
  });

  it("lets exactly the limit of parallel signups from one client through", async () => {
    const headers = { "CF-Connecting-IP": "203.0.113.121" };
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        call(
          "POST",
          "/api/auth/signup",
          {},
          {
            headers,
            body: {
              email: `parallel-${i}-${Date.now()}@example.com`,
              password: "a-long-enough-password",
              name: "Parallel",
              workspaceName: `Parallel ${i}`,
            },
          },
        ),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(20);
    expect(results.filter((r) => r.status === 429)).toHaveLength(5);
  });

  it("limits signups per client with 429 and Retry-After, and stores nothing for the refused one", async () => {
    const headers = { "CF-Connecting-IP": "203.0.113.90" };
    const body = (i: number) => ({
      email: `signup-burst-${i}@example.com`,
      password: "a-long-enough-password",
      name: "Burst",
      workspaceName: `Burst ${i}`,
    });
    for (let i = 0; i < 20; i++) {
      expect((await call("POST", "/api/auth/signup", {}, { headers, body: body(i) })).status).toBe(201);
    }
    const limited = await call("POST", "/api/auth/signup", {}, { headers, body: body(20) });
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    const login = await call(
      "POST",
      "/api/auth/login",
      {},
      { body: { email: body(20).email, password: body(20).password } },
    );
    expect(login.status).toBe(401);
    const elsewhere = await call(
      "POST",
      "/api/auth/signup",
      {},
      { headers: { "CF-Connecting-IP": "203.0.113.91" }, body: body(21) },
    );
    expect(elsewhere.status).toBe(201);
  });

  it("limits failed attempts per client across emails", async () => {
    const headers = { "CF-Connecting-IP": "203.0.113.77" };
    for (let i = 0; i < 20; i++) {
      const r = await call(
        "POST",
        "/api/auth/login",
        {},
        { headers, body: { email: `probe${i}@example.com`, password: "guess-password" } },
      );
      expect(r.status).toBe(401);
    }
    const limited = await call(
      "POST",
      "/api/auth/login",
      {},
      { headers, body: { email: "probe-last@example.com", password: "guess-password" } },
    );
    expect(limited.status).toBe(429);
    const elsewhere = await call(
      "POST",
      "/api/auth/login",
      {},
      {
        headers: { "CF-Connecting-IP": "203.0.113.78" },
        body: { email: "probe-last@example.com", password: "guess-password" },
      },
    );
    expect(elsewhere.status).toBe(401);
  });
});

describe("sessions", () => {
  it("logout ends the session server-side", async () => {
    const a = await signup();
    expect((await call("POST", "/api/auth/logout", a)).status).toBe(204);
    const me = await call("GET", "/api/me", a);
    expect(me.status).toBe(401);
    expect(me.json.error.code).toBe("unauthorized");
  });

  it("an expired session is refused", async () => {
    const a = await signup();
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() - 1, a.userId)
      .run();
    expect((await call("GET", "/api/me", a)).status).toBe(401);
  });

  it("rejects cookie-authenticated mutations from another origin", async () => {
    const a = await signup();
    const res = await call("POST", "/api/contacts", a, {
      headers: { Origin: "https://evil.example" },
      body: { phone: "+14155550123" },
    });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("cross_origin");
    const site = await call("POST", "/api/contacts", a, {
      headers: { Origin: "", "Sec-Fetch-Site": "cross-site" },
      body: { phone: "+14155550123" },
    });
    expect(site.status).toBe(403);
  });

  it("GET /api/me describes user, workspace and role; API keys show as such", async () => {
    const a = await signup({ name: "Grace" });
    const me = await call("GET", "/api/me", a);
    expect(me.json).toMatchObject({
      user: { id: a.userId, name: "Grace" },
      workspace: { id: a.workspaceId },
      role: "owner",
      via: "session",
    });
  });
});

describe("secrets stay secret", () => {
  afterEach(() => vi.restoreAllMocks());

  it("never puts the password in a response or a log line", async () => {
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
      });
    }
    const password = "Sup3r-Secret-Passphrase-9931";
    const email = `secret-${Date.now()}@example.com`;
    const responses = [
      await call("POST", "/api/auth/signup", {}, { body: { email, password, name: "S", workspaceName: "S" } }),
      await call("POST", "/api/auth/signup", {}, { body: { email, password, name: "S", workspaceName: "S" } }),
      await call("POST", "/api/auth/login", {}, { body: { email, password } }),
      await call("POST", "/api/auth/login", {}, { body: { email, password: `${password}x` } }),
      await call("POST", "/api/auth/signup", {}, { body: { email: "bad", password } }),
    ];
    const cookie = responses[0]?.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    responses.push(await call("GET", "/api/me", { cookie }));
    for (const r of responses) expect(r.text).not.toContain(password);
    for (const line of logged) expect(line).not.toContain(password);
  });
});
