/**
 * Finds the job a thread reply belongs to. Threads are added as their first message is posted;
 * jobs from before a restart are found by reading the job service's records once.
 */
import type { JobService } from "../../core/jobs/types.ts";
import { readThreadRef, threadKey } from "./thread-ref.ts";

export class ThreadIndex {
  readonly #jobs: JobService;
  readonly #byThread = new Map<string, string>();
  #jobsSeen = -1;

  constructor(jobs: JobService) {
    this.#jobs = jobs;
  }

  add(channel: string, threadTs: string, jobId: string): void {
    this.#byThread.set(threadKey(channel, threadTs), jobId);
  }

  find(channel: string, threadTs: string): string | null {
    const key = threadKey(channel, threadTs);
    const known = this.#byThread.get(key);
    if (known !== undefined) return known;
    // New jobs are added when their thread is created, so a miss means "not a job thread"
    // unless the service has loaded jobs since the last scan (bot started before the service).
    // metrics() counts without building a summary of every job, which list() would do per message.
    if (this.#jobs.metrics().jobs !== this.#jobsSeen) this.rebuild();
    return this.#byThread.get(key) ?? null;
  }

  /** Reads every job's thread from the service; swept jobs drop out. */
  rebuild(): void {
    const summaries = this.#jobs.list();
    this.#byThread.clear();
    for (const summary of summaries) {
      const status = this.#jobs.status(summary.jobId);
      if (!status.ok) continue;
      const ref = readThreadRef({ jobId: summary.jobId, requester: status.job.requester, surfaceRef: status.job.surfaceRef });
      if (ref?.threadTs) this.add(ref.channel, ref.threadTs, summary.jobId);
    }
    this.#jobsSeen = summaries.length;
  }
}
