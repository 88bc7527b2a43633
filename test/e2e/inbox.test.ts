/**
 * The inbox in a real browser: Debian Chromium through playwright-core, against `wrangler dev` and the
 * Twilio emulator (a throwaway stack on its own ports). Screenshots land in test-results/e2e/.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import axe from "axe-core";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM script without types
import { startStack } from "../../scripts/stack.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = "test-results/e2e";
const PASSWORD = "browser-test-password";

interface Stack {
  appUrl: string;
  emulatorUrl: string;
  crashAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

let stack: Stack;
const contexts: BrowserContext[] = [];

async function browser(): Promise<Page> {
  const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "parley-e2e-")), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  contexts.push(ctx);
  return ctx.pages()[0] ?? (await ctx.newPage());
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function inboundText(from: string, to: string, body: string) {
  const res = await fetch(`${stack.emulatorUrl}/_control/inbound`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ from, to, body }),
  });
  const out = (await res.json()) as { status: number };
  expect(out.status).toBe(200);
}

/** A promise and the function that resolves it, for holding a request back until a test says so. */
function signal() {
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
  });
  return { promise, done };
}

/**
 * Holds back the page's first response from `url` (read now, delivered on `release`) and its socket to
 * `socketUrl` (connected on `release`); `read` resolves once that first response was read.
 */
async function holdFirstPageAndSocket(page: Page, url: RegExp, socketUrl: RegExp) {
  const read = signal();
  const pageGate = signal();
  const socketGate = signal();
  const hello = signal();
  let held = false;
  await page.route(url, async (route) => {
    if (held) return route.continue();
    held = true;
    const response = await route.fetch();
    read.done();
    await pageGate.promise;
    await route.fulfill({ response });
  });
  await page.routeWebSocket(socketUrl, async (ws) => {
    await socketGate.promise;
    const server = ws.connectToServer();
    server.onMessage((message) => {
      ws.send(message);
      if (String(message).includes('"hello"')) hello.done();
    });
  });
  return { read: read.promise, hello: hello.promise, releasePage: pageGate.done, releaseSocket: socketGate.done };
}

async function signIn(page: Page, email: string) {
  await page.goto(`${stack.appUrl}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect.poll(() => page.getByRole("link", { name: "Settings" }).count(), { timeout: 10_000 }).toBe(1);
}

const email = `owner-${Date.now()}@example.com`;
const sender = "+14155550142";
const customer = "+14155552671";

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  stack = (await startStack({
    port: 8827,
    emulatorPort: 8828,
    emulatorEnv: { EMULATOR_SENT_MS: "100", EMULATOR_FINAL_MS: "200" },
  })) as Stack;
}, 120_000);

afterAll(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => undefined);
  await stack?.stop();
});

describe("the inbox in Chromium", () => {
  it("signs up, adds a number, starts a conversation, sends and shows Delivered", async () => {
    const page = await browser();
    await page.goto(`${stack.appUrl}/`);
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Your name").fill("Olive Owner");
    await page.getByLabel("Team or business name").fill("Olive's Bakery");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect.poll(() => page.locator(".field-error").first().textContent()).toContain("at least 10");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();

    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Phone number").fill("12");
    await page.getByRole("button", { name: "Add number" }).click();
    await expect.poll(() => page.getByText(/Phone number: not a valid phone number/).count()).toBe(1);
    await page.getByLabel("Phone number").fill(sender);
    await page.getByRole("button", { name: "Add number" }).click();
    await expect.poll(() => page.getByText(sender).count()).toBeGreaterThan(0);
    await shot(page, "settings");

    await page
      .getByRole("link", { name: "← Back to the inbox" })
      .or(page.getByRole("button", { name: "← Back to the inbox" }))
      .click();
    await page.getByRole("button", { name: "New" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Phone number").fill("555");
    await dialog.getByRole("button", { name: "Start conversation" }).click();
    await expect.poll(() => dialog.getByRole("alert").textContent()).toMatch(/not a valid phone number/);
    await dialog.getByLabel("Phone number").fill("(415) 555-2671");
    await dialog.getByLabel("Name (optional)").fill("Casey Customer");
    await dialog.getByRole("button", { name: "Start conversation" }).click();
    await expect.poll(() => page.getByRole("heading", { name: "Casey Customer" }).count()).toBe(1);

    const composer = page.getByLabel("Message");
    await composer.fill("Ça va? Your cake is ready 🎂");
    await expect.poll(() => page.locator("#composer-counter").textContent()).toMatch(/UCS-2.*forces UCS-2/);
    await composer.fill("Your cake is ready for pickup");
    await expect
      .poll(() => page.locator("#composer-counter").textContent())
      .toMatch(/29 \/ 1600 characters · 1 segment · GSM-7/);
    await composer.press("Enter");
    const sent = page.locator(".msg.outbound").filter({ hasText: "Your cake is ready for pickup" });
    await expect.poll(() => sent.locator(".status").textContent(), { timeout: 15_000 }).toBe("Delivered");
    expect(await sent.count()).toBe(1);
    expect(await composer.inputValue()).toBe("");
    await shot(page, "inbox-delivered");
  }, 90_000);

  it("an inbound text appears live in two browser contexts without reload", async () => {
    const a = await browser();
    const b = await browser();
    await signIn(a, email);
    await signIn(b, email);
    await a.getByRole("link", { name: /Casey Customer/ }).click();
    await expect.poll(() => a.getByRole("heading", { name: "Casey Customer" }).count()).toBe(1);
    await inboundText(customer, sender, "Great, on my way!");
    const inThread = a.locator(".msg.inbound").filter({ hasText: "Great, on my way!" });
    await expect.poll(() => inThread.count(), { timeout: 10_000 }).toBe(1);
    await expect
      .poll(() => b.locator(".conv").filter({ hasText: "Great, on my way!" }).count(), { timeout: 10_000 })
      .toBe(1);
    await shot(b, "inbox-live-list");
  }, 60_000);

  it("a text stored while the thread is opening is shown, not lost between the first page and the socket", async () => {
    const page = await browser();
    await signIn(page, email);
    // Hold the thread's first page (read before the text arrives) and the room's socket, then let the
    // socket's hello reach the page before that stale page does: the order that used to lose the text.
    const held = await holdFirstPageAndSocket(
      page,
      /\/api\/conversations\/[^/]+\/messages\?/,
      /\/api\/conversations\/[^/]+\/ws$/,
    );
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    await held.read;
    await inboundText(customer, sender, "Arrived while the thread was opening");
    held.releaseSocket();
    await held.hello;
    await page.waitForTimeout(300);
    held.releasePage();
    const arrived = page.locator(".msg.inbound").filter({ hasText: "Arrived while the thread was opening" });
    await expect.poll(() => arrived.count(), { timeout: 10_000 }).toBe(1);
  }, 60_000);

  it("a text stored while the list is loading shows in the list, not lost between its first page and its socket", async () => {
    // Earlier pages with the thread open would mark the text read and so push the list a fresh copy.
    for (const ctx of contexts.splice(0)) await ctx.close();
    const page = await browser();
    const held = await holdFirstPageAndSocket(page, /\/api\/conversations\?/, /\/api\/ws$/);
    await signIn(page, email);
    await held.read;
    await inboundText(customer, sender, "Arrived while the list was loading");
    held.releaseSocket();
    await page.waitForTimeout(300);
    held.releasePage();
    const entry = page.locator(".conv").filter({ hasText: "Arrived while the list was loading" });
    await expect.poll(() => entry.count(), { timeout: 10_000 }).toBe(1);
  }, 60_000);

  it("drafts survive a reload, and empty or too-long messages are explained, keeping the text", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    const composer = page.getByLabel("Message");
    await composer.fill("Half-written thought");
    await page.reload();
    await expect.poll(() => page.getByLabel("Message").inputValue(), { timeout: 10_000 }).toBe("Half-written thought");
    await page.getByLabel("Message").fill("   ");
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.locator("#composer-problem").textContent()).toBe("Type a message first.");
    await page.getByLabel("Message").fill("x".repeat(1601));
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.locator("#composer-problem").textContent()).toMatch(/1,600/);
    expect((await page.getByLabel("Message").inputValue()).length).toBe(1601);
    await page.getByLabel("Message").fill("");
  }, 60_000);

  it("signing out forgets this browser's drafts and unsent outbox entries", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    await page.getByLabel("Message").fill("A private draft");
    await page.evaluate(() =>
      localStorage.setItem("parley:pending:cv_x", JSON.stringify([{ key: "k", body: "unsent" }])),
    );
    await expect
      .poll(() => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("parley:draft:")).length))
      .toBe(1);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => page.url()).toMatch(/\/signin$/);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("parley:")).length)).toBe(0);
    await signIn(page, email);
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    await expect.poll(() => page.getByLabel("Message").inputValue()).toBe("");
  }, 60_000);

  it("creates an API key with chosen scopes, and lists them", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Key name").fill("read-only reporting");
    await page.getByRole("checkbox", { name: /messages:send/ }).uncheck();
    await page.getByRole("checkbox", { name: /contacts:write/ }).uncheck();
    await page.getByRole("button", { name: "Create key" }).click();
    await expect.poll(() => page.getByText(/Copy this key now/).count()).toBe(1);
    const row = page.locator("li", { hasText: "read-only reporting" });
    await expect.poll(() => row.textContent()).toMatch(/messages:read/);
    expect(await row.textContent()).not.toMatch(/messages:send/);
  }, 60_000);

  it("STOP from the customer disables the composer with its reason", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    await inboundText(customer, sender, "STOP");
    // Live, without a reload: the inbox stream carries the contact's new consent.
    await expect.poll(() => page.getByLabel("Message").isDisabled(), { timeout: 8000 }).toBe(true);
    await expect.poll(() => page.getByText(/opted out \(replied STOP\)/).count()).toBeGreaterThan(0);
    // The panel follows the inbox stream's copy of the contact, which can land a moment after the room's.
    await expect.poll(() => page.getByTestId("consent").textContent()).toContain("Opted out");
    await shot(page, "opted-out");
    await inboundText(customer, sender, "START");
    await expect.poll(() => page.getByLabel("Message").isDisabled(), { timeout: 8000 }).toBe(false);
  }, 60_000);

  it("resumes after the dev server restarts: banner while away, then new texts arrive without gaps or duplicates", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    await inboundText(customer, sender, "before the restart");
    await expect.poll(() => page.locator(".msg.inbound").filter({ hasText: "before the restart" }).count()).toBe(1);
    const restart = stack.crashAndRestart();
    await expect.poll(() => page.getByText(/Reconnecting/).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    // Sent while Parley is down: kept on the page, said in words, sent once when it is back.
    await page.getByLabel("Message").fill("sent while you were away");
    await page.getByLabel("Message").press("Enter");
    const away = page.locator(".msg.outbound").filter({ hasText: "sent while you were away" });
    await expect
      .poll(() => away.locator(".status").first().textContent(), { timeout: 10_000 })
      .toMatch(/Not sent|Sending/);
    await shot(page, "reconnecting");
    await restart;
    await inboundText(customer, sender, "after the restart");
    await expect
      .poll(() => page.locator(".msg.inbound").filter({ hasText: "after the restart" }).count(), { timeout: 20_000 })
      .toBe(1);
    await expect.poll(() => page.getByText(/Reconnecting/).count(), { timeout: 10_000 }).toBe(0);
    expect(await page.locator(".msg.inbound").filter({ hasText: "before the restart" }).count()).toBe(1);
    const ids = await page.locator(".msg[data-id]").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
    expect(new Set(ids).size).toBe(ids.length);
    await expect.poll(() => away.locator(".status").textContent(), { timeout: 20_000 }).toBe("Delivered");
    expect(await away.count()).toBe(1);
    const atTwilio = (await (
      await fetch(`${stack.emulatorUrl}/_control/messages?phone=${encodeURIComponent(customer)}`)
    ).json()) as {
      messages: { body: string; direction: string }[];
    };
    expect(atTwilio.messages.filter((m) => m.body === "sent while you were away")).toHaveLength(1);
  }, 90_000);

  it("is usable at 375 px and from the keyboard", async () => {
    const page = await browser();
    await page.setViewportSize({ width: 375, height: 740 });
    await signIn(page, email);
    await shot(page, "mobile-list");
    await page.getByRole("link", { name: /Casey Customer/ }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.getByLabel("Back to conversations").isVisible()).toBe(true);
    await expect.poll(() => page.locator(".msg").count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await shot(page, "mobile-thread");
    await page.getByLabel("Back to conversations").click();
    await expect.poll(() => page.getByRole("link", { name: /Casey Customer/ }).isVisible()).toBe(true);
  }, 60_000);

  it("an expired session sends the user to sign in, saying why", async () => {
    const page = await browser();
    await signIn(page, email);
    await expect.poll(() => page.getByRole("link", { name: /Casey Customer/ }).isVisible()).toBe(true);
    await page.context().clearCookies();
    // The page's next request finds the session gone: opening the thread, or the list's own reload
    // when its socket opens (which can come first, and then the link is already gone).
    await page
      .getByRole("link", { name: /Casey Customer/ })
      .click({ timeout: 5_000 })
      .catch(() => undefined);
    await expect.poll(() => page.getByText(/session has ended/).count(), { timeout: 10_000 }).toBe(1);
  }, 60_000);

  it("removing a number with confirmation, then moving its conversation to another number and sending from there", async () => {
    const page = await browser();
    page.on("dialog", (dialog) => void dialog.accept());
    await signIn(page, email);
    await page.getByRole("link", { name: "Settings" }).click();
    const other = "+14155550143";
    await page.getByLabel("Phone number").fill(other);
    await page.getByRole("button", { name: "Add number" }).click();
    await expect.poll(() => page.getByText(other).count()).toBeGreaterThan(0);
    await page.locator("li", { hasText: sender }).getByRole("button", { name: "Remove" }).click();
    await expect.poll(() => page.getByText(new RegExp(`${sender.replace("+", "\\+")} removed`)).count()).toBe(1);

    await page
      .getByRole("button", { name: "← Back to the inbox" })
      .or(page.getByRole("link", { name: "← Back to the inbox" }))
      .click();
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    await page.getByLabel("Message").fill("From the new line");
    await page.getByLabel("Message").press("Enter");
    await expect.poll(() => page.getByText(/no longer one of this workspace's numbers/).count()).toBe(1);
    await shot(page, "sender-removed");
    await expect.poll(() => page.getByLabel("Send from").inputValue()).toBe(other);
    await page.getByRole("button", { name: "Move conversation" }).click();
    await expect.poll(() => page.getByRole("button", { name: "Move conversation" }).count()).toBe(0);
    // The refused text went back to the composer; sending it again goes out from the new number.
    await expect.poll(() => page.getByLabel("Message").inputValue()).toContain("From the new line");
    await page.getByLabel("Message").press("Enter");
    const moved = page.locator(".msg.outbound").filter({ hasText: "From the new line" });
    await expect.poll(() => moved.locator(".status").textContent(), { timeout: 15_000 }).toBe("Delivered");
    await shot(page, "moved-sender");
  }, 90_000);
});

/** axe-core in the page: the violations rated serious or critical (none is the bar). */
async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
  await page.evaluate(axe.source);
  // Runs in the page (globalThis is its window there).
  const result = (await page.evaluate(() => {
    const g = globalThis as unknown as { axe: typeof axe; document: unknown };
    return g.axe.run(g.document as never, { resultTypes: ["violations"] });
  })) as axe.AxeResults;
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("the team in Chromium", () => {
  const agentEmail = `agent-${Date.now()}@example.com`;
  const line = "+14155550143";
  let owner: Page;
  let agent: Page;

  it("an owner invites an agent, who joins from the link in another browser", async () => {
    owner = await browser();
    await signIn(owner, email);
    await owner.getByRole("link", { name: "Settings" }).click();
    await owner.getByLabel("Invite by email").fill(agentEmail);
    await owner.locator('select[name="invite-role"]').selectOption("agent");
    await owner.getByRole("button", { name: "Invite", exact: true }).click();
    const link = owner.locator(".invite-link");
    await expect.poll(() => link.count()).toBe(1);
    const url = await link.inputValue();
    expect(url).toContain("?invite=");
    await shot(owner, "team-invited");

    agent = await browser();
    await agent.goto(url.replace(/^https?:\/\/[^/]+/, stack.appUrl));
    await expect.poll(() => agent.getByRole("heading", { name: "Join your team on Parley" }).count()).toBe(1);
    expect(await agent.getByLabel("Team or business name").count()).toBe(0);
    await agent.getByLabel("Your name").fill("Andy Agent");
    await agent.getByLabel("Email").fill(agentEmail);
    await agent.getByLabel("Password").fill(PASSWORD);
    await agent.getByRole("button", { name: "Create account and join" }).click();
    await expect.poll(() => agent.getByText("Olive's Bakery").count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => agent.locator(".conv").filter({ hasText: "Casey Customer" }).count()).toBe(1);
    // The owner sees the new member.
    await owner.reload();
    await expect.poll(() => owner.locator("tr[data-member]").filter({ hasText: agentEmail }).count()).toBe(1);
  }, 90_000);

  it("the owner assigns a conversation to the agent, who is notified live and finds it under Mine", async () => {
    await owner
      .getByRole("button", { name: "← Back to the inbox" })
      .or(owner.getByRole("link", { name: "← Back to the inbox" }))
      .click();
    await owner.getByRole("link", { name: /Casey Customer/ }).click();
    await owner.locator('select[name="assignee"]').selectOption({ label: "Andy Agent" });
    await expect.poll(() => agent.getByTestId("unread-notifications").textContent(), { timeout: 10_000 }).toMatch(/^1/);
    await agent.getByRole("button", { name: "Mine" }).click();
    await expect.poll(() => agent.locator(".conv").filter({ hasText: "Casey Customer" }).count()).toBe(1);
    await agent.getByRole("button", { name: /Notifications/ }).click();
    await expect.poll(() => agent.getByText("Olive Owner assigned you a conversation").count()).toBe(1);
    await shot(agent, "team-assigned");
    await agent.getByText("Olive Owner assigned you a conversation").click();
    await expect.poll(() => agent.getByRole("heading", { name: "Casey Customer" }).count()).toBe(1);
    await expect.poll(() => agent.getByTestId("unread-notifications").count()).toBe(0);
  }, 60_000);

  it("a note with an @mention, picked from the autocomplete, notifies the mentioned member", async () => {
    await owner.getByRole("button", { name: "Internal note" }).click();
    const box = owner.getByLabel("Internal note");
    await box.fill("@And");
    await expect.poll(() => owner.locator(".mentions").getByText("Andy Agent").count()).toBe(1);
    await box.press("Enter");
    await expect.poll(() => box.inputValue()).toBe("@Andy Agent ");
    await box.pressSequentially("please call Casey back");
    await owner.getByRole("button", { name: "Add note" }).click();
    await expect.poll(() => owner.locator(".note").filter({ hasText: "please call Casey back" }).count()).toBe(1);
    // The agent, who has the thread open, sees the note arrive live and gets the mention.
    await expect
      .poll(() => agent.locator(".note").filter({ hasText: "please call Casey back" }).count(), { timeout: 10_000 })
      .toBe(1);
    await expect.poll(() => agent.getByTestId("unread-notifications").textContent(), { timeout: 10_000 }).toMatch(/^1/);
    await expect.poll(() => agent.title()).toBe("(1) Parley");
    await shot(agent, "team-note");
  }, 60_000);

  it("a snoozed conversation comes back to Open when the customer texts", async () => {
    await owner.locator('select[name="conversation-status"]').selectOption("snoozed");
    await owner.getByRole("button", { name: "Tomorrow 9:00" }).click();
    await expect.poll(() => owner.getByText(/^until /).count()).toBe(1);
    const inList = owner.locator("aside.list .conv").filter({ hasText: "Casey Customer" });
    await expect.poll(() => inList.count(), { timeout: 10_000 }).toBe(0);
    await inboundText(customer, line, "Actually, one more thing");
    await expect.poll(() => inList.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => owner.locator('select[name="conversation-status"]').inputValue()).toBe("open");
    await shot(owner, "team-snooze-woke");
  }, 60_000);

  it("the pages pass axe-core with no serious or critical violation", async () => {
    const found: Record<string, string[]> = {};
    await owner.goto(`${stack.appUrl}/`);
    await expect.poll(() => owner.locator(".conv").count()).toBeGreaterThan(0);
    found.inbox = await seriousViolations(owner);
    await owner.getByRole("link", { name: /Casey Customer/ }).click();
    await expect.poll(() => owner.locator(".msg").count()).toBeGreaterThan(0);
    found.thread = await seriousViolations(owner);
    await owner.goto(`${stack.appUrl}/settings`);
    await expect.poll(() => owner.locator("tr[data-member]").count()).toBeGreaterThan(0);
    found.settings = await seriousViolations(owner);
    await owner.goto(`${stack.appUrl}/audit`);
    await expect.poll(() => owner.locator("table.audit tbody tr").count()).toBeGreaterThan(0);
    found.audit = await seriousViolations(owner);
    const signedOut = await browser();
    await signedOut.goto(`${stack.appUrl}/signin`);
    await expect.poll(() => signedOut.getByRole("heading", { name: "Sign in to Parley" }).count()).toBe(1);
    found.signin = await seriousViolations(signedOut);
    expect(found).toEqual({ inbox: [], thread: [], settings: [], audit: [], signin: [] });
  }, 90_000);
});

describe("sending policies and search in Chromium", () => {
  const line = "+14155550143";

  it("a template picked with / is sent rendered for the contact", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Template name").fill("Cake ready");
    await page.getByLabel("Shortcut (optional)").fill("ready");
    await page
      .getByLabel("Template text")
      .fill("Hi {{contact.firstName|there}}, your order is ready at {{workspace.name}}!");
    await page.getByRole("button", { name: "Add template" }).click();
    await expect.poll(() => page.locator(".template-row").filter({ hasText: "Cake ready" }).count()).toBe(1);
    await page.goto(`${stack.appUrl}/`);
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    const composer = page.getByLabel("Message");
    await composer.fill("/rea");
    await expect.poll(() => page.locator(".templates").getByText("Cake ready").count()).toBe(1);
    await shot(page, "template-picker");
    await composer.press("Enter");
    await expect.poll(() => composer.inputValue()).toBe("Hi Casey, your order is ready at Olive's Bakery!");
    await composer.press("Enter");
    const sent = page.locator(".msg.outbound").filter({ hasText: "your order is ready at Olive's Bakery" });
    await expect.poll(() => sent.locator(".status").textContent(), { timeout: 15_000 }).toBe("Delivered");
  }, 60_000);

  it("inside quiet hours the composer warns, and a send is held until they end", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Settings" }).click();
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    await page.getByLabel("Workspace time zone").fill("UTC");
    await page.getByText("Quiet hours: no texts at night").click();
    await page.getByLabel("From", { exact: true }).fill(hhmm(Date.now() - 3_600_000));
    await page.getByLabel("Until", { exact: true }).fill(hhmm(Date.now() + 3_600_000));
    await page.getByLabel(/Replies allowed within/).fill("0");
    await page.getByRole("button", { name: "Save sending rules" }).click();
    await expect.poll(() => page.getByText(/Quiet hours on/).count()).toBe(1);
    await page.goto(`${stack.appUrl}/`);
    await page.getByRole("link", { name: /Casey Customer/ }).click();
    await expect.poll(() => page.getByTestId("quiet-hours-warning").count(), { timeout: 10_000 }).toBe(1);
    await page.getByLabel("Message").fill("See you tomorrow");
    await page.getByLabel("Message").press("Enter");
    const held = page.locator(".msg.outbound").filter({ hasText: "See you tomorrow" });
    await expect
      .poll(() => held.locator(".status").textContent(), { timeout: 10_000 })
      .toMatch(/^Held for quiet hours/);
    await shot(page, "quiet-hours-held");
    // Quiet hours off again for whatever runs next.
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByText("Quiet hours: no texts at night").click();
    await page.getByRole("button", { name: "Save sending rules" }).click();
    await expect.poll(() => page.getByText("Quiet hours off.").count()).toBe(1);
  }, 60_000);

  it("the contacts page: search, edit a custom field, filter by it, see the history; no serious axe violation", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Contacts" }).click();
    await page.getByLabel("Search contacts").fill("Casey");
    await page.getByRole("button", { name: "Casey Customer" }).click();
    await expect
      .poll(
        () =>
          page
            .locator(".contact-detail")
            .getByText(/received/)
            .count(),
        { timeout: 10_000 },
      )
      .toBe(1);
    await page.getByLabel("Custom fields (one key=value per line)").fill("tier=gold");
    await page.locator(".contact-detail").getByRole("button", { name: "Save contact" }).click();
    await expect.poll(() => page.locator(".contact-detail").getByText("Saved.").count()).toBe(1);
    await page.getByLabel("Search contacts").fill("");
    await page.getByLabel("Custom field (key:value)").fill("tier:gold");
    await expect.poll(() => page.locator(".contacts-page tbody tr").count()).toBe(1);
    await shot(page, "contacts");
    expect(await seriousViolations(page)).toEqual([]);

    // Import a CSV with a bad row: the mapping is guessed from the header, the error names its row.
    await page.getByLabel("CSV file (up to 10 MB, 50,000 rows)").setInputFiles({
      name: "customers.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("Name,Mobile\nDana Imported,+14155550188\nBroken Row,555\n"),
    });
    await expect.poll(() => page.locator("table.small caption").textContent()).toBe("First rows of the file");
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await expect
      .poll(() => page.locator(".import-progress").textContent(), { timeout: 15_000 })
      .toMatch(/Done: 2 rows · 1 new/);
    await expect.poll(() => page.locator(".import-errors").textContent()).toContain("Row 3:");
    await shot(page, "import-done");
  }, 60_000);

  it("search (Ctrl-K) finds a word from an old message and opens the thread at it", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.keyboard.press("Control+k");
    await expect
      .poll(() =>
        page.evaluate(
          () => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id,
        ),
      )
      .toBe("global-search");
    await page.keyboard.type("pickup");
    const hit = page.locator(".search-results .hit").first();
    await expect.poll(() => hit.locator("mark").textContent(), { timeout: 10_000 }).toMatch(/pickup/i);
    await shot(page, "search");
    await page.keyboard.press("Enter");
    const target = page.locator(".msg.focused").filter({ hasText: "Your cake is ready for pickup" });
    await expect.poll(() => target.count(), { timeout: 10_000 }).toBe(1);
    void line;
  }, 60_000);
});

describe("campaigns in Chromium", () => {
  // The owner's remaining number (the first was removed by an earlier test).
  const from = "+14155550143";

  it("imports contacts with a label, builds a campaign from it with a template, starts it, watches it, pauses and resumes", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Contacts" }).click();
    await page.getByLabel("CSV file (up to 10 MB, 50,000 rows)").setInputFiles({
      name: "spring.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(
        ["Name,Mobile", ...Array.from({ length: 6 }, (_, i) => `Spring Person${i},+1415555031${i}`)].join("\n"),
      ),
    });
    await page.getByLabel("Label every imported contact").fill("Spring");
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await expect
      .poll(() => page.locator(".import-progress").textContent(), { timeout: 15_000 })
      .toMatch(/Done: 6 rows · 6 new/);
    // One text a second from the sender, so there is time to pause mid-way.
    const numberId = await page.evaluate(async (from) => {
      const list = (await (await fetch("/api/numbers")).json()) as { items: { id: string; phoneNumber: string }[] };
      const n = list.items.find((x) => x.phoneNumber === from);
      await fetch(`/api/numbers/${n?.id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ratePerSecond: 1 }),
      });
      return n?.id;
    }, from);

    await page.getByRole("link", { name: "Campaigns" }).click();
    await page.getByRole("button", { name: "New campaign" }).click();
    await page.getByLabel("Name").fill("Spring hello");
    await page.getByRole("checkbox", { name: "Spring" }).check();
    await page.getByLabel("Template").selectOption({ label: "Cake ready" });
    for (const box of await page.locator("input[name=campaign-number]").all()) {
      if ((await box.getAttribute("value")) === from) await box.check();
      else await box.uncheck();
    }
    await shot(page, "campaign-builder");
    await page.getByRole("button", { name: "Save draft" }).click();
    const view = page.locator(".campaign-view");
    await page.getByRole("button", { name: "Start sending to 6" }).click();
    await expect.poll(() => view.locator(".badge").textContent()).toBe("Sending");
    const sent = () => view.locator('dd[data-count="Sent"]').textContent().then(Number);
    await expect.poll(sent, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    await shot(page, "campaign-sending");

    await view.getByRole("button", { name: "Pause" }).click();
    await expect.poll(() => view.locator(".badge").textContent()).toBe("Paused");
    await new Promise((r) => setTimeout(r, 2500));
    const atPause = await sent();
    await new Promise((r) => setTimeout(r, 2500));
    expect(await sent()).toBe(atPause);
    expect(atPause).toBeLessThan(6);

    await view.getByRole("button", { name: "Resume" }).click();
    await expect.poll(() => view.locator(".badge").textContent(), { timeout: 30_000 }).toBe("Completed");
    expect(await sent()).toBe(6);
    await expect.poll(() => view.locator(".campaign-progress").textContent()).toContain("100%");
    await shot(page, "campaign-done");
    expect(await seriousViolations(page)).toEqual([]);
    await page.evaluate(async (id) => {
      await fetch(`/api/numbers/${id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ratePerSecond: null }),
      });
    }, numberId);
  }, 90_000);
});

describe("channels in Chromium", () => {
  // A valid 1×1 PNG.
  const PNG = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    "base64",
  );
  const supportAddress = "help@olives-bakery.example";

  async function control(path: string, body: unknown) {
    const res = await fetch(`${stack.emulatorUrl}/_control${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return res.json() as Promise<any>;
  }

  it("an email arrives live in the inbox, the reply carries the thread's headers, and the answer threads back", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Settings" }).click();
    const inboxes = page.getByRole("form", { name: "Add an inbox" });
    await inboxes.getByLabel("Channel").selectOption("email");
    await inboxes.getByLabel("Inbox name").fill("Bakery help");
    await inboxes.getByLabel("Address").fill(supportAddress);
    await inboxes.getByRole("button", { name: "Add inbox" }).click();
    await expect.poll(() => page.getByText("Email inbox added.").count()).toBe(1);
    await page.goto(`${stack.appUrl}/`);

    const customerAddress = `dana-${Date.now()}@customer.example`;
    const first = await control("/email/inbound", {
      from: `Dana Doe <${customerAddress}>`,
      to: supportAddress,
      subject: "Gluten-free options?",
      text: "Do you bake anything gluten-free?",
    });
    expect(first.status).toBe(200);
    const row = page.getByRole("link", { name: /Dana Doe/ });
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    await row.click();
    await expect.poll(() => page.locator(".email-subject").first().textContent()).toBe("Gluten-free options?");
    await page.getByLabel("Message").fill("Yes: the almond loaf and the macarons.");
    await page.getByLabel("Message").press("Enter");
    const reply = page.locator(".msg.outbound").filter({ hasText: "almond loaf" });
    await expect.poll(() => reply.locator(".status").textContent(), { timeout: 15_000 }).toBe("Delivered");
    await expect.poll(() => reply.locator(".email-subject").textContent()).toBe("Re: Gluten-free options?");

    const { emails } = (await (await fetch(`${stack.emulatorUrl}/_control/email/messages`)).json()) as {
      emails: any[];
    };
    const sent = emails.find((e) => e.direction === "outbound" && e.to.includes(customerAddress));
    expect(sent.headers["In-Reply-To"]).toBe(first.messageId);
    await control("/email/inbound", {
      from: customerAddress,
      to: supportAddress,
      subject: "Re: Gluten-free options?",
      text: "Lovely, I will come by on Saturday.",
      inReplyTo: sent.headers["Message-ID"],
      references: `${first.messageId} ${sent.headers["Message-ID"]}`,
    });
    await expect
      .poll(() => page.locator(".msg.inbound").filter({ hasText: "come by on Saturday" }).count(), { timeout: 10_000 })
      .toBe(1);
    expect(await page.locator(".msg").count()).toBe(3);
    await shot(page, "email-thread");
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it("a WhatsApp conversation outside its window offers only approved templates, and the template goes out", async () => {
    const page = await browser();
    await signIn(page, email);
    const contentSid = `HX${"ab".repeat(16)}`;
    await control("/whatsapp/templates", { contentSid, body: "Hi {{1}}, your cake is ready." });
    const conversationId = await page.evaluate(async (contentSid) => {
      const post = (path: string, body: unknown) =>
        fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      await post("/api/inboxes", { channel: "whatsapp", name: "Bakery WhatsApp", address: "whatsapp:+14155550143" });
      await post("/api/templates", {
        name: "Cake ready (WhatsApp)",
        body: "Hi {{1}}, your cake is ready.",
        contentSid,
      });
      const res = await post("/api/conversations", { phone: "+14155550177", from: "whatsapp:+14155550143" });
      const conv = (await res.json()) as { id: string };
      return conv.id;
    }, contentSid);
    await page.goto(`${stack.appUrl}/c/${conversationId}`);
    await expect.poll(() => page.getByTestId("whatsapp-window").textContent()).toContain("window is closed");
    expect(await page.getByLabel("Message").isDisabled()).toBe(true);
    const picker = page.getByTestId("whatsapp-templates");
    await picker.getByLabel("Template").selectOption({ label: "Cake ready (WhatsApp)" });
    await picker.getByLabel("{{1}}").fill("Robin");
    await expect.poll(() => picker.locator(".template-preview").textContent()).toBe("Hi Robin, your cake is ready.");
    await shot(page, "whatsapp-templates");
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole("button", { name: "Send" }).click();
    const sent = page.locator(".msg.outbound").filter({ hasText: "Hi Robin, your cake is ready." });
    await expect.poll(() => sent.locator(".status").textContent(), { timeout: 15_000 }).toBe("Read");
    const at = (await (
      await fetch(`${stack.emulatorUrl}/_control/messages?phone=${encodeURIComponent("whatsapp:+14155550177")}`)
    ).json()) as {
      messages: any[];
    };
    expect(at.messages.at(-1)).toMatchObject({ content_sid: contentSid, body: "Hi Robin, your cake is ready." });
  }, 60_000);

  it("an image sent by MMS shows inline in the thread and reaches the phone; the customer's picture shows too", async () => {
    const page = await browser();
    await signIn(page, email);
    await page
      .getByRole("link", { name: /Casey Customer/ })
      .first()
      .click();
    await page.getByLabel("Attach files").setInputFiles({ name: "cake.png", mimeType: "image/png", buffer: PNG });
    await expect.poll(() => page.getByRole("list", { name: "Attached files" }).textContent()).toContain("cake.png");
    await page.getByLabel("Message").fill("Your cake, ready for pickup");
    await page.getByLabel("Message").press("Enter");
    const sent = page.locator(".msg.outbound").filter({ hasText: "Your cake, ready for pickup" });
    await expect.poll(() => sent.locator(".status").textContent(), { timeout: 15_000 }).toBe("Delivered");
    const img = sent.locator("img");
    await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(1);
    // The emulator ("Twilio") fetched the picture through its signed link before delivering it.
    const phone = (await (
      await fetch(`${stack.emulatorUrl}/_control/messages?phone=${encodeURIComponent(customer)}`)
    ).json()) as {
      messages: any[];
    };
    const atPhone = phone.messages.find((m) => m.body === "Your cake, ready for pickup");
    expect(atPhone.media_previews[0].dataUrl).toBe(`data:image/png;base64,${PNG.toString("base64")}`);

    await control("/inbound", {
      from: customer,
      to: "+14155550143",
      body: "Here is the cake I meant",
      media: [{ contentType: "image/png", base64: PNG.toString("base64") }],
    });
    const theirs = page.locator(".msg.inbound").filter({ hasText: "Here is the cake I meant" });
    await expect.poll(() => theirs.count(), { timeout: 10_000 }).toBe(1);
    await expect
      .poll(
        () =>
          theirs
            .locator("img")
            .evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)
            .catch(() => 0),
        {
          timeout: 15_000,
        },
      )
      .toBe(1);
    await shot(page, "mms-thread");
  }, 60_000);
});

describe("operations in Chromium", () => {
  it("the operations page shows delivery health, messages by status and the cron jobs; no serious axe violation", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Operations" }).click();
    await expect.poll(() => page.getByRole("heading", { name: "Health" }).count()).toBe(1);
    await expect.poll(() => page.locator('[data-testid="ops-ok"], [data-testid="ops-alerts"]').count()).toBe(1);
    expect(Number(await page.locator('td[data-status="delivered"]').textContent())).toBeGreaterThan(0);
    expect(await page.locator("tr[data-job]").count()).toBeGreaterThanOrEqual(6);
    await shot(page, "operations");
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it("an admin adds a webhook, sees its secret once, and its delivery log shows the event delivered", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Settings" }).click();
    const form = page.getByRole("form", { name: "Add a webhook" });
    await form.getByLabel("Endpoint URL").fill(`${stack.emulatorUrl}/_hooks/e2e`);
    await form.getByRole("button", { name: "Add webhook" }).click();
    const secret = (await page.getByTestId("webhook-secret").textContent()) ?? "";
    expect(secret).toMatch(/^whsec_/);
    await fetch(`${stack.emulatorUrl}/_control/hooks`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "e2e", secret }),
    });
    await inboundText(customer, "+14155550143", "Webhook, are you listening?");
    await page.getByRole("button", { name: "Deliveries" }).click();
    await expect
      .poll(() => page.locator('tr[data-delivery="succeeded"]').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(1);
    const got = (await (await fetch(`${stack.emulatorUrl}/_control/hooks/e2e`)).json()) as {
      received: { verified: boolean }[];
    };
    expect(got.received.length).toBeGreaterThanOrEqual(1);
    expect(got.received.every((r) => r.verified)).toBe(true);
    await shot(page, "webhooks");
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it("the analytics dashboard shows totals and charts for a range, with a CSV export; no serious axe violation", async () => {
    const page = await browser();
    await signIn(page, email);
    // Rebuild today's rollups (the cron does it every 15 minutes).
    await page.evaluate(async () => {
      const to = new Date();
      const from = new Date(to.getTime() - 24 * 3_600_000);
      await fetch("/api/analytics/recompute", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ from: from.toISOString(), to: to.toISOString() }),
      });
    });
    await page.getByRole("link", { name: "Analytics" }).click();
    await expect.poll(() => page.getByRole("heading", { name: "Totals" }).count(), { timeout: 10_000 }).toBe(1);
    await page.getByRole("button", { name: "7 days" }).click();
    const sent = page.getByTestId("analytics-totals").locator("div").filter({ hasText: "Sent" }).locator("dd");
    await expect.poll(async () => Number(await sent.textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator("[data-testid='chart-Messages'] canvas").count(), { timeout: 10_000 }).toBe(1);
    const csv = await page.evaluate(async () => {
      const link = (
        globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string } } }
      ).document.querySelector("a[download]");
      return (await fetch(link.getAttribute("href"))).text();
    });
    expect(csv.split("\n")[0]).toBe("period,inbound,outbound,delivered,failed,segments");
    await shot(page, "analytics");
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it("an admin sets the archive threshold and archives now from Settings; no serious axe violation", async () => {
    const page = await browser();
    await signIn(page, email);
    await page.getByRole("link", { name: "Settings" }).click();
    const section = page.getByTestId("archive-settings");
    await expect.poll(() => section.getByTestId("archive-summary").textContent()).toBe("Nothing archived.");
    const days = section.getByLabel("Archive messages after (days)");
    // Under the 7-day minimum the browser itself holds the form back and says why.
    await days.fill("3");
    await section.getByRole("button", { name: "Save" }).click();
    expect(await days.evaluate((el) => (el as unknown as { validationMessage: string }).validationMessage)).not.toBe(
      "",
    );
    await days.fill("90");
    await section.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => section.getByRole("status").textContent()).toMatch(/^Saved/);
    await section.getByRole("button", { name: "Archive now" }).click();
    // Everything in this workspace is from today: nothing is due yet, and it says so.
    await expect
      .poll(() => section.getByRole("status").textContent())
      .toBe("Nothing to archive yet: no message is older than 90 days.");
    await shot(page, "archive");
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);
});
