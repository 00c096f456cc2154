/**
 * The studio's usage page in a real browser (Debian's Chromium through playwright-core): the
 * totals for the saved name, one SVG bar per day of the chosen period, the team for admins.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeInBrowser, launchChromium, poll } from "./browser.ts";
import { call, startStudio, type StudioHarness } from "./studio-harness.ts";


describeInBrowser("the usage page in a browser", () => {
  let harness: StudioHarness;
  let browser: Browser;

  beforeAll(async () => {
    harness = await startStudio({ usage: { prices: { currency: "USD", models: { sim: { input: 1, output: 2, image: 0.01 } } } }, admins: ["web:ada"] });
    const started = await call(harness.url, "POST", "/api/jobs", { prompt: "a red cube", iterations: 2, name: "Bo" });
    await harness.finished(started.body.jobId);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });

  async function openAs(name: string) {
    const context = await browser.newContext();
    // Runs in the page, where localStorage exists (this file is type-checked without the DOM lib).
    await context.addInitScript((saved) => (globalThis as unknown as { localStorage: { setItem(key: string, value: string): void } }).localStorage.setItem("gems-studio-name", saved), name);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${harness.url}/usage.html`);
    return { page, errors };
  }

  it("shows the person's totals and a bar per day, and the period can change", async () => {
    const { page, errors } = await openAs("Bo");
    await poll(() => page.locator("#summary").textContent()).toMatch(/^Bo: \$0\.\d{4} · 1 job · \d+ images? · [\d,]+ tokens in, [\d,]+ out$/);
    await poll(() => page.locator("#chart svg rect").count()).toBe(7);
    // Only today has jobs: its bar is the full height, the others the 1-unit floor.
    expect(await page.locator("#chart svg rect").last().getAttribute("height")).toBe("160");
    await page.locator("#days").selectOption("30");
    await poll(() => page.locator("#chart svg rect").count()).toBe(30);
    expect(await page.locator("#people tr").count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("shows admins the team, one row per person", async () => {
    const { page, errors } = await openAs("Ada");
    await poll(() => page.locator("#summary").textContent()).toMatch(/^The team: \$0\.\d{4} · 1 job ·/);
    await poll(() => page.locator("#people tr").count()).toBe(1);
    expect(await page.locator("#people tr td").nth(1).textContent()).toBe("web:bo");
    expect(errors).toEqual([]);
  });
});
