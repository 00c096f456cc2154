const HOUR_MS = 60 * 60 * 1000;

export type RateDecision = { isAllowed: true } | { isAllowed: false; retryAfterMs: number };

/**
 * A sliding one-hour window per person: a job is allowed when fewer than `perHour` of that
 * person's jobs started in the last 60 minutes. A fixed window would let a person send twice
 * the limit across the hour boundary.
 */
export class SlidingWindowRateLimit {
  readonly #hits = new Map<string, number[]>();

  /** `perHour` 0 means no limit. */
  constructor(readonly perHour: number) {}

  /** Records a job at `atMs`, e.g. when reloading stored jobs after a restart. */
  record(personId: string, atMs: number): void {
    const hits = this.#hits.get(personId) ?? [];
    hits.push(atMs);
    hits.sort((a, b) => a - b);
    this.#hits.set(personId, hits);
  }

  /** Whether a job may start now; when allowed, counts it. */
  take(personId: string, nowMs: number): RateDecision {
    if (this.perHour <= 0) return { isAllowed: true };
    const hits = (this.#hits.get(personId) ?? []).filter((at) => at > nowMs - HOUR_MS);
    this.#hits.set(personId, hits);
    if (hits.length >= this.perHour) {
      // The window reopens when the oldest of the last `perHour` hits falls out of it.
      const oldest = hits[hits.length - this.perHour] as number;
      return { isAllowed: false, retryAfterMs: Math.max(0, oldest + HOUR_MS - nowMs) };
    }
    hits.push(nowMs);
    return { isAllowed: true };
  }

  /** Gives back a hit that was counted for a job that then could not be stored. */
  undo(personId: string, atMs: number): void {
    const hits = this.#hits.get(personId);
    const index = hits?.lastIndexOf(atMs) ?? -1;
    if (hits && index >= 0) hits.splice(index, 1);
  }
}
