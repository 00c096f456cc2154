/**
 * Cleanups registered during a test run after it, last registered first (servers close before
 * the folders they wrote to are removed). Vitest evaluates this module once per test file.
 */
import { afterEach } from "vitest";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export function onCleanup(...cleanup: Array<() => Promise<void>>): void {
  cleanups.push(...cleanup);
}
