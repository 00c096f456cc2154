/**
 * How long a job waits out failing model servers, or a database that is away. The adapters
 * already retry a few times within one call; this covers the longer outage (a server
 * restarting, a GPU box rebooting, PostgreSQL failing over): the job sleeps with exponential
 * backoff and resumes from memory, until the outage has lasted longer than the budget.
 */
import type { GemsError } from "../errors.ts";
import { isStoreAway } from "../memory/storage-errors.ts";

export const OUTAGE_FIRST_DELAY_MS = 1_000;
export const OUTAGE_MAX_DELAY_MS = 30_000;

/**
 * Failures a wait can fix. A full disk, a refused write (a job another worker took over) or a
 * bad request stays broken, so the job fails (or stops) at once.
 */
export function isOutage(error: GemsError): boolean {
  if (error.code === "storage") return isStoreAway(error);
  return error.code === "backend" || error.code === "rate-limited" || error.code === "timeout";
}

/**
 * The wait before the next try, or null when the outage has used up its budget. `waits` counts
 * earlier waits in this outage; the last wait is cut short so the final try lands on the budget.
 */
export function outageDelayMs(outageStartedMs: number, nowMs: number, waits: number, budgetMs: number): number | null {
  const elapsed = nowMs - outageStartedMs;
  if (elapsed >= budgetMs) return null;
  const backoff = Math.min(OUTAGE_MAX_DELAY_MS, OUTAGE_FIRST_DELAY_MS * 2 ** waits);
  return Math.min(backoff, budgetMs - elapsed);
}
