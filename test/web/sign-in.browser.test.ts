/**
 * Sign-in in a real browser (Debian's Chromium through playwright-core): the studio's real
 * openid-client against a fake OIDC provider on loopback. Sign in, start a job, and find
 * someone else's job read-only. Screenshots land in test-artifacts/web/.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startFakeOidcProvider, type FakeOidcProvider } from "../fakes/oidc-provider.ts";
import { ARTIFACTS, describeInBrowser, launchChromium, openDesktopPage, poll } from "./browser.ts";
import { signIn } from "./sign-in-flow.ts";
import { HARD_PROMPT, call, startStudio, type StudioHarness } from "./studio-harness.ts";

const ADA = { sub: "U0ADA", name: "Ada", slackTeam: "T0TEAM" };
const BOB = { sub: "U0BOB", name: "Bob", slackTeam: "T0TEAM" };

describeInBrowser("studio sign-in in a browser", () => {
  let provider: FakeOidcProvider;
  let harness: StudioHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    provider = await startFakeOidcProvider();
    harness = await startStudio({
      latencyMs: 40,
      auth: {
        mode: "oidc",
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        publicUrl: undefined,
        cookieSecret: "a-cookie-secret-of-forty-characters-long",
        personClaim: undefined,
        scopes: "openid profile email",
        sessionHours: 12,
      },
    });
    browser = await launchChromium();
    ({ page } = await openDesktopPage(browser, pageErrors));
  });

  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    await provider?.close();
  });

  it("signs in through the provider and comes back as the Slack person, without asking for a name", async () => {
    provider.signInAs(ADA);
    await page.goto(harness.url);
    await poll(() => page.locator("#who-name").textContent()).toBe("not signed in");
    expect(await page.getByRole("dialog", { name: "What should we call you?" }).isVisible()).toBe(false);
    await page.getByRole("link", { name: "Sign in" }).click();
    await poll(() => page.locator("#who-name").textContent()).toBe("Ada");
    expect(page.url()).toBe(`${harness.url}/`);
    expect(await page.getByRole("link", { name: "Sign in" }).isVisible()).toBe(false);
    // The session cookie is HttpOnly: the page's scripts cannot read it.
    expect(await page.evaluate<string>("document.cookie")).not.toContain("gems_session");
    await page.screenshot({ path: join(ARTIFACTS, "desktop-signed-in.png") });
  });

  it("starts a job as the signed-in person and may steer it", async () => {
    await page.getByLabel("Describe the image").fill(HARD_PROMPT);
    await page.getByRole("spinbutton", { name: "Iterations", exact: true }).fill("3");
    await page.getByRole("button", { name: "Generate" }).click();
    await poll(() => page.url()).toMatch(/#\/jobs\/[A-Za-z0-9_-]+$/);
    const jobId = /#\/jobs\/([A-Za-z0-9_-]+)$/.exec(page.url())?.[1] ?? "";
    const status = harness.jobs.status(jobId);
    expect(status.ok && status.job.requester).toEqual({ id: "slack:T0TEAM:U0ADA", name: "Ada" });
    await poll(() => page.locator("#job-meta").textContent()).toContain("by Ada (web)");
    expect(await page.locator("#feedback-form").isVisible()).toBe(true);
    expect(await page.locator("#read-only-note").isVisible()).toBe(false);
    await harness.finished(jobId);
    await poll(() => page.locator("#iteration-cards .pick").count()).toBeGreaterThan(0);
  });

  it("shows someone else's job read-only, and the server refuses it too", async () => {
    const bob = await signIn(harness.url, provider, BOB);
    provider.signInAs(ADA);
    const started = await call(harness.url, "POST", "/api/jobs", { prompt: HARD_PROMPT, iterations: 10 }, { cookie: bob });
    expect(started.status).toBe(201);
    const jobId = started.body.jobId as string;
    await page.goto(`${harness.url}/#/jobs/${jobId}`);
    await poll(() => page.locator("#read-only-note").textContent()).toBe("Only Bob or an admin can steer this job; you can watch it.");
    await page.locator("#iteration-1 figure img").waitFor({ timeout: 10_000 });
    expect(await page.getByRole("button", { name: "Stop" }).isVisible()).toBe(false);
    expect(await page.locator("#feedback-form").isVisible()).toBe(false);
    expect(await page.locator("#iteration-cards .pick").count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, "desktop-read-only.png") });
    // Hidden is not enough: the page's own session is refused by the server.
    const answer = await page.evaluate(async (path) => {
      const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      return { status: response.status, body: await response.json() };
    }, `/api/jobs/${jobId}/stop`);
    expect(answer).toEqual({ status: 403, body: { error: { code: "forbidden", message: "Only Bob or an admin can stop this job." } } });
    await call(harness.url, "POST", `/api/jobs/${jobId}/stop`, {}, { cookie: bob });
  });

  it("opens the job a link pointed at once signed in", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const fresh = await context.newPage();
      const jobId = harness.jobs.list()[0]?.jobId ?? "";
      await fresh.goto(`${harness.url}/#/jobs/${jobId}`);
      await fresh.getByRole("link", { name: "Sign in" }).click();
      await poll(() => fresh.locator("#who-name").textContent()).toBe("Ada");
      await poll(() => fresh.url()).toBe(`${harness.url}/#/jobs/${jobId}`);
      await poll(() => fresh.locator("#job-heading").isVisible()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it("signs out", async () => {
    await page.goto(harness.url);
    await poll(() => page.locator("#who-name").textContent()).toBe("Ada");
    await page.getByRole("button", { name: "sign out" }).click();
    await poll(() => page.locator("#who-name").textContent()).toBe("not signed in");
    expect(pageErrors).toEqual([]);
  });
});
