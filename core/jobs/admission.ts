/**
 * Admission: who may queue a job (per-person queue limit, hourly rate), where a job stands in
 * line, and (in one process) which queued job starts next. `Admission` is what every service
 * asks, in one process or across many; it is async because the distributed implementation
 * (distributed/redis-admission.ts) checks and counts in Redis. `createLocalAdmission` keeps the
 * counts in this process and is also the single-process run queue (`LocalAdmission`).
 */
import { FairQueue } from "./scheduler.ts";
import { SlidingWindowRateLimit } from "./rate-limit.ts";
import type { JobLimits } from "./limits.ts";
import type { Person, Refusal } from "./types.ts";

const HOUR_MS = 60 * 60 * 1000;

/** A job let in: its place in line (0: starts now) and its priority for a queue that orders by one. */
export type Admitted = { ok: true; position: number; priority: number };

export interface Admission {
  /** A new job: refused when the person's queue is full or their hourly rate is used up; else counted and in line. */
  admitNew(jobId: string, person: Person, atMs: number): Promise<Admitted | Refusal>;
  /** A continued job: only the queue limit applies (continue is not a new job for the rate). */
  admitContinue(jobId: string, requester: Person): Promise<Admitted | Refusal>;
  /** Gives back everything admitNew counted, for a job that then could not be stored or queued. */
  undoNew(jobId: string, personId: string, atMs: number): Promise<void>;
  /** The job left the line without running (stopped or picked while queued, or its write failed). */
  remove(jobId: string): Promise<void>;
  /** As this process last knew: 0 starts now, n ≥ 1 n-th in line, null not in line. */
  positionOf(jobId: string): number | null;
  /** Jobs in line, as this process last knew. */
  readonly queued: number;
}

/** Where admission meets running in one process: the runner takes jobs from the line itself. */
export interface RunQueue {
  /** The next job to start, when a running slot is free; `isReady` says which jobs may start yet. */
  takeNext(isReady: (jobId: string) => boolean): string | undefined;
  /** A job of this person runs from now until `finished`. */
  started(personId: string): void;
  finished(personId: string): void;
  readonly running: number;
}

export interface LocalAdmission extends Admission, RunQueue {
  /** A stored job seen at start: its creation counts toward the rate; unfinished ones queue again. */
  restore(jobId: string, personId: string, createdAtMs: number, state: "running" | "queued" | "finished", nowMs: number): void;
  /** The service drains or closes: no running slot frees up any more, which positions show. */
  stopStarting(): void;
}

export function queueFullMessage(waiting: number, limit: number, requester: Person | null): string {
  return requester === null
    ? `You already have ${waiting} job${waiting === 1 ? "" : "s"} waiting; the limit is ${limit}. Wait for one to start, or stop one.`
    : `${requester.name} already has ${waiting} jobs waiting; the limit is ${limit}. Try again when one has started.`;
}

export function rateLimitedMessage(perHour: number, retryAfterMs: number): string {
  const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
  return `You have started ${perHour} jobs in the last hour, the limit. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

export function createLocalAdmission(limits: JobLimits): LocalAdmission {
  const queue = new FairQueue();
  const runningBy = new Map<string, number>();
  const rateLimit = new SlidingWindowRateLimit(limits.rateLimitPerHour);
  let runningCount = 0;
  let isStopped = false;
  const runningOf = (personId: string): number => runningBy.get(personId) ?? 0;

  function positionOf(jobId: string): number | null {
    if (!queue.has(jobId)) return null;
    const index = queue.order(runningOf).indexOf(jobId);
    const free = isStopped ? 0 : Math.max(0, limits.maxRunningJobs - runningCount);
    return index < free ? 0 : index - free + 1;
  }

  // Each check and its count happen in one synchronous stretch, so two quick submits of one
  // person cannot both pass a limit that has room for one.
  function admit(jobId: string, person: Person, isNew: boolean, atMs: number): Admitted | Refusal {
    const waiting = queue.countFor(person.id);
    if (waiting >= limits.maxQueuedPerPerson) {
      return { ok: false, reason: "queue-full", message: queueFullMessage(waiting, limits.maxQueuedPerPerson, isNew ? null : person) };
    }
    if (isNew) {
      const rate = rateLimit.take(person.id, atMs);
      if (!rate.isAllowed) return { ok: false, reason: "rate-limited", message: rateLimitedMessage(limits.rateLimitPerHour, rate.retryAfterMs) };
    }
    queue.enqueue(jobId, person.id);
    return { ok: true, position: positionOf(jobId) ?? 0, priority: 0 };
  }

  return {
    restore(jobId, personId, createdAtMs, state, nowMs) {
      if (createdAtMs > nowMs - HOUR_MS) rateLimit.record(personId, createdAtMs);
      if (state !== "finished") queue.enqueue(jobId, personId, { isResumed: state === "running" });
    },

    admitNew: async (jobId, person, atMs) => admit(jobId, person, true, atMs),
    admitContinue: async (jobId, requester) => admit(jobId, requester, false, 0),

    async undoNew(jobId, personId, atMs) {
      queue.remove(jobId);
      rateLimit.undo(personId, atMs);
    },

    async remove(jobId) {
      queue.remove(jobId);
    },

    takeNext(isReady) {
      if (runningCount >= limits.maxRunningJobs) return undefined;
      return queue.takeNext(runningOf, isReady);
    },

    started(personId) {
      runningCount++;
      runningBy.set(personId, runningOf(personId) + 1);
    },

    finished(personId) {
      runningCount--;
      runningBy.set(personId, (runningBy.get(personId) ?? 1) - 1);
    },

    positionOf,

    stopStarting() {
      isStopped = true;
    },

    get queued() {
      return queue.size;
    },
    get running() {
      return runningCount;
    },
  };
}
