/**
 * Storage as the service sees it: the records of the jobs this process knows, each with a
 * coalescing writer to the JobStore and a lock for operations on a job that is not running.
 * The JobStore behind it (SQLite, in memory, PostgreSQL) is the durable truth; this table is
 * the working copy every other module reads.
 */
import { createCoalescingWriter } from "./coalescing-writer.ts";
import type { JobStore, LoadedJobs } from "./job-store.ts";
import type { CorruptJob, JobRecord } from "./types.ts";

/** A job while it runs in this process. */
export interface Run {
  /** Aborted by cancel, pick and close: in-flight model calls stop at once. */
  controller: AbortController;
  /** Aborted by drain: the current step finishes first. */
  pause: AbortController;
  done: Promise<void>;
  /** Set by pick: the cancellation it causes is recorded as a pick. */
  pickedIteration: number | null;
  outageStartedMs: number | null;
  outageWaits: number;
}

export interface Job {
  record: JobRecord;
  /** Writes the whole record; calls made while a write runs share the next one. */
  persist: () => Promise<void>;
  run: Run | null;
  /** Operations on a job that is not running (pick, continue, feedback) take turns. */
  lock: Promise<unknown>;
}

export class JobTable {
  readonly #jobs = new Map<string, Job>();
  readonly #corrupt = new Map<string, CorruptJob>();
  readonly #writes = new Set<Promise<unknown>>();

  /** `isClosed`: after close() nothing reaches the store, as after a kill. */
  constructor(
    readonly store: JobStore,
    readonly isClosed: () => boolean,
  ) {}

  load(): Promise<LoadedJobs> {
    return this.store.load();
  }

  add(record: JobRecord): Job {
    const job: Job = {
      record,
      persist: createCoalescingWriter(async () => {
        if (this.isClosed()) return;
        await this.store.put(job.record);
      }),
      run: null,
      lock: Promise.resolve(),
    };
    this.#jobs.set(record.jobId, job);
    return job;
  }

  get(jobId: string): Job | undefined {
    return this.#jobs.get(jobId);
  }

  has(jobId: string): boolean {
    return this.#jobs.has(jobId) || this.#corrupt.has(jobId);
  }

  /** Forgets a job (after the store deleted it, or when its first write failed). */
  forget(jobId: string): void {
    this.#jobs.delete(jobId);
  }

  values(): IterableIterator<Job> {
    return this.#jobs.values();
  }

  ids(): IterableIterator<string> {
    return this.#jobs.keys();
  }

  get size(): number {
    return this.#jobs.size;
  }

  markCorrupt(broken: CorruptJob): void {
    this.#corrupt.set(broken.jobId, broken);
  }

  corrupt(jobId: string): CorruptJob | undefined {
    return this.#corrupt.get(jobId);
  }

  corruptJobs(): CorruptJob[] {
    return [...this.#corrupt.values()];
  }

  runs(): Run[] {
    return [...this.#jobs.values()].flatMap((job) => (job.run ? [job.run] : []));
  }

  persist(job: Job): Promise<void> {
    const write = job.persist();
    this.#writes.add(write);
    void write.then(
      () => this.#writes.delete(write),
      () => this.#writes.delete(write),
    );
    return write;
  }

  withLock<T>(job: Job, task: () => Promise<T>): Promise<T> {
    const result = job.lock.then(task, task);
    job.lock = result.catch(() => undefined);
    return result;
  }

  /** Resolves when no write is in flight, including writes started while waiting. */
  async flush(): Promise<void> {
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }

  /** Waits once for the writes in flight now. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }
}
