/**
 * The studio's skills panel in a real browser (Debian's Chromium through playwright-core): an
 * admin uploads a SKILL.md, a malformed one shows the wrong line, the new skill joins the new-job
 * form without a reload, and a person saves their default.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createFileSkillDefaultStore, createFileTeamSkillStore } from "../../core/skills/file-skill-store.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createTeamSkillLibrary } from "../../core/skills/team-skills.ts";
import { describeInBrowser, launchChromium, openDesktopPage, poll } from "./browser.ts";
import { startStudio, type StudioHarness } from "./studio-harness.ts";

const SKILL = "# Skill: Harbour Mood\n\n## Description\nUse for harbours and boats at dawn.\n\n## Instructions\nSoft mist over the water.\n";

describeInBrowser("the studio's skills panel", () => {
  let harness: StudioHarness;
  let browser: Browser;
  let page: Page;
  let dir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gems-web-skills-browser-"));
    const library = await createTeamSkillLibrary(await loadSkillLibrary(join(import.meta.dirname, "../../skills")), createFileTeamSkillStore(dir));
    harness = await startStudio({ team: { library, defaults: createFileSkillDefaultStore(dir) }, admins: ["web:ada"] });
    browser = await launchChromium();
    ({ page } = await openDesktopPage(browser, pageErrors));
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("uploads a SKILL.md, shows a malformed one's wrong line, and saves a default", async () => {
    await page.goto(harness.url);
    const dialog = page.getByRole("dialog", { name: "What should we call you?" });
    await dialog.getByLabel("Your name").fill("Ada");
    await dialog.getByRole("button", { name: "Continue" }).click();
    await page.locator("#skills-panel summary").click();
    await poll(() => page.locator("#skills-list li").count()).toBe(4);

    const upload = async (text: string) => {
      await page.locator("#skill-file").setInputFiles({ name: "SKILL.md", mimeType: "text/markdown", buffer: Buffer.from(text) });
      await page.locator("#skill-add-form button[type=submit]").click();
    };
    await upload(SKILL.replace("# Skill: Harbour Mood", "# Harbour Mood"));
    await poll(() => page.locator("#skills-message").textContent()).toBe('The skill was not added. Line 1: the title "# Harbour Mood" must read "# Skill: <Name>".');

    await upload(SKILL);
    await poll(() => page.locator("#skills-message").textContent()).toBe("Skill Harbour Mood (harbour-mood) added: version 1. The next job can use it.");
    await poll(() => page.locator("#skills-list li").count()).toBe(5);
    // The new-job form offers it without a reload.
    await poll(() => page.locator('#skill option[value="harbour-mood"]').count()).toBe(1);

    await page.locator("#skill-default").selectOption("harbour-mood");
    await page.locator("#skill-default-form button[type=submit]").click();
    await poll(() => page.locator("#skills-message").textContent()).toBe("Your jobs that name no skill now use the skill harbour-mood.");
    expect(pageErrors).toEqual([]);
  });
});
