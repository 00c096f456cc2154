/**
 * Admission: who may queue a job (per-person queue limit, hourly rate), which queued job starts
 * next (fair across people, within the running-jobs limit) and where a job stands in line. The
 * service asks; this module keeps the counts. `createLocalAdmission` keeps them in this process;
 * a distributed implementation keeps them where every worker sees them.
 */
import { FairQueue } from "./scheduler.ts";
import { SlidingWindowRateLimit } from "./rate-limit.ts";
import type { JobLimits } from "./limits.ts";
import type { Person, Refusal } from "./types.ts";

const HOUR_MS = 60 * 60 * 1000;

export interface Admission {
  /** A stored job seen at start: its creation counts toward the rate; unfinished ones queue again. */
  restore(jobId: string, personId: string, createdAtMs: number, state: "running" | "queued" | "finished", nowMs: number): void;
  /** A new job: refuses when the person's queue is full or their hourly rate is used up; else counts it. */
  admitNew(person: Person, atMs: number): Refusal | null;
  /** Gives back what admitNew counted, for a job that then could not be stored. */
  undoNew(personId: string, atMs: number): void;
  /** A continued job: only the queue limit applies (continue is not a new job for the rate). */
  admitContinue(requester: Person): Refusal | null;
  enqueue(jobId: string, personId: string): void;
  remove(jobId: string): void;
  /** The next job to start, when a running slot is free. */
  takeNext(): string | undefined;
  /** A job of this person runs from now until `finished`. */
  started(personId: string): void;
  finished(personId: string): void;
  /** 0: starts now; n ≥ 1: n-th in line; null: not queued. No slot is free while draining. */
  positionOf(jobId: string, isDraining: boolean): number | null;
  readonly queued: number;
  readonly running: number;
}

export function createLocalAdmission(limits: JobLimits): Admission {
  const queue = new FairQueue();
  const runningBy = new Map<string, number>();
  const rateLimit = new SlidingWindowRateLimit(limits.rateLimitPerHour);
  let runningCount = 0;
  const runningOf = (personId: string): number => runningBy.get(personId) ?? 0;

  return {
    restore(jobId, personId, createdAtMs, state, nowMs) {
      if (createdAtMs > nowMs - HOUR_MS) rateLimit.record(personId, createdAtMs);
      if (state !== "finished") queue.enqueue(jobId, personId, { isResumed: state === "running" });
    },

    admitNew(person, atMs) {
      const waiting = queue.countFor(person.id);
      if (waiting >= limits.maxQueuedPerPerson) {
        return refusal(
          "queue-full",
          `You already have ${waiting} job${waiting === 1 ? "" : "s"} waiting; the limit is ${limits.maxQueuedPerPerson}. Wait for one to start, or stop one.`,
        );
      }
      const rate = rateLimit.take(person.id, atMs);
      if (!rate.isAllowed) {
        const minutes = Math.max(1, Math.ceil(rate.retryAfterMs / 60_000));
        return refusal(
          "rate-limited",
          `You have started ${limits.rateLimitPerHour} jobs in the last hour, the limit. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
        );
      }
      return null;
    },

    undoNew(personId, atMs) {
      rateLimit.undo(personId, atMs);
    },

    admitContinue(requester) {
      const waiting = queue.countFor(requester.id);
      if (waiting < limits.maxQueuedPerPerson) return null;
      return refusal(
        "queue-full",
        `${requester.name} already has ${waiting} jobs waiting; the limit is ${limits.maxQueuedPerPerson}. Try again when one has started.`,
      );
    },

    enqueue: (jobId, personId) => queue.enqueue(jobId, personId),
    remove: (jobId) => void queue.remove(jobId),

    takeNext() {
      if (runningCount >= limits.maxRunningJobs) return undefined;
      return queue.takeNext(runningOf);
    },

    started(personId) {
      runningCount++;
      runningBy.set(personId, runningOf(personId) + 1);
    },

    finished(personId) {
      runningCount--;
      runningBy.set(personId, (runningBy.get(personId) ?? 1) - 1);
    },

    positionOf(jobId, isDraining) {
      if (!queue.has(jobId)) return null;
      const index = queue.order(runningOf).indexOf(jobId);
      const free = isDraining ? 0 : Math.max(0, limits.maxRunningJobs - runningCount);
      return index < free ? 0 : index - free + 1;
    },

    get queued() {
      return queue.size;
    },
    get running() {
      return runningCount;
    },
  };

  function refusal(reason: Refusal["reason"], message: string): Refusal {
    return { ok: false, reason, message };
  }
}
