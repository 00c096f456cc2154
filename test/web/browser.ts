/**
 * What the studio's browser tests share: Debian's Chromium driven through playwright-core, the
 * folder screenshots go to, and a poll generous enough for CI machines running other suites.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { chromium, type Browser, type BrowserContext } from "playwright-core";
import { describe, expect } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";
/** Screenshots for a person to look at. */
export const ARTIFACTS = resolve(import.meta.dirname, "../../test-artifacts/web");

/** Waits for what the page shows; generous because CI machines run other suites alongside. */
export const poll = <T>(read: () => Promise<T> | T, options: { timeout?: number } = {}) => expect.poll(read, { timeout: options.timeout ?? 10_000 });

// CI installs Chromium (.ci/run), so there a missing browser is a failure, never a skip. A
// developer's machine without it reports the suite as skipped (not passed) and says how to fix it.
const hasChromium = existsSync(CHROMIUM);
const isCi = Boolean(process.env["CI"]);
export const describeInBrowser = hasChromium || isCi ? describe : describe.skip;
if (!hasChromium && !isCi) process.stderr.write(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)\n`);

/** A headless Chromium with a fresh temporary profile of its own, removed on close. */
export async function launchChromium(): Promise<Browser> {
  if (!hasChromium) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A desktop-sized context with one page, whose script errors are added to `pageErrors`. */
export async function openDesktopPage(browser: Browser, pageErrors: string[]) {
  const context: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  return { context, page };
}
