// Small HTTP helpers shared by the dev launcher, throwaway stacks, the benchmark and the chaos run.

/** Polls `url` until it answers 2xx or `timeoutMs` passes. */
export async function waitFor(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** A JSON call against Parley's API with a key or cookie; returns status and parsed body. */
export async function api(base, method, path, { key, cookie, body, headers = {}, timeoutMs = 20_000 } = {}) {
  const h = { Origin: base, ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (cookie) h.Cookie = cookie;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

/** Signs up a fresh workspace and returns its cookie, an API key and a registered sender number. */
export async function signupWorkspace(base, label, from) {
  const id = Math.random().toString(36).slice(2, 10);
  const res = await fetch(`${base}/api/auth/signup`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: base },
    body: JSON.stringify({
      email: `${label}-${id}@example.com`,
      password: `${label}-${id}-password`,
      name: label,
      workspaceName: `${label} ${id}`,
    }),
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  // The harnesses (bench, chaos) also tune the number with this key, so it carries admin too.
  const scopes = ["messages:send", "messages:read", "contacts:write", "admin"];
  const key = (await api(base, "POST", "/api/api-keys", { cookie, body: { name: label, scopes } })).json.key;
  const number = await api(base, "POST", "/api/numbers", { key, body: { phoneNumber: from } });
  if (number.status !== 201) throw new Error(`number failed: ${number.status} ${JSON.stringify(number.json)}`);
  // Load runs send far faster than a team does: the workspace's send limits go to the schema's maximum.
  const limits = await api(base, "PATCH", "/api/workspace", {
    key,
    body: { workspaceSendsPerSecond: 100, workspaceSendBurst: 1000 },
  });
  if (limits.status !== 200) throw new Error(`limits failed: ${limits.status} ${JSON.stringify(limits.json)}`);
  return { cookie, key, from };
}
