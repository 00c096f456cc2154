/**
 * A process's copy of the jobs in PostgreSQL. A surfaces process answers the API and delivers
 * events from the JobTable; this keeps that table current: a job is read again when a worker
 * says it changed (the wake-up message), when a poll of recently written jobs finds it (the
 * safety net for a lost message), and before any action on it. Reads of one job never run
 * twice at once; calls made meanwhile share one more read. It also claims a job for a change
 * made outside a run (the claim fences out a worker that still thinks it runs it).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { GemsError } from "../../errors.ts";
import type { Delivery } from "../event-delivery.ts";
import { isFinished } from "../job-actions.ts";
import type { Job, JobTable } from "../job-table.ts";
import type { JobSince, PostgresJobStore } from "../postgres/job-store.ts";
import type { JobRecord } from "../types.ts";

/** Changes land in PostgreSQL with its clock; a poll looks back this far to miss none near the edge. */
const POLL_OVERLAP_MS = 3_000;
/** A wait for a job to finish also reads it again this often: the wake-up may have been missed. */
const FINISH_RECHECK_MS = 1_000;

export interface RecordCacheHost {
  table: JobTable;
  store: PostgresJobStore;
  delivery: Delivery;
  log: Logger;
  instance: string;
  isClosed(): boolean;
  /** A poll found (and read) the jobs changed since the last one. */
  polled(): void;
}

export interface RecordCache {
  /** Reads the job again into the table (adds it when new here, forgets it when deleted). */
  reload(jobId: string): Promise<void>;
  /** The poll's starting point: everything changed from about now on. */
  startPollingFrom(at: Date): void;
  poll(): Promise<void>;
  /** A record this process was handed (claimed, or read after losing a job) is the truth now. */
  adopt(job: Job, fresh: JobRecord): void;
  /** Claims the job, refreshes the record from what is stored, runs `task`, releases the claim. */
  withClaim<T>(job: Job, task: () => Promise<T>): Promise<T>;
  /** Resolves true when the job's record (as known here) is finished, false after the timeout. */
  waitForFinish(jobId: string, timeoutMs: number): Promise<boolean>;
  /** The job's record changed here: wake whoever waits for it to finish. */
  changed(jobId: string): void;
}

export function createRecordCache(host: RecordCacheHost): RecordCache {
  const { table, store, delivery, log } = host;
  const reloading = new Map<string, { again: boolean; done: Promise<void> }>();
  /** Waiters for a job to reach a finished state (stop and pick of a job a worker runs). */
  const finishWaiters = new Map<string, Set<() => void>>();
  let pollSince: Date | null = null;

  function reload(jobId: string): Promise<void> {
    const current = reloading.get(jobId);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      do {
        entry.again = false;
        await reloadOnce(jobId).catch((error: unknown) => log.warn({ err: error, jobId }, "could not refresh a job from the database"));
      } while (entry.again && !host.isClosed());
    })().finally(() => reloading.delete(jobId));
    reloading.set(jobId, entry);
    return entry.done;
  }

  async function reloadOnce(jobId: string): Promise<void> {
    const job = table.get(jobId);
    if (job && isMine(job)) return;
    if (!job) {
      const fresh = await store.get(jobId);
      if (!fresh || table.get(jobId) || host.isClosed()) return;
      table.add(fresh);
      delivery.kick(jobId);
      changed(jobId);
      return;
    }
    await table.withLock(job, async () => {
      if (isMine(job)) return;
      // Only what is new: events never change once stored, and a job that ran for a while has
      // many, which every commit would otherwise read and check again.
      const since = await store.getSince(jobId, job.record.events.length);
      if (!since) {
        table.forget(jobId);
        return;
      }
      if (isMine(job)) return;
      mergeNewer(job.record, since);
    });
    delivery.kick(jobId);
    changed(jobId);
  }

  /**
   * This process runs the job, or holds its claim (before and after a run, or to change it
   * outside one): its record is the newest there is, and it has not been written in the form a
   * read gives back (the store compares a non-owner's writes with what it last read or wrote).
   */
  function isMine(job: Job): boolean {
    return job.run !== null || store.holds(job.record.jobId);
  }

  /** A newer read joins the copy; steps only move forward, cursors never back. */
  function merge(record: JobRecord, fresh: JobRecord): void {
    if (fresh.events.length >= record.events.length) {
      record.events = fresh.events;
      record.trajectory = fresh.trajectory;
      record.finishedAt = fresh.finishedAt;
    }
    mergeShared(record, fresh);
  }

  /** merge() for a read of the events after the first `knownEvents` only. */
  function mergeNewer(record: JobRecord, { record: fresh, knownEvents, storedEvents }: JobSince): void {
    if (storedEvents >= record.events.length && storedEvents >= knownEvents) {
      record.events = [...record.events.slice(0, knownEvents), ...fresh.events];
      record.trajectory = fresh.trajectory;
      record.finishedAt = fresh.finishedAt;
    }
    mergeShared(record, fresh);
  }

  /** What any process may change: taken as read, except cursors, which only move forward. */
  function mergeShared(record: JobRecord, fresh: JobRecord): void {
    record.requester = fresh.requester;
    record.surfaceRef = fresh.surfaceRef;
    record.pendingFeedback = fresh.pendingFeedback;
    record.votes = fresh.votes ?? [];
    for (const [surface, seq] of Object.entries(fresh.cursors)) record.cursors[surface] = Math.max(record.cursors[surface] ?? 0, seq);
  }

  function adopt(job: Job, fresh: JobRecord): void {
    job.record.trajectory = fresh.trajectory;
    job.record.events = fresh.events;
    merge(job.record, fresh);
  }

  function changed(jobId: string): void {
    const waiters = finishWaiters.get(jobId);
    if (!waiters) return;
    for (const wake of [...waiters]) wake();
  }

  async function waitForFinish(jobId: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !host.isClosed()) {
      const record = table.get(jobId)?.record;
      if (record && isFinished(record.trajectory.status)) return true;
      await new Promise<void>((resolve) => {
        const waiters = finishWaiters.get(jobId) ?? new Set();
        finishWaiters.set(jobId, waiters);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(done);
          if (waiters.size === 0) finishWaiters.delete(jobId);
          resolve();
        };
        const timer = setTimeout(() => void reload(jobId).finally(done), FINISH_RECHECK_MS);
        waiters.add(done);
      });
    }
    const record = table.get(jobId)?.record;
    return record !== undefined && isFinished(record.trajectory.status);
  }

  return {
    reload,
    adopt,
    changed,
    waitForFinish,

    startPollingFrom(at) {
      pollSince = new Date(at.getTime() - POLL_OVERLAP_MS);
    },

    async poll() {
      const found = await store.changedSince(pollSince);
      pollSince = new Date(found.now.getTime() - POLL_OVERLAP_MS);
      await Promise.all(found.jobIds.map((jobId) => reload(jobId)));
      host.polled();
    },

    async withClaim(job, task) {
      const { jobId } = job.record;
      const claimed = await store.claim(jobId, `${host.instance}/surfaces/${randomUUID().slice(0, 8)}`);
      if (!claimed) throw new GemsError(`Job ${jobId} is no longer stored.`, "not-found");
      adopt(job, claimed);
      try {
        return await task();
      } catch (error) {
        // A write the task made may have been refused (a worker claimed the job meanwhile): the
        // record must not keep a step that is not stored, or it would be shown, and outlive
        // every later read (a read joins only when it has at least as many events).
        store.release(jobId);
        const stored = await store.get(jobId).catch(() => undefined);
        if (stored) adopt(job, stored);
        throw error;
      } finally {
        store.release(jobId);
      }
    },
  };
}
