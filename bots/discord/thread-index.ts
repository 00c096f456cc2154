/**
 * Which thread belongs to which job, for commands and replies typed in a thread, and a way for
 * /gems create to wait until its job's thread exists so it can link to it.
 */
import type { JobService } from "../../core/jobs/types.ts";
import { readDiscordRef } from "./surface-ref.ts";

export type ThreadOutcome = { ok: true; threadId: string } | { ok: false; message: string };

// Outcomes nobody waited for yet; kept briefly, bounded so a busy bot cannot grow without limit.
const MAX_UNCLAIMED = 500;

export class ThreadIndex {
  readonly #jobByThread = new Map<string, string>();
  readonly #indexedJobs = new Set<string>();
  readonly #waiters = new Map<string, Array<(outcome: ThreadOutcome) => void>>();
  readonly #unclaimed = new Map<string, ThreadOutcome>();
  /** The service's job count at the last scan; unchanged means no job to index appeared. */
  #scannedJobCount = -1;

  constructor(private readonly jobs: JobService) {}

  add(threadId: string, jobId: string): void {
    this.#jobByThread.set(threadId, jobId);
    this.#indexedJobs.add(jobId);
  }

  /** The thread of `jobId` exists (or could not be made); wakes whoever waits for it. */
  settle(jobId: string, outcome: ThreadOutcome): void {
    const waiters = this.#waiters.get(jobId);
    if (waiters) {
      this.#waiters.delete(jobId);
      for (const wake of waiters) wake(outcome);
      return;
    }
    this.#unclaimed.set(jobId, outcome);
    if (this.#unclaimed.size > MAX_UNCLAIMED) this.#unclaimed.delete(this.#unclaimed.keys().next().value as string);
  }

  /** Resolves with the job's thread once it exists, or null after `timeoutMs`. */
  whenReady(jobId: string, timeoutMs: number): Promise<ThreadOutcome | null> {
    const settled = this.#unclaimed.get(jobId);
    if (settled) {
      this.#unclaimed.delete(jobId);
      return Promise.resolve(settled);
    }
    return new Promise((resolve) => {
      const wake = (outcome: ThreadOutcome | null) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        const list = this.#waiters.get(jobId) ?? [];
        this.#waiters.set(jobId, list.filter((w) => w !== wake));
        wake(null);
      }, timeoutMs);
      timer.unref();
      this.#waiters.set(jobId, [...(this.#waiters.get(jobId) ?? []), wake]);
    });
  }

  /** The job whose thread this is, or null. Jobs loaded since the last look are indexed first. */
  jobIdOf(threadId: string): string | null {
    const known = this.#jobByThread.get(threadId);
    if (known) return known;
    // Every message in every channel asks; listing all jobs each time would not scale.
    const count = this.jobs.metrics().jobs;
    if (count === this.#scannedJobCount) return null;
    this.#scannedJobCount = count;
    for (const summary of this.jobs.list()) {
      if (this.#indexedJobs.has(summary.jobId)) continue;
      const status = this.jobs.status(summary.jobId);
      if (!status.ok) continue;
      this.#indexedJobs.add(summary.jobId);
      const ref = readDiscordRef(status.job.surfaceRef);
      if (ref?.threadId) this.#jobByThread.set(ref.threadId, summary.jobId);
    }
    return this.#jobByThread.get(threadId) ?? null;
  }
}
