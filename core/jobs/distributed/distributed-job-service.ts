/**
 * The job service scaled out: the same JobService API, with jobs queued in BullMQ, run by any
 * number of worker processes, and every record, event, cursor and image in PostgreSQL.
 *
 *   surfaces role: answers the API. Keeps every job's record in memory (JobTable) as a cache of
 *     PostgreSQL, refreshed when a worker says a job changed (Redis pub/sub "wake" message, with
 *     a poll of recently written jobs as the safety net), and delivers events to its surfaces
 *     from that cache, moving cursors in PostgreSQL. Submits go through Redis admission and into
 *     the BullMQ queue. Stop and pick of a running job are asked of the worker that runs it.
 *   worker role: takes jobs from BullMQ, claims each in PostgreSQL (owner token), runs the loop
 *     over its memory with the generator and MLLM limits held in Redis, and publishes "wake" after
 *     every commit.
 *   all: both in one process.
 *
 * Who writes what: a job's memory and events are written only by the process that claimed it
 * (a worker running it, or a surfaces process changing a job no worker holds); others add
 * feedback rows, move cursors and change the surface reference (see postgres/job-store.ts).
 */
import { costViewOf, NO_PRICES, type PriceTable, type QuotaCheck } from "../usage-ledger.ts";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Job as BullJob, Queue, Worker } from "bullmq";
import { applyFeedback, bestView } from "../../agent/run-job.ts";
import { MAX_REFERENCE_IMAGES, parseRefineMode, validateFeedbackText, validateJobRequest, type JobRequestInput } from "../../agent/request.ts";
import { GemsError, InputError, describeError } from "../../errors.ts";
import type { ImageStore } from "../../memory/stores.ts";
import { createTrajectory, REFERENCE_MODES, type LoopModes, type ModelNames } from "../../memory/trajectory.ts";
import type { ImageGenerator, Mllm } from "../../models/ports.ts";
import { sleepUnlessAborted, type Sleep } from "../../models/retry.ts";
import type { SkillLibrary } from "../../skills/types.ts";
import { createLocalAdmission } from "../admission.ts";
import { EventDelivery } from "../event-delivery.ts";
import { applyContinue, applyPick, continueProblem, isFinished, pickProblem } from "../job-actions.ts";
import { createCommitter } from "../job-commit.ts";
import { createJobRunner } from "../job-runner.ts";
import { JobTable, type Job } from "../job-table.ts";
import type { JobLimits } from "../limits.ts";
import { limitGenerator, limitMllm } from "../limited-models.ts";
import { MODEL_CALL_BUCKETS_SECONDS, ModelCallStats } from "../model-call-stats.ts";
import { checkControl } from "../permissions.ts";
import { notePreference } from "../voting.ts";
import { VOTE_ACTIONS, countVotes } from "../votes.ts";
import { LostJobError, type PostgresJobStore } from "../postgres/job-store.ts";
import { createSweeper } from "../sweeper.ts";
import type {
  FeedbackResult,
  JobRecord,
  JobService,
  JobStatus,
  JobSummary,
  PendingFeedback,
  Refusal,
  RefusalReason,
  Result,
  StartReport,
} from "../types.ts";
import { createJobQueue, createJobWorker, enqueueRun, queueJobId, type RunRequest } from "./bullmq-queue.ts";
import { createRedisAdmission } from "./redis-admission.ts";
import { createRedisSlots } from "./redis-slots.ts";
import type { RedisLink } from "./redis.ts";

export type ServiceRole = "all" | "surfaces" | "worker";

export interface DistributedJobServiceDeps {
  role: ServiceRole;
  /** This process's name in logs, metrics and owner tokens, e.g. "host-1:4242". */
  instance: string;
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  images: ImageStore;
  /** Shared mode (`isShared: true`); the service closes it. */
  store: PostgresJobStore;
  /** The service closes it. */
  redis: RedisLink;
  limits: JobLimits;
  logger: Logger;
  /** BullMQ lock duration (GEMS_JOB_LOCK_MS); see bullmq-queue.ts. */
  lockMs?: number;
  /** How often a surfaces process looks for jobs changed without a wake-up reaching it. */
  pollIntervalMs?: number;
  /** How long stop and pick wait for the worker running the job. */
  controlTimeoutMs?: number;
  now?: () => Date;
  sleep?: Sleep;
  sweepIntervalMs?: number;
  createJobId?: () => string;
  /** How new jobs verify and refine (stored with each job); default the reference loop. */
  modes?: LoopModes;
  /** How the models are named in trajectories and image provenance; default the ports' names. */
  modelNames?: ModelNames;
  /** Daily quotas (usage-ledger.ts): asked at submit and before each iteration; a message refuses or stops. */
  quota?: QuotaCheck;
  /** Prices for the cost put on each job's final event; default none (tokens and images only). */
  prices?: PriceTable;
}

export interface DistributedJobService extends JobService {
  readonly role: ServiceRole;
  readonly instance: string;
}

type StopRequest = { kind: "cancel" } | { kind: "pick"; iteration: number };
type ControlMessage = { type: "stop"; jobId: string } | { type: "feedback"; jobId: string } | { type: "vote"; jobId: string };

const HOUR_MS = 60 * 60 * 1000;
const HEARTBEAT_MS = 5_000;
const POLL_OVERLAP_MS = 3_000;
const STOP_FLAG_TTL_S = 24 * 60 * 60;

const refuse = (reason: RefusalReason, message: string): Refusal => ({ ok: false, reason, message });
const storageRefusal = (error: unknown, what: string): Refusal =>
  refuse("storage", error instanceof GemsError ? error.message : `Could not save ${what}: ${describeError(error)}`);
const pendingKey = (p: PendingFeedback): string => `${p.receivedAt}\u0000${p.text}`;

/** A worker that drains hands its job back to the queue by failing the attempt with this. */
class HandedBackError extends Error {
  override readonly name = "HandedBackError";
}

export function createDistributedJobService(deps: DistributedJobServiceDeps): DistributedJobService {
  const { role, instance, limits, store, skills, images, redis } = deps;
  const isSurfaces = role !== "worker";
  const isWorker = role !== "surfaces";
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? sleepUnlessAborted;
  const log = deps.logger.child({ component: "jobs", role, instance });
  const createJobId = deps.createJobId ?? (() => randomUUID().replaceAll("-", "").slice(0, 12));
  const controlTimeoutMs = deps.controlTimeoutMs ?? 30_000;
  const wakeChannel = redis.key("wake");
  const controlChannel = redis.key("control");
  const stopKey = (jobId: string): string => redis.key("stop", jobId);

  const admission = createRedisAdmission(redis, limits);
  const generatorSlots = createRedisSlots(redis, "generator", limits.generatorConcurrency);
  const mllmSlots = createRedisSlots(redis, "mllm", limits.mllmConcurrency);
  const modelCalls = new ModelCallStats();
  const mllm = limitMllm(deps.mllm, mllmSlots, modelCalls);
  const generator = limitGenerator(deps.generator, generatorSlots, modelCalls);
  // Counts this process's runs for metrics; BullMQ's concurrency is what limits them.
  const localRuns = createLocalAdmission(limits);
  // Created at start: a BullMQ queue connects at once, and a service closed unstarted must not leave that half done.
  let queueInstance: Queue<RunRequest> | undefined;
  const queueOf = (): Queue<RunRequest> => (queueInstance ??= createJobQueue(redis));
  let worker: Worker<RunRequest> | undefined;

  let isStarted = false;
  let isDraining = false;
  let isClosed = false;
  const timers: NodeJS.Timeout[] = [];
  let draining: Promise<void> | undefined;
  /** Per job this worker runs: every pending feedback key it has seen, so applied ones never return. */
  const seenPending = new Map<string, Set<string>>();
  /** Waiters for a job to reach a finished state (stop and pick of a job a worker runs). */
  const finishWaiters = new Map<string, Set<() => void>>();

  const table = new JobTable(store, () => isClosed);
  const delivery = new EventDelivery({
    record: (jobId) => table.get(jobId)?.record,
    jobIds: () => table.ids(),
    cursorMoved: (jobId) => {
      const job = table.get(jobId);
      if (job) void table.persist(job).catch((error: unknown) => log.warn({ err: error, jobId }, "could not store a delivery cursor"));
    },
    sleep,
    logger: log,
  });
  // What a job spent goes on its final event, priced by the models its trajectory names.
  const usageModels = deps.modelNames ?? { mllm: deps.mllm.name, generator: deps.generator.name };
  const { commit, commitOrRestore } = createCommitter({
    ...(limits.resultBy ? { resultBy: limits.resultBy } : {}),
    usageOf: (t) => costViewOf(t, usageModels, deps.prices ?? NO_PRICES),
    table,
    now,
    logger: log,
    isClosed: () => isClosed,
    committed: (jobId) => {
      delivery.kick(jobId);
      notifyFinished(jobId);
      void redis.commands.publish(wakeChannel, jobId).catch((error: unknown) => log.warn({ err: error, jobId }, "could not announce a commit"));
    },
  });
  const runner = createJobRunner({
    mllm,
    generator,
    skills,
    images,
    limits,
    table,
    admission: localRuns,
    logger: log,
    agentLogger: deps.logger,
    ...(deps.modelNames ? { modelNames: deps.modelNames } : {}),
    ...(deps.quota ? { quota: deps.quota } : {}),
    now,
    sleep,
    commit: async (job, t, events) => {
      rememberPending(job);
      // Votes are cast in any process: the job's end counts them as stored now.
      if (events.some((e) => e.type === "job.done")) job.record.votes = await store.votesOf(job.record.jobId);
      return commit(job, t, events);
    },
    eventsAdded: (jobId) => delivery.kick(jobId),
    isTakingWork: () => false,
    isDraining: () => isDraining,
    isClosed: () => isClosed,
    // The processor that started the run decides what comes next.
    runEnded: () => undefined,
    // A worker that lost its job must not announce a failure: the job goes on elsewhere.
    shouldRecordUnstoredFailure: (error) => !isLost(error),
  });
  const sweepAt = createSweeper({ table, images, retentionDays: limits.retentionDays, logger: log });

  function isLost(error: unknown): boolean {
    for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof LostJobError) return true;
    return false;
  }

  // ---- the cache of records (surfaces) ----------------------------------------------------

  const reloading = new Map<string, { again: boolean; done: Promise<void> }>();

  /** Re-reads a job from PostgreSQL into the table; calls made meanwhile share one more read. */
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
      } while (entry.again && !isClosed);
    })().finally(() => reloading.delete(jobId));
    reloading.set(jobId, entry);
    return entry.done;
  }

  async function reloadOnce(jobId: string): Promise<void> {
    const job = table.get(jobId);
    // This process runs it: its record is the newest there is.
    if (job?.run) return;
    if (!job) {
      const fresh = await store.get(jobId);
      if (!fresh || table.get(jobId) || isClosed) return;
      table.add(fresh);
      delivery.kick(jobId);
      notifyFinished(jobId);
      return;
    }
    await table.withLock(job, async () => {
      if (job.run) return;
      const fresh = await store.get(jobId);
      if (!fresh) {
        table.forget(jobId);
        return;
      }
      merge(job.record, fresh);
    });
    delivery.kick(jobId);
    notifyFinished(jobId);
  }

  function merge(record: JobRecord, fresh: JobRecord): void {
    if (fresh.events.length >= record.events.length) {
      record.events = fresh.events;
      record.trajectory = fresh.trajectory;
      record.finishedAt = fresh.finishedAt;
    }
    record.requester = fresh.requester;
    record.surfaceRef = fresh.surfaceRef;
    record.pendingFeedback = fresh.pendingFeedback;
    record.votes = fresh.votes ?? [];
    for (const [surface, seq] of Object.entries(fresh.cursors)) record.cursors[surface] = Math.max(record.cursors[surface] ?? 0, seq);
  }

  let positionsTimer: NodeJS.Timeout | undefined;
  function refreshPositionsSoon(): void {
    if (positionsTimer || isClosed) return;
    positionsTimer = setTimeout(() => {
      positionsTimer = undefined;
      void refreshPositions();
    }, 100);
    positionsTimer.unref();
  }
  async function refreshPositions(): Promise<void> {
    try {
      await admission.refreshPositions(await queueOf().getActiveCount());
    } catch (error) {
      log.warn({ err: error }, "could not read queue positions");
    }
  }

  let pollSince: Date | null = null;
  async function poll(): Promise<void> {
    const changed = await store.changedSince(pollSince);
    pollSince = new Date(changed.now.getTime() - POLL_OVERLAP_MS);
    await Promise.all(changed.jobIds.map((jobId) => reload(jobId)));
    refreshPositionsSoon();
  }

  function notifyFinished(jobId: string): void {
    const waiters = finishWaiters.get(jobId);
    if (!waiters) return;
    for (const wake of [...waiters]) wake();
  }

  /** Resolves when the job's record (as this process knows it) is finished, or after the timeout. */
  async function waitForFinish(jobId: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !isClosed) {
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
        // Also re-read now and then: the wake-up may have been missed.
        const timer = setTimeout(() => void reload(jobId).finally(done), 1_000);
        waiters.add(done);
      });
    }
    const record = table.get(jobId)?.record;
    return record !== undefined && isFinished(record.trajectory.status);
  }

  // ---- messages between processes -------------------------------------------------------

  function onMessage(channel: string, message: string): void {
    if (channel === wakeChannel) {
      if (!isSurfaces) return;
      void reload(message);
      refreshPositionsSoon();
      return;
    }
    if (channel !== controlChannel) return;
    let control: ControlMessage;
    try {
      control = JSON.parse(message) as ControlMessage;
    } catch {
      log.warn("ignored a control message that is not JSON");
      return;
    }
    const job = table.get(control.jobId);
    if (!job?.run) return;
    const handled = control.type === "stop" ? applyStopToRun(job) : mergePendingFromStore(job);
    handled.catch((error: unknown) => log.warn({ err: error, jobId: control.jobId }, "could not act on a control message"));
  }

  /** A stop or pick was asked for a job this process runs: abort it; the commit records the outcome. */
  async function applyStopToRun(job: Job): Promise<void> {
    const raw = await redis.commands.get(stopKey(job.record.jobId));
    const run = job.run;
    if (!raw || !run) return;
    const stop = JSON.parse(raw) as StopRequest;
    if (stop.kind === "pick") run.pickedIteration = stop.iteration;
    run.controller.abort();
  }

  /**
   * Notes the feedback a running job holds before a commit may apply (and drop) some of it, so
   * that a later read of the stored list, taken before the commit landed, cannot bring it back.
   */
  function rememberPending(job: Job): Set<string> {
    const { jobId } = job.record;
    const seen = seenPending.get(jobId) ?? new Set<string>();
    seenPending.set(jobId, seen);
    for (const entry of job.record.pendingFeedback) seen.add(pendingKey(entry));
    return seen;
  }

  /**
   * Feedback and votes added by another process to a job this one runs: they join the record
   * before the next step (where a clear team preference becomes a note, as in one process).
   */
  async function mergePendingFromStore(job: Job): Promise<void> {
    const { jobId } = job.record;
    job.record.votes = await store.votesOf(jobId);
    rememberPending(job);
    const stored = await store.pendingOf(jobId);
    const seen = rememberPending(job);
    for (const entry of stored) {
      const key = pendingKey(entry);
      if (seen.has(key)) continue;
      seen.add(key);
      job.record.pendingFeedback.push(entry);
    }
  }

  // ---- the worker -----------------------------------------------------------------------

  /** Per job: the processor call handling it in this process. */
  const processing = new Map<string, Promise<void>>();

  /**
   * A worker whose event loop stalled past the lock can be handed its own job again while the
   * first run still goes on. The first run pauses at its next step boundary and ends before the
   * second claims the job, so one process never runs a job twice at once.
   */
  async function processRun(bullJob: BullJob<RunRequest>): Promise<void> {
    const { jobId } = bullJob.data;
    const prior = processing.get(jobId);
    if (prior) {
      table.get(jobId)?.run?.pause.abort();
      await prior.catch(() => undefined);
    }
    const current = processOnce(bullJob);
    processing.set(jobId, current);
    try {
      await current;
    } finally {
      if (processing.get(jobId) === current) processing.delete(jobId);
    }
  }

  async function processOnce(bullJob: BullJob<RunRequest>): Promise<void> {
    const { jobId } = bullJob.data;
    if (isDraining || isClosed) throw new HandedBackError("this worker is stopping");
    await admission.taken(jobId);
    const token = `${instance}/${randomUUID().slice(0, 8)}`;
    const claimed = await store.claim(jobId, token);
    if (!claimed) return;
    try {
      if (isFinished(claimed.trajectory.status)) return;
      let job = table.get(jobId);
      if (job) merge(job.record, claimed);
      else job = table.add(claimed);
      // The claimed record is the truth now, also for what a cached copy had seen.
      job.record.trajectory = claimed.trajectory;
      job.record.events = claimed.events;
      seenPending.set(jobId, new Set(claimed.pendingFeedback.map(pendingKey)));
      const stopRaw = await redis.commands.get(stopKey(jobId));
      if (stopRaw) {
        await applyStopToIdle(job, JSON.parse(stopRaw) as StopRequest);
        return;
      }
      const running = runner.run(job);
      // A stop asked between the check above and the run's start is seen here.
      applyStopToRun(job).catch((error: unknown) => log.warn({ err: error, jobId }, "could not check for a stop request"));
      await running;
      const status = job.record.trajectory.status;
      if (!isFinished(status)) {
        if (isClosed) return;
        // Lost to another worker (fenced), or paused by a drain: either way the job goes on elsewhere.
        if (isDraining) throw new HandedBackError("handed back by a draining worker");
        log.warn({ jobId }, "a run ended without finishing its job; another worker has taken it over");
        await reloadAfterLoss(job);
        return;
      }
      await redis.commands.del(stopKey(jobId));
      await mergePendingFromStore(job);
      if (job.record.pendingFeedback.length > 0) await runner.applyLeftoverFeedback(job);
    } finally {
      seenPending.delete(jobId);
      store.release(jobId, { forget: !isSurfaces });
      if (!isSurfaces) table.forget(jobId);
    }
  }

  /** After losing a job the cached record may hold steps that were never stored: read it again. */
  async function reloadAfterLoss(job: Job): Promise<void> {
    if (!isSurfaces) return;
    const fresh = await store.get(job.record.jobId);
    if (!fresh) return;
    job.record.trajectory = fresh.trajectory;
    job.record.events = fresh.events;
    merge(job.record, fresh);
  }

  /** Stop or pick of a job that no worker runs (queued, or between workers): changed here, claimed. */
  async function applyStopToIdle(job: Job, stop: StopRequest): Promise<Refusal | null> {
    const t = structuredClone(job.record.trajectory);
    t.updatedAt = now().toISOString();
    let failed: Refusal | null;
    if (stop.kind === "pick") {
      applyPick(t, stop.iteration);
      failed = await commitOrRestore(job, t, [{ type: "job.done", best: bestView(t.best), reason: "picked" }]);
    } else {
      t.status = "cancelled";
      t.stopReason = "stopped";
      failed = await commitOrRestore(job, t, [{ type: "job.cancelled", best: bestView(t.best) }]);
    }
    if (!failed) await redis.commands.del(stopKey(job.record.jobId));
    return failed;
  }

  // ---- changing a job no worker holds (surfaces) ------------------------------------------

  /**
   * Claims the job (fencing out any worker that still thinks it runs it), refreshes the record
   * from what is stored, runs `task`, and releases the claim.
   */
  async function withClaim<T>(job: Job, task: () => Promise<T>): Promise<T> {
    const { jobId } = job.record;
    const claimed = await store.claim(jobId, `${instance}/surfaces/${randomUUID().slice(0, 8)}`);
    if (!claimed) throw new GemsError(`Job ${jobId} is no longer stored.`, "not-found");
    job.record.trajectory = claimed.trajectory;
    job.record.events = claimed.events;
    merge(job.record, claimed);
    try {
      return await task();
    } finally {
      store.release(jobId);
    }
  }

  async function fresh(jobId: string): Promise<Job | Refusal> {
    await reload(jobId);
    const job = table.get(jobId);
    if (job) return job;
    const broken = table.corrupt(jobId);
    if (broken) return refuse("corrupt", `Job ${jobId} cannot be read: ${broken.problem}`);
    return refuse("not-found", `There is no job ${jobId}. It may have finished long ago and been cleaned up.`);
  }

  function find(jobId: string): Job | Refusal {
    const job = table.get(jobId);
    if (job) return job;
    const broken = table.corrupt(jobId);
    if (broken) return refuse("corrupt", `Job ${jobId} cannot be read: ${broken.problem}`);
    return refuse("not-found", `There is no job ${jobId}. It may have finished long ago and been cleaned up.`);
  }

  const isRefusal = (value: Job | Refusal): value is Refusal => "ok" in value;

  function notTaking(): Refusal | null {
    if (isDraining || isClosed) return refuse("unavailable", "GEMS Bot is restarting. Try again in a minute.");
    if (!isStarted) return refuse("unavailable", "GEMS Bot is starting. Try again in a few seconds.");
    return null;
  }

  /** Stop or pick: directly when no worker holds the job, else asked of the worker that does. */
  async function stopJob(job: Job, stop: StopRequest): Promise<Refusal | null> {
    const { jobId } = job.record;
    await redis.commands.set(stopKey(jobId), JSON.stringify(stop), "EX", STOP_FLAG_TTL_S);
    // 1: it was waiting (or had no queue entry) and is gone from the queue; 0: a worker holds it.
    const removed = await queueOf().remove(queueJobId(jobId));
    if (removed === 1) {
      await admission.removeQueued(jobId);
      return table.withLock(job, () => withClaim(job, async () => (isFinished(job.record.trajectory.status) ? null : applyStopToIdle(job, stop))));
    }
    await redis.commands.publish(controlChannel, JSON.stringify({ type: "stop", jobId } satisfies ControlMessage));
    if (await waitForFinish(jobId, controlTimeoutMs)) return null;
    return refuse("unavailable", "The worker running this job did not answer in time. Try again in a minute.");
  }

  // ---- views ------------------------------------------------------------------------------

  function summaryOf(job: Job): JobSummary {
    const { record } = job;
    const t = record.trajectory;
    return {
      jobId: record.jobId,
      status: t.status,
      position: t.status === "queued" ? admission.positionOf(record.jobId) : null,
      requester: { ...record.requester },
      request: { ...t.request },
      iterations: t.iterations.length,
      best: t.best ? { ...t.best } : null,
      stopReason: t.stopReason,
      error: t.error,
      pendingFeedback: record.pendingFeedback.length,
      lastSeq: record.events.length,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
      finishedAt: record.finishedAt,
    };
  }

  function statusOf(job: Job): JobStatus {
    return {
      ...summaryOf(job),
      surfaceRef: structuredClone(job.record.surfaceRef),
      trajectory: structuredClone(job.record.trajectory),
      votes: countVotes(job.record.votes ?? []),
    };
  }

  const bestOf = (job: Job) => (job.record.trajectory.best ? { ...job.record.trajectory.best } : null);

  // ---- the service ------------------------------------------------------------------------

  return {
    role,
    instance,

    async start(): Promise<StartReport> {
      if (isStarted) throw new Error("The job service is already started.");
      redis.subscriber.on("message", onMessage);
      await redis.subscriber.subscribe(controlChannel, ...(isSurfaces ? [wakeChannel] : []));
      let report: StartReport = { loaded: 0, resumed: 0, corrupt: [] };
      if (isSurfaces) {
        const loaded = await store.load();
        const { now: loadedAt } = await store.changedSince(null).catch(() => ({ now: new Date() }));
        pollSince = new Date(loadedAt.getTime() - POLL_OVERLAP_MS);
        let resumed = 0;
        for (const broken of loaded.corrupt) {
          table.markCorrupt(broken);
          log.error({ jobId: broken.jobId, problem: broken.problem }, "skipped a job whose stored record is corrupt");
        }
        for (const record of loaded.records) {
          table.add(record);
          const { status } = record.trajectory;
          if (status !== "queued" && status !== "running") continue;
          resumed++;
          // A crash between storing a job and queueing it leaves it out of the queue; adding an id
          // BullMQ already has is ignored, so this is safe for jobs that are queued or running.
          await enqueueRun(queueOf(), record.jobId, 1).catch((error: unknown) => log.error({ err: error, jobId: record.jobId }, "could not queue a stored job"));
        }
        report = { loaded: loaded.records.length, resumed, corrupt: table.corruptJobs() };
        const pollTimer = setInterval(() => {
          void poll().catch((error: unknown) => log.warn({ err: error }, "could not look for changed jobs"));
        }, deps.pollIntervalMs ?? 2_000);
        pollTimer.unref();
        timers.push(pollTimer);
        const sweepTimer = setInterval(() => {
          void sweepAt(now()).catch((error: unknown) => log.error({ err: error }, "the retention sweep failed"));
        }, deps.sweepIntervalMs ?? HOUR_MS);
        sweepTimer.unref();
        timers.push(sweepTimer);
      }
      if (isWorker) {
        await admission.heartbeat(instance, limits.maxRunningJobs);
        const heartbeat = setInterval(() => {
          void admission.heartbeat(instance, limits.maxRunningJobs).catch((error: unknown) => log.warn({ err: error }, "could not report worker capacity"));
        }, HEARTBEAT_MS);
        heartbeat.unref();
        timers.push(heartbeat);
        worker = createJobWorker(redis, processRun, { concurrency: limits.maxRunningJobs, lockMs: deps.lockMs });
        worker.on("error", (error) => log.error({ err: error }, "the queue worker reported an error"));
        worker.on("failed", (bullJob, error) => {
          if (!(error instanceof HandedBackError)) log.error({ err: error, jobId: bullJob?.data.jobId }, "a queued run failed");
        });
        void worker.run().catch((error: unknown) => log.error({ err: error }, "the queue worker stopped"));
      }
      await refreshPositions();
      isStarted = true;
      if (isSurfaces) delivery.kickAll();
      log.info({ ...report, corrupt: report.corrupt.length }, "job service started");
      return report;
    },

    async submit(input: JobRequestInput, requester, surfaceRef) {
      const closed = notTaking();
      if (closed) return closed;
      if (requester.id.trim() === "") return refuse("input", "The requester has no id.");
      if (typeof surfaceRef?.surface !== "string" || surfaceRef.surface.trim() === "") return refuse("input", "The job has no surface to report to.");
      let request;
      try {
        request = validateJobRequest(input, skills, limits.defaultIterations);
      } catch (error) {
        if (error instanceof InputError) return refuse("input", error.message);
        throw error;
      }
      const overQuota = await deps.quota?.(requester, surfaceRef);
      if (overQuota) return refuse("quota", overQuota);
      let jobId = createJobId();
      while (table.has(jobId)) jobId = createJobId();
      let admitted;
      try {
        admitted = await admission.admitNew(jobId, requester);
      } catch (error) {
        log.error({ err: error }, "could not reach Redis to admit a job");
        return refuse("unavailable", "GEMS Bot cannot reach its queue right now. Try again in a minute.");
      }
      if (!admitted.ok) return admitted;
      await refreshPositions();
      const position = admission.positionOf(jobId) ?? admitted.rank;
      const at = now();
      const job = table.add({
        version: 1,
        jobId,
        requester: { id: requester.id, name: requester.name },
        surfaceRef: structuredClone(surfaceRef),
        trajectory: createTrajectory(jobId, request, at, {
          ...(deps.modes ?? REFERENCE_MODES),
          // A per-job choice (validated with the request) outranks the deployment's GEMS_REFINE_MODE.
          ...(input.refineMode !== undefined ? { refine: parseRefineMode(input.refineMode) } : {}),
        }),
        events: [],
        cursors: {},
        pendingFeedback: [],
        finishedAt: null,
      });
      try {
        await commit(job, job.record.trajectory, [{ type: "job.queued", position }]);
        await enqueueRun(queueOf(), jobId, admitted.priority);
      } catch (error) {
        // Stored but not queued is repaired at the next start; not stored leaves no trace.
        table.forget(jobId);
        await admission.undoNew(jobId, requester.id).catch(() => undefined);
        await store.delete(jobId).catch(() => undefined);
        log.error({ err: error, jobId }, "could not store or queue a new job");
        return storageRefusal(error, "the job");
      }
      log.info({ jobId, user: requester.id, position }, "job queued");
      return { ok: true, jobId, position };
    },

    async cancel(jobId, by) {
      const job = await fresh(jobId);
      if (isRefusal(job)) return job;
      const denied = checkControl("stop", job.record.requester, by, limits.admins);
      if (denied) return denied;
      const { status } = job.record.trajectory;
      if (isFinished(status)) return refuse("conflict", `This job has already ${finishedVerb(status)}.`);
      try {
        const failed = await stopJob(job, { kind: "cancel" });
        if (failed) return failed;
      } catch (error) {
        log.error({ err: error, jobId }, "could not stop a job");
        return storageRefusal(error, "the job");
      }
      const ended = job.record.trajectory.status;
      if (ended !== "cancelled") return refuse("conflict", `This job ${finishedVerb(ended)} before it could be stopped.`);
      log.info({ jobId, by: by.id }, "job stopped");
      return { ok: true, best: bestOf(job) };
    },

    async pick(jobId, iteration, by) {
      const job = await fresh(jobId);
      if (isRefusal(job)) return job;
      const denied = checkControl("pick", job.record.requester, by, limits.admins);
      if (denied) return denied;
      const problem = pickProblem(job.record.trajectory, iteration);
      if (problem) return refuse("input", problem);
      try {
        if (!isFinished(job.record.trajectory.status)) {
          const failed = await stopJob(job, { kind: "pick", iteration });
          if (failed) return failed;
        }
        const t = job.record.trajectory;
        if (!(t.stopReason === "picked" && t.best?.n === iteration)) {
          const failed = await table.withLock(job, () =>
            withClaim(job, async () => {
              const next = structuredClone(job.record.trajectory);
              applyPick(next, iteration);
              next.updatedAt = now().toISOString();
              return commitOrRestore(job, next, [{ type: "job.done", best: bestView(next.best), reason: "picked" }]);
            }),
          );
          if (failed) return failed;
        }
      } catch (error) {
        log.error({ err: error, jobId }, "could not pick a result");
        return storageRefusal(error, "the job");
      }
      const best = bestOf(job);
      if (!best) return refuse("conflict", "This job has no image to pick.");
      log.info({ jobId, by: by.id, iteration }, "result picked");
      return { ok: true, best };
    },

    async continue(jobId, extraIterations, by) {
      const job = await fresh(jobId);
      if (isRefusal(job)) return job;
      const denied = checkControl("continue", job.record.requester, by, limits.admins);
      if (denied) return denied;
      const closed = notTaking();
      if (closed) return closed;
      return table.withLock(job, async (): Promise<Result<{ position: number }>> => {
        const t = structuredClone(job.record.trajectory);
        if (t.status === "running") return refuse("conflict", "This job is still running. Wait for it to finish, or stop it first.");
        if (t.status === "queued") return refuse("conflict", "This job is still waiting to run.");
        const problem = continueProblem(t, extraIterations, job.record.pendingFeedback.length > 0);
        if (problem) return refuse("input", problem);
        const admitted = await admission.admitContinue(jobId, job.record.requester);
        if (!admitted.ok) return admitted;
        await refreshPositions();
        const position = admission.positionOf(jobId) ?? admitted.rank;
        try {
          const failed = await withClaim(job, async () => {
            const next = structuredClone(job.record.trajectory);
            applyContinue(next, extraIterations);
            next.updatedAt = now().toISOString();
            // As in one process: a clear team preference becomes a note for the next attempt.
            notePreference(job.record, next, now());
            return commitOrRestore(job, next, [{ type: "job.queued", position }]);
          });
          if (failed) {
            await admission.removeQueued(jobId);
            return failed;
          }
          await enqueueRun(queueOf(), jobId, admitted.priority);
        } catch (error) {
          await admission.removeQueued(jobId).catch(() => undefined);
          log.error({ err: error, jobId }, "could not continue a job");
          return storageRefusal(error, "the job");
        }
        log.info({ jobId, by: by.id, extraIterations }, "job continued");
        return { ok: true, position };
      });
    },

    async addFeedback(jobId, author, text, imageHashes): Promise<FeedbackResult> {
      const job = await fresh(jobId);
      if (isRefusal(job)) return job;
      if (isClosed) return refuse("unavailable", "GEMS Bot is restarting. Try again in a minute.");
      if (limits.feedbackRequesterOnly) {
        const denied = checkControl("feedback", job.record.requester, author, limits.admins);
        if (denied) return denied;
      }
      let checked: string;
      try {
        checked = validateFeedbackText(text);
        if (imageHashes && imageHashes.length > MAX_REFERENCE_IMAGES) {
          throw new InputError(`${imageHashes.length} images came with the feedback; the limit is ${MAX_REFERENCE_IMAGES}. Attach the ones that matter most.`);
        }
      } catch (error) {
        if (error instanceof InputError) return refuse("input", error.message);
        throw error;
      }
      // Stored before it is acknowledged, so a crash cannot lose it; a row of its own, so the
      // worker's writes of the same job cannot overwrite it.
      const entry = {
        author: { id: author.id, name: author.name },
        text: checked,
        receivedAt: now().toISOString(),
        ...(imageHashes && imageHashes.length > 0 ? { imageHashes: [...imageHashes] } : {}),
      };
      // The cached record learns of it from the database (the reload below), never by a local
      // push: a worker may apply it before this line runs, and a push would bring it back.
      const stored = await store.addPending(jobId, entry).then(
        () => null,
        (error: unknown) => {
          log.error({ err: error, jobId }, "could not store feedback");
          return storageRefusal(error, "the feedback");
        },
      );
      if (stored) return stored;
      await redis.commands.publish(controlChannel, JSON.stringify({ type: "feedback", jobId } satisfies ControlMessage)).catch(() => undefined);
      // Read again after storing: a run that ended meanwhile did not see it, so it is applied here.
      await reload(jobId);
      if (!isFinished(job.record.trajectory.status) || isDraining) return { ok: true, isApplied: false, questions: [] };
      try {
        const questions = await table.withLock(job, () =>
          withClaim(job, async () => {
            const before = job.record.events.length;
            for (const input of runner.pendingInputs(job)) {
              const t = structuredClone(job.record.trajectory);
              await applyFeedback(t, input, { mllm, images, commit: (next, events) => commit(job, next, events) }, undefined, now);
            }
            return job.record.events.slice(before).flatMap((e) => (e.type === "feedback.added" && e.text === checked ? e.questions : []));
          }),
        );
        return { ok: true, isApplied: true, questions };
      } catch (error) {
        log.warn({ err: error, jobId }, "could not apply feedback to a finished job; kept for when it continues");
        return { ok: true, isApplied: false, questions: [] };
      }
    },

    // Votes live in rows of their own (a worker rewrites the job row while people vote); the
    // worker running the job reads them at its next step boundary and at the job's end.
    async vote(jobId, voter, iteration, action) {
      const job = await fresh(jobId);
      if (isRefusal(job)) return job;
      if (isClosed) return refuse("unavailable", "GEMS Bot is restarting. Try again in a minute.");
      if (!VOTE_ACTIONS.includes(action)) return refuse("input", `A vote is one of ${VOTE_ACTIONS.join(", ")} (got ${String(action)}).`);
      if (typeof voter?.id !== "string" || voter.id.trim() === "") return refuse("input", "The vote has no voter.");
      const withImages = job.record.trajectory.iterations.filter((it) => it.imageHash !== null).map((it) => it.n);
      if (!withImages.includes(iteration)) {
        const choice = withImages.length > 0 ? `Vote on one of: ${withImages.join(", ")}.` : "This job has no image yet.";
        return refuse("input", `Iteration ${String(iteration)} has no image to vote on. ${choice}`);
      }
      let votes;
      try {
        votes = await store.setVote(jobId, voter, iteration, action, now().toISOString());
      } catch (error) {
        log.error({ err: error, jobId }, "could not store a vote");
        return storageRefusal(error, "the vote");
      }
      // Safe on a job this process runs too: the store never writes votes from the record.
      job.record.votes = votes;
      log.info({ jobId, voter: voter.id, iteration, action }, "vote recorded");
      await redis.commands.publish(controlChannel, JSON.stringify({ type: "vote", jobId } satisfies ControlMessage)).catch(() => undefined);
      return { ok: true, votes: countVotes(votes) };
    },

    async setSurfaceRef(jobId, surfaceRef) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      if (typeof surfaceRef?.surface !== "string" || surfaceRef.surface.trim() === "") return refuse("input", "The job has no surface to report to.");
      return table.withLock(job, async (): Promise<Result> => {
        const before = job.record.surfaceRef;
        job.record.surfaceRef = structuredClone(surfaceRef);
        try {
          await table.persist(job);
        } catch (error) {
          job.record.surfaceRef = before;
          return storageRefusal(error, "the job");
        }
        delivery.kick(jobId);
        return { ok: true };
      });
    },

    status(jobId) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      return { ok: true, job: statusOf(job) };
    },

    list(requesterId) {
      const summaries: JobSummary[] = [];
      for (const job of table.values()) {
        if (requesterId !== undefined && job.record.requester.id !== requesterId) continue;
        summaries.push(summaryOf(job));
      }
      return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },

    events(jobId, afterSeq = 0) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      return { ok: true, events: job.record.events.slice(Math.max(0, afterSeq)) };
    },

    subscribe(surface, handler, options) {
      return delivery.subscribe(surface, handler, options);
    },

    sweep: (at = now()) => sweepAt(at),

    corruptJobs: () => table.corruptJobs(),

    metrics() {
      let running = 0;
      for (const job of table.values()) if (job.record.trajectory.status === "running") running++;
      return {
        jobs: table.size,
        queued: admission.queued,
        running: isSurfaces ? running : localRuns.running,
        generatorInFlight: generatorSlots.inFlight,
        generatorWaiting: generatorSlots.waiting,
        mllmInFlight: mllmSlots.inFlight,
        mllmWaiting: mllmSlots.waiting,
        modelCalls: modelCalls.snapshot(),
        modelCallBucketsSeconds: MODEL_CALL_BUCKETS_SECONDS,
      };
    },

    drain(options = {}) {
      draining ??= (async () => {
        isDraining = true;
        for (const timer of timers) clearInterval(timer);
        const runs = table.runs();
        for (const run of runs) run.pause.abort();
        const settled = (async () => {
          await Promise.allSettled(runs.map((run) => run.done));
          // Waits for the processors to hand their jobs back to the queue.
          await worker?.close();
          await Promise.allSettled([...table.values()].map((job) => job.lock));
          await delivery.settle();
          await table.flush();
        })();
        if (options.timeoutMs === undefined) return settled;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            log.warn({ timeoutMs: options.timeoutMs }, "drain timed out; unfinished steps resume on another worker");
            resolve();
          }, options.timeoutMs);
        });
        await Promise.race([settled, timedOut]);
        clearTimeout(timer);
      })();
      return draining;
    },

    async close() {
      if (isClosed) return;
      isClosed = true;
      isDraining = true;
      for (const timer of timers) clearInterval(timer);
      clearTimeout(positionsTimer);
      delivery.stop();
      for (const run of table.runs()) run.controller.abort();
      generatorSlots.close();
      mllmSlots.close();
      redis.subscriber.off("message", onMessage);
      // Not waiting for running jobs: their locks lapse and other workers resume them.
      await worker?.close(true).catch(() => undefined);
      await Promise.allSettled(table.runs().map((run) => run.done));
      await table.settle();
      await queueInstance?.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      await redis.close();
    },
  };
}

function finishedVerb(status: string): string {
  return status === "cancelled" ? "been stopped" : status === "failed" ? "failed" : "finished";
}
