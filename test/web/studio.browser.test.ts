/**
 * The studio in a real browser (Debian's Chromium through playwright-core) on the sim models:
 * start a job, watch images arrive, give feedback, stop a job, open a finished trajectory.
 * Screenshots land in test-artifacts/web/ for a person to look at.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ARTIFACTS, describeInBrowser, launchChromium, openDesktopPage, poll } from "./browser.ts";
import { HARD_PROMPT, startStudio, type StudioHarness } from "./studio-harness.ts";

describeInBrowser("the web studio in a browser", () => {
  let harness: StudioHarness;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let firstJobId = "";
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // Small latency so progress is visible step by step, yet a job takes a second or two.
    harness = await startStudio({ latencyMs: 40 });
    browser = await launchChromium();
    ({ context, page } = await openDesktopPage(browser, pageErrors));
  });

  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });

  it("asks for a name once, then starts a job whose iteration images arrive live", async () => {
    await page.goto(harness.url);
    const dialog = page.getByRole("dialog", { name: "What should we call you?" });
    await poll(() => dialog.isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "desktop-name-dialog.png") });
    await dialog.getByLabel("Your name").fill("Ada");
    await dialog.getByRole("button", { name: "Continue" }).click();
    await poll(() => page.locator("#who-name").textContent()).toBe("Ada");
    await poll(() => page.locator("#models").textContent()).toBe("Models: simulated MLLM and generator");

    // The skill picker shows the chosen skill's description.
    const skills = await page.locator("#skill option").evaluateAll((options) => options.map((o) => o.getAttribute("value") ?? ""));
    expect(skills.length).toBeGreaterThan(2);
    const described = (skills[2] as string) ?? "auto";
    await page.getByLabel("Skill").selectOption(described);
    const manifest = (await (await fetch(`${harness.url}/api/skills`)).json()) as { skills: Array<{ id: string; description: string }> };
    const expected = manifest.skills.find((skill) => skill.id === described)?.description;
    await poll(() => page.locator("#skill-description").textContent()).toBe(expected);
    await page.getByLabel("Skill").selectOption("auto");

    await page.getByLabel("Describe the image").fill(HARD_PROMPT);
    await page.getByRole("spinbutton", { name: "Iterations", exact: true }).fill("5");
    await page.getByRole("button", { name: "Generate" }).click();

    await poll(() => page.url()).toMatch(/#\/jobs\/[A-Za-z0-9_-]+$/);
    firstJobId = /#\/jobs\/([A-Za-z0-9_-]+)$/.exec(page.url())?.[1] ?? "";
    await poll(() => page.locator("#job-heading").textContent()).toBe(HARD_PROMPT);
    // The first card's image is served from the image store.
    const firstImage = page.locator("#iteration-1 figure img");
    await firstImage.waitFor({ state: "visible", timeout: 10_000 });
    await poll(() => firstImage.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    await poll(() => page.locator("#job-progress").textContent()).not.toBe("");
    await page.locator("#iteration-1 .verdicts li").first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "desktop-running.png") });
    // The list shows the job.
    await poll(() => page.locator(`.job-link[href="#/jobs/${firstJobId}"]`).count()).toBe(1);
  });

  it("feedback becomes a new question in the checklist", async () => {
    await page.getByLabel("Feedback for the next attempt").fill("add a yellow star");
    await page.getByRole("button", { name: "Send feedback" }).click();
    await poll(() => page.locator("#feedback-status").textContent()).toMatch(/^Thanks/);
    const fromFeedback = page.locator("#checklist li.from-feedback");
    await fromFeedback.first().waitFor({ timeout: 10_000 });
    expect(await fromFeedback.first().textContent()).toMatch(/star/i);
  });

  it("a finished job shows its whole trajectory: filmstrip, pass-count chart and every card", async () => {
    await harness.finished(firstJobId);
    // Open it fresh from the jobs list, as someone browsing past jobs would.
    await page.goto(`${harness.url}/#/`);
    await page.locator(`.job-link[href="#/jobs/${firstJobId}"]`).click();
    await poll(() => page.locator("#job-meta .status").textContent()).toBe("done");
    await poll(() => page.locator("#iteration-cards > li").count()).toBeGreaterThan(0);
    const iterations = await page.locator("#iteration-cards > li").count();
    await poll(() => page.locator("#filmstrip > li").count()).toBe(iterations);
    expect(await page.locator("#trajectory").isVisible()).toBe(true);
    const points = await page.locator("#pass-chart svg circle").count();
    expect(points).toBeGreaterThan(0);
    expect(await page.locator("#pass-chart svg title").first().textContent()).toMatch(/^Requirements passed per iteration: iteration 1: \d+ of \d+/);
    expect(await page.locator("#iteration-cards .best-badge").count()).toBe(1);
    // Each card flags the regressions the API's trajectory counts, and its badge counts the lines that are not struck through.
    const { job } = (await (await fetch(`${harness.url}/api/jobs/${firstJobId}`)).json()) as { job: { trajectory: { iterations: Array<{ n: number; regressions?: number[] }> } } };
    expect(job.trajectory.iterations.some((it) => (it.regressions ?? []).length > 0)).toBe(true);
    for (const it of job.trajectory.iterations) {
      const card = page.locator(`#iteration-${it.n}`);
      expect(await card.locator(".verdicts li.regressed").count()).toBe(it.regressions?.length ?? 0);
      const badge = (await card.locator(".card-header .badge").first().textContent()) ?? "";
      const total = Number(/^\d+\/(\d+) passed/.exec(badge)?.[1]);
      expect(await card.locator(".verdicts li:not(.retired)").count()).toBe(total);
    }
    // Each card offers its image as a download that carries its provenance.
    expect(await page.locator("#iteration-1 a.download").getAttribute("href")).toBe(`/api/jobs/${firstJobId}/iterations/1/image`);
    await page.screenshot({ path: join(ARTIFACTS, "desktop-finished.png"), fullPage: true });
    await page.locator("#trajectory").screenshot({ path: join(ARTIFACTS, "desktop-trajectory.png") });

    // "Use this" makes iteration 1 the result.
    await page.locator("#iteration-1").getByRole("button", { name: "Use this" }).click();
    // Then what the job spent (the sim has no price: tokens and images).
    await poll(() => page.locator("#job-progress").textContent()).toMatch(
      /^Done: iteration 1 was picked as the result\. Usage: [\d,]+ tokens in, [\d,]+ out, \d+ images? \(no price set for sim\)$/,
    );
  });

  it("the vote buttons on an iteration card record the person's vote and show the count", async () => {
    const card = page.locator("#iteration-1");
    await card.getByRole("button", { name: /^Vote for iteration 1/ }).click();
    await poll(() => card.locator(".vote-up").textContent()).toBe("👍 1");
    // Voting again is the same vote, not a second one; a 👎 replaces it.
    await card.getByRole("button", { name: /^Vote for iteration 1/ }).click();
    await card.getByRole("button", { name: /^Vote against iteration 1/ }).click();
    await poll(() => card.locator(".vote-down").textContent()).toBe("👎 1");
    expect(await card.locator(".vote-up").textContent()).toBe("👍 0");
    const status = (await (await fetch(`${harness.url}/api/jobs/${firstJobId}`)).json()) as { job: { votes: unknown } };
    expect(status.job.votes).toEqual([{ n: 1, up: 0, down: 1 }]);
    // The votes come before what the job spent, which the usage ledger appends to the same line.
    await poll(() => page.locator("#job-progress").textContent()).toMatch(
      /^Done: iteration 1 was picked as the result\. Team votes: #1 👍 0 👎 1\. Usage: [\d,]+ tokens in, [\d,]+ out, \d+ images? \(no price set for sim\)$/,
    );
  });

  it("Stop ends a running job and Refine more runs it again", async () => {
    await page.getByLabel("Describe the image").fill(HARD_PROMPT);
    await page.getByRole("spinbutton", { name: "Iterations", exact: true }).fill("10");
    await page.getByRole("button", { name: "Generate" }).click();
    await poll(() => page.locator("#job-meta .status").textContent()).toBe("running");
    await page.locator("#iteration-1 figure img").waitFor({ timeout: 10_000 });
    await page.getByRole("button", { name: "Stop" }).click();
    await poll(() => page.locator("#job-meta .status").textContent()).toBe("stopped");
    expect(await page.locator("#job-progress").textContent()).toMatch(/^Stopped/);
    expect(await page.getByRole("button", { name: "Stop" }).isVisible()).toBe(false);

    const before = await page.locator("#iteration-cards > li").count();
    await page.getByLabel("More iterations").fill("1");
    await page.getByRole("button", { name: "Refine more" }).click();
    await poll(() => page.locator("#iteration-cards > li").count()).toBe(before + 1);
    expect(await page.locator("#job-error").textContent()).toBe("");
  });

  it("renders what people type as text, never as markup", async () => {
    const hostile = 'a red cube <img src=x onerror="window.__injected=1"><b>bold</b>';
    await page.getByLabel("Describe the image").fill(hostile);
    await page.getByRole("spinbutton", { name: "Iterations", exact: true }).fill("1");
    await page.getByRole("button", { name: "Generate" }).click();
    await poll(() => page.locator("#job-heading").textContent()).toBe(hostile);
    expect(await page.locator("#job-heading img, #job-heading b, .job-prompt img").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __injected?: number }).__injected)).toBeUndefined();
  });

  it("refusals from the server are shown to the person, not swallowed", async () => {
    await page.goto(`${harness.url}/#/`);
    await page.getByLabel("Describe the image").fill("   ");
    await page.getByRole("button", { name: "Generate" }).click();
    await poll(() => page.locator("#start-error").textContent()).toMatch(/^The prompt is empty/);
  });

  it("shows the newest preview and percent while an image is drawn, then the final image in its place", async () => {
    // A slow generator (1.2 s per image, three partial drawings) and previews every 100 ms.
    const slow = await startStudio({ latencyMs: 5, generatorLatencyMs: 1_200, previewIntervalMs: 100 });
    const watcher = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await watcher.addInitScript({ content: 'localStorage.setItem("gems-studio-name", "Ada")' });
    const live = await watcher.newPage();
    live.on("pageerror", (error) => pageErrors.push(error.message));
    try {
      await live.goto(slow.url);
      await live.getByLabel("Describe the image").fill("a red cube");
      await live.getByRole("spinbutton", { name: "Iterations", exact: true }).fill("1");
      await live.getByRole("button", { name: "Generate" }).click();
      const preview = live.locator("#iteration-1 .preview");
      await preview.waitFor({ state: "visible", timeout: 10_000 });
      await poll(() => preview.locator(".preview-percent").textContent()).toMatch(/^Generating… (25|50|75)%$/);
      await poll(() => live.locator("#iteration-1 .preview-image").evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(256);
      await live.screenshot({ path: join(ARTIFACTS, "desktop-preview.png") });
      const final = live.locator("#iteration-1 figure img");
      await final.waitFor({ state: "visible", timeout: 10_000 });
      expect(await live.locator("#iteration-1 .preview").count()).toBe(0);
      await poll(() => final.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(256);
    } finally {
      await watcher.close();
      await slow.close();
    }
  });

  it("fits a phone-sized screen", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await phone.addInitScript({ content: 'localStorage.setItem("gems-studio-name", "Ada")' });
    const small = await phone.newPage();
    small.on("pageerror", (error) => pageErrors.push(error.message));
    await small.goto(`${harness.url}/#/jobs/${firstJobId}`);
    await small.locator("#iteration-1 figure img").waitFor();
    await poll(() => small.locator("#filmstrip > li").count()).toBeGreaterThan(0);
    // Nothing is wider than the screen: no sideways scrolling of the page itself.
    expect(await small.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await small.screenshot({ path: join(ARTIFACTS, "phone-top.png") });
    await small.screenshot({ path: join(ARTIFACTS, "phone-job.png"), fullPage: true });
    await phone.close();
    expect(pageErrors).toEqual([]);
  });
});
