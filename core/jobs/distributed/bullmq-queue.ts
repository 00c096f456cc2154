/**
 * The queue of jobs to run, in BullMQ. One BullMQ job per GEMS job waiting to run (id `g-<jobId>`,
 * data `{ jobId }`); its priority is the fair-queuing tag from redis-admission.ts. The GEMS job's
 * state is in PostgreSQL; BullMQ only decides which worker runs it, and hands it to another
 * worker when the first dies.
 *
 * Lock settings (GEMS_JOB_LOCK_MS, default 10 s): a worker holds a lock on each job it runs and
 * renews it every lockDuration / 2. A worker killed with -9 stops renewing; once the lock expired,
 * the next stalled check (every stalledInterval = lockDuration / 2, run by every worker) moves
 * the job back to the queue and another worker resumes it from memory. So recovery takes about
 * lockDuration to 2 × lockDuration. Shorter is quicker but risks a busy worker losing a job it
 * still runs (its event loop blocked for lockDuration / 2); that is safe, not just unlikely:
 * the PostgreSQL owner token fences the old worker's writes out (LostJobError), so no step is
 * committed twice. 10 s is far above any synchronous stretch in a worker (the sim's PNG render
 * is milliseconds; real models are network calls).
 *
 * maxStalledCount is effectively unlimited: a stall here means a crashed worker or a lock that
 * lapsed under load, and the job loses nothing by it (it resumes from its last committed step).
 * A job BullMQ fails for stalling is never run again while its record still says running, so any
 * limit (BullMQ's default of 1, or 100, which a loaded machine with a short lock reaches) is a
 * job stuck for good. A drained worker hands its jobs back by failing the attempt
 * (attempts are effectively unlimited), which requeues them at once, as is any other failed
 * attempt, except one that failed because the database is away (the job could not be claimed):
 * that one is tried again after a couple of seconds, not in a loop of hundreds a second.
 */
import { Queue, Worker, type Job as BullJob } from "bullmq";
import { isStoreAway } from "../../memory/storage-errors.ts";
import type { RedisLink } from "./redis.ts";

export const QUEUE_NAME = "jobs";
export const DEFAULT_LOCK_MS = 10_000;
const MAX_STALLED = 1_000_000;
const ATTEMPTS = 1_000_000;
/** The backoff type of every run; `retryDelayMs` decides the delay. */
const RETRY_BACKOFF = "gems";
const FAILED_RUN_RETRY_MS = 2_000;

/** A worker that drains hands its job back to the queue by failing the attempt with this. */
export class HandedBackError extends Error {
  override readonly name = "HandedBackError";
}

/** An attempt that met the database away waits a little, with jitter; any other goes back at once. */
export function retryDelayMs(error: Error | undefined): number {
  if (!isStoreAway(error)) return 0;
  return Math.round(FAILED_RUN_RETRY_MS * (0.75 + Math.random() / 2));
}

export interface RunRequest {
  jobId: string;
}

export type JobQueue = Queue<RunRequest>;

/** BullMQ refuses ids that look like integers; GEMS ids can be all digits. */
export const queueJobId = (jobId: string): string => `g-${jobId}`;

export function createJobQueue(link: RedisLink): Queue<RunRequest> {
  return new Queue<RunRequest>(QUEUE_NAME, {
    connection: link.duplicate(),
    prefix: link.prefix,
    defaultJobOptions: { attempts: ATTEMPTS, backoff: { type: RETRY_BACKOFF }, removeOnComplete: true, removeOnFail: 1000 },
  });
}

/** Adds the job unless it is already queued or running (BullMQ ignores a second add of an id). */
export async function enqueueRun(queue: Queue<RunRequest>, jobId: string, priority: number): Promise<void> {
  await queue.add("run", { jobId }, { jobId: queueJobId(jobId), priority });
}

export function createJobWorker(
  link: RedisLink,
  processor: (job: BullJob<RunRequest>) => Promise<void>,
  options: { concurrency: number; lockMs?: number },
): Worker<RunRequest> {
  const lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
  return new Worker<RunRequest>(QUEUE_NAME, processor, {
    connection: link.duplicate(),
    prefix: link.prefix,
    concurrency: options.concurrency,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
    maxStalledCount: MAX_STALLED,
    settings: { backoffStrategy: (_attempts: number, _type?: string, error?: Error) => retryDelayMs(error) },
    autorun: false,
  });
}
