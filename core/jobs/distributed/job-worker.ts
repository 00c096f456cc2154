/**
 * The worker role: takes runs from BullMQ, claims each job in PostgreSQL (an owner token that
 * fences out any worker that lost it), runs the loop over its memory with JobRunner.run, and
 * reports its capacity so positions in line are right. A drained worker hands its jobs back to
 * the queue; a worker that lost a job to another (its lock lapsed) stops without a word, since
 * the job goes on elsewhere.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Job as BullJob, Worker } from "bullmq";
import { waitAtMost } from "../../bounded-wait.ts";
import { createRepeatedErrorLog } from "../../logger.ts";
import { isFinished } from "../job-actions.ts";
import type { JobRunner } from "../job-runner.ts";
import type { Job, JobTable } from "../job-table.ts";
import type { JobLimits } from "../limits.ts";
import type { PostgresJobStore } from "../postgres/job-store.ts";
import type { ServiceCore } from "../service-core.ts";
import { commitVotesChanged } from "../voting.ts";
import { DEFAULT_LOCK_MS, HandedBackError, createJobWorker, type RunRequest } from "./bullmq-queue.ts";
import type { Control } from "./control.ts";
import type { RecordCache } from "./record-cache.ts";
import type { DistributedAdmission } from "./redis-admission.ts";
import type { RedisLink } from "./redis.ts";

const HEARTBEAT_MS = 5_000;
/** How long a closing worker waits for BullMQ (that is, for Redis) before it stops waiting. */
const WORKER_CLOSE_MS = 5_000;

export interface WorkerHost {
  instance: string;
  /** Whether this process also answers the API (role all): it keeps the records it ran. */
  isSurfaces: boolean;
  redis: RedisLink;
  store: PostgresJobStore;
  table: JobTable;
  admission: DistributedAdmission;
  runner: JobRunner;
  cache: RecordCache;
  control: Control;
  core: Pick<ServiceCore, "state" | "every" | "commit">;
  limits: JobLimits;
  log: Logger;
  lockMs?: number;
}

export interface JobWorker {
  start(): Promise<void>;
  /** Drain: waits for the processors to hand their jobs back. Close (`force`): at once. */
  close(force: boolean): Promise<void>;
}

export function createWorkerRole(host: WorkerHost): JobWorker {
  const { table, store, admission, runner, cache, control, log } = host;
  const { state } = host.core;
  /** Per job: the newest processor call for it in this process; older ones give way to it. */
  const processing = new Map<string, Promise<void>>();
  let worker: Worker<RunRequest> | undefined;

  /**
   * A worker whose event loop stalled past the lock can be handed its own job again (even more
   * than once) while the first run still goes on. Calls for one job form a chain: each waits for
   * the one before it, which pauses at its next step boundary, and only the newest claims and
   * runs the job; one that a newer call superseded while it waited ends without running. So one
   * process never runs a job twice at once (both runs would write under its one claim token).
   */
  async function processRun(bullJob: BullJob<RunRequest>, token?: string): Promise<void> {
    const { jobId } = bullJob.data;
    const prior = processing.get(jobId);
    const isNewest = (): boolean => processing.get(jobId) === current;
    if (prior) table.get(jobId)?.run?.pause.abort();
    const current: Promise<void> = (prior ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => (isNewest() ? processOnce(jobId, isNewest) : undefined));
    processing.set(jobId, current);
    // BullMQ renews locks by job id: the earlier call's end stopped the renewal of this call's lock.
    const renewal = prior && token ? renewLock(bullJob, token) : undefined;
    try {
      await current;
    } finally {
      clearInterval(renewal);
      if (isNewest()) processing.delete(jobId);
    }
  }

  function renewLock(bullJob: BullJob<RunRequest>, token: string): NodeJS.Timeout {
    const lockMs = host.lockMs ?? DEFAULT_LOCK_MS;
    const timer = setInterval(() => {
      void bullJob.extendLock(token, lockMs).catch((error: unknown) => log.warn({ err: error, jobId: bullJob.data.jobId }, "could not renew a job's lock"));
    }, Math.max(100, Math.floor(lockMs / 2)));
    timer.unref();
    return timer;
  }

  async function processOnce(jobId: string, isNewest: () => boolean): Promise<void> {
    if (state.isDraining || state.isClosed) throw new HandedBackError("this worker is stopping");
    await admission.taken(jobId);
    const claimed = await store.claim(jobId, `${host.instance}/${randomUUID().slice(0, 8)}`);
    if (!claimed) return;
    try {
      const cached = table.get(jobId);
      const job = cached ?? table.add(claimed);
      // The claimed record is the truth now, also for what a cached copy had seen.
      if (cached) cache.adopt(cached, claimed);
      if (isFinished(job.record.trajectory.status)) {
        // Feedback that came as the job ended stays pending when the worker that ended it was
        // killed, or fenced out by this claim, before applying it: applied here.
        if (job.record.pendingFeedback.length > 0) await runner.applyLeftoverFeedback(job);
        return;
      }
      control.runStarts(job);
      const stop = await control.stopOf(jobId);
      if (stop) {
        await control.applyStopToIdle(job, stop);
        return;
      }
      // Handed this job again meanwhile: the newer call runs it once this one has ended.
      if (!isNewest()) return;
      const running = runner.run(job);
      // A stop asked between the check above and the run's start is seen here.
      control.applyStopToRun(job).catch((error: unknown) => log.warn({ err: error, jobId }, "could not check for a stop request"));
      await running;
      // A run whose last write was refused may hold a finish that was never stored (the record
      // is changed before it is written): what follows a stored finish is not this worker's to do.
      if (!isFinished(job.record.trajectory.status) || !store.holds(jobId)) {
        if (state.isClosed) return;
        // Lost to another worker (fenced), or paused by a drain: either way the job goes on elsewhere.
        if (state.isDraining) throw new HandedBackError("handed back by a draining worker");
        // Paused for a newer call for this job in this process, which runs it now.
        if (!isNewest()) return;
        log.warn({ jobId }, "a run ended without finishing its job; another worker has taken it over");
        await reloadAfterLoss(job);
        return;
      }
      await control.clearStop(jobId);
      await control.mergePendingFromStore(job);
      if (job.record.pendingFeedback.length > 0) await runner.applyLeftoverFeedback(job);
      // A vote stored between this run's last read of the votes and its job.done is in neither: show it.
      await commitVotesChanged(job, host.core.commit).catch((error: unknown) => log.warn({ err: error, jobId }, "could not show the votes cast as the job ended"));
    } finally {
      control.runEnds(jobId);
      store.release(jobId, { forget: !host.isSurfaces });
      if (!host.isSurfaces) table.forget(jobId);
    }
  }

  /** After losing a job the cached record may hold steps that were never stored: read it again. */
  async function reloadAfterLoss(job: Job): Promise<void> {
    if (!host.isSurfaces) return;
    const fresh = await store.get(job.record.jobId);
    if (fresh) cache.adopt(job, fresh);
  }

  const heartbeat = (): Promise<void> => admission.heartbeat(host.instance, host.limits.maxRunningJobs);
  let hasGivenUpClosing = false;

  return {
    async start() {
      await heartbeat();
      host.core.every(HEARTBEAT_MS, heartbeat, "could not report worker capacity");
      worker = createJobWorker(host.redis, processRun, { concurrency: host.limits.maxRunningJobs, lockMs: host.lockMs });
      // While Redis is down BullMQ reports every reconnect attempt.
      worker.on("error", createRepeatedErrorLog(log, "the queue worker reported an error"));
      // While the database is away every attempt fails the same way, every couple of seconds.
      const reportFailedRun = createRepeatedErrorLog(log, "a queued run failed");
      worker.on("failed", (bullJob, error) => {
        if (!(error instanceof HandedBackError)) reportFailedRun(error, { jobId: bullJob?.data.jobId });
      });
      void worker.run().catch((error: unknown) => log.error({ err: error }, "the queue worker stopped"));
    },

    async close(force) {
      if (!worker || hasGivenUpClosing) return;
      // With Redis gone, BullMQ's close waits for it to come back. Nothing is lost by not
      // waiting: the jobs' locks lapse and another worker (or this one, restarted) takes them.
      const closing = worker.close(force).catch((error: unknown) => log.warn({ err: error }, "the queue worker did not close cleanly"));
      if ((await waitAtMost(closing, WORKER_CLOSE_MS)).isDone) return;
      // A second close (drain, then close) would only wait for the same answer again.
      hasGivenUpClosing = true;
      log.warn("the queue did not answer while closing (is Redis down?); the jobs' locks lapse and other workers resume them");
    },
  };
}
