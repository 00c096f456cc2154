/**
 * The job service: queues GEMS jobs fairly across people, runs them within shared model limits,
 * stores every step with its events in one record per job, delivers the events to the surfaces,
 * and resumes unfinished jobs after a restart. See README.md in this folder.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { applyFeedback, bestView, runJob, type AgentDeps, type FeedbackInput, type RunControls } from "../agent/run-job.ts";
import type { AgentEvent, JobEvent } from "../agent/events.ts";
import { feedbackAuthorName, validateFeedbackText, validateJobRequest, type JobRequestInput } from "../agent/request.ts";
import { CancelledError, GemsError, InputError, describeError } from "../errors.ts";
import type { ImageStore } from "../memory/stores.ts";
import { createTrajectory, type LoopModes, type ModelNames, type Trajectory } from "../memory/trajectory.ts";
import type { ImageGenerator, Mllm } from "../models/ports.ts";
import { sleepUnlessAborted, type Sleep } from "../models/retry.ts";
import type { SkillLibrary } from "../skills/types.ts";
import { createCoalescingWriter } from "./coalescing-writer.ts";
import { EventDelivery } from "./event-delivery.ts";
import { applyContinue, applyPick, continueProblem, isFinished, pickProblem } from "./job-actions.ts";
import type { JobStore } from "./job-store.ts";
import type { JobLimits } from "./limits.ts";
import { limitGenerator, limitMllm } from "./limited-models.ts";
import { MODEL_CALL_BUCKETS_SECONDS, ModelCallStats } from "./model-call-stats.ts";
import { isOutage, outageDelayMs } from "./outage.ts";
import { checkControl } from "./permissions.ts";
import { SlidingWindowRateLimit } from "./rate-limit.ts";
import { imageHashesOf, isExpired } from "./retention.ts";
import { FairQueue } from "./scheduler.ts";
import { Semaphore } from "./semaphore.ts";
import type {
  CorruptJob,
  FeedbackResult,
  JobRecord,
  JobService,
  JobStatus,
  JobSummary,
  Person,
  Refusal,
  RefusalReason,
  Result,
  SurfaceRef,
  SweepReport,
} from "./types.ts";

export interface JobServiceDeps {
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  images: ImageStore;
  store: JobStore;
  limits: JobLimits;
  logger: Logger;
  now?: () => Date;
  /** Waits for outage backoff and delivery retries; tests pass one that advances a fake clock. */
  sleep?: Sleep;
  /** How often the retention sweep runs; default hourly. */
  sweepIntervalMs?: number;
  createJobId?: () => string;
  /** How the models are named in trajectories and image provenance; default the ports' names. */
  modelNames?: ModelNames;
  /** How new jobs verify and refine (stored with each job); default the reference loop. */
  modes?: LoopModes;
}

interface Run {
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

interface Job {
  record: JobRecord;
  /** Writes the whole record; calls made while a write runs share the next one. */
  persist: () => Promise<void>;
  run: Run | null;
  /** Operations on a job that is not running (pick, continue, feedback) take turns. */
  lock: Promise<unknown>;
}

const HOUR_MS = 60 * 60 * 1000;
const CLOSE_WAIT_MS = 5_000;

const refuse = (reason: RefusalReason, message: string): Refusal => ({ ok: false, reason, message });

export function createJobService(deps: JobServiceDeps): JobService {
  const { limits, store, skills, images } = deps;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? sleepUnlessAborted;
  const log = deps.logger.child({ component: "jobs" });
  const createJobId = deps.createJobId ?? (() => randomUUID().replaceAll("-", "").slice(0, 12));

  const generatorSlots = new Semaphore(limits.generatorConcurrency);
  const mllmSlots = new Semaphore(limits.mllmConcurrency);
  const modelCalls = new ModelCallStats();
  const mllm = limitMllm(deps.mllm, mllmSlots, modelCalls);
  const generator = limitGenerator(deps.generator, generatorSlots, modelCalls);

  const jobs = new Map<string, Job>();
  const corrupt = new Map<string, CorruptJob>();
  const queue = new FairQueue();
  const runningBy = new Map<string, number>();
  const rateLimit = new SlidingWindowRateLimit(limits.rateLimitPerHour);
  const writes = new Set<Promise<unknown>>();
  let runningCount = 0;
  let isStarted = false;
  let isDraining = false;
  let isClosed = false;
  let sweepTimer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | undefined;

  const delivery = new EventDelivery({
    record: (jobId) => jobs.get(jobId)?.record,
    jobIds: () => jobs.keys(),
    cursorMoved: (jobId) => {
      const job = jobs.get(jobId);
      if (job) void persist(job).catch((error: unknown) => log.warn({ err: error, jobId }, "could not store a delivery cursor"));
    },
    sleep,
    logger: log,
  });

  // ---- records ----------------------------------------------------------------------------

  function addJob(record: JobRecord): Job {
    const job: Job = {
      record,
      persist: createCoalescingWriter(async () => {
        // After close() nothing reaches the store, as after a kill.
        if (isClosed) return;
        await store.put(job.record);
      }),
      run: null,
      lock: Promise.resolve(),
    };
    jobs.set(record.jobId, job);
    return job;
  }

  function persist(job: Job): Promise<void> {
    const write = job.persist();
    writes.add(write);
    void write.then(
      () => writes.delete(write),
      () => writes.delete(write),
    );
    return write;
  }

  function withLock<T>(job: Job, task: () => Promise<T>): Promise<T> {
    const result = job.lock.then(task, task);
    job.lock = result.catch(() => undefined);
    return result;
  }

  /** Stamps the events, makes them part of the record with the trajectory, and stores both in one write. */
  async function commit(job: Job, t: Trajectory, events: AgentEvent[]): Promise<void> {
    if (isClosed) throw new CancelledError("The job service has stopped.");
    const { record } = job;
    let batch = events;
    const picked = job.run?.pickedIteration ?? null;
    if (picked !== null && events.some((e) => e.type === "job.cancelled")) {
      // The abort that stopped the job was a pick: record it as one, in the same write.
      applyPick(t, picked);
      batch = events.map((e) => (e.type === "job.cancelled" ? { type: "job.done", best: bestView(t.best), reason: "picked" } : e));
    }
    const at = now().toISOString();
    record.trajectory = structuredClone(t);
    // Retention counts from the first finish; feedback or a pick later does not restart it.
    record.finishedAt = isFinished(t.status) ? (record.finishedAt ?? at) : null;
    for (const event of batch) {
      if (event.type === "feedback.added") settlePendingFeedback(record, event.author, event.text);
      record.events.push({ ...event, jobId: record.jobId, seq: record.events.length + 1, at } as JobEvent);
    }
    if (job.run) {
      // A stored step is progress: the next failure starts a new outage.
      job.run.outageStartedMs = null;
      job.run.outageWaits = 0;
    }
    await persist(job);
    delivery.kick(record.jobId);
  }

  function settlePendingFeedback(record: JobRecord, author: string, text: string): void {
    const index = record.pendingFeedback.findIndex((p) => feedbackAuthorName(p.author.name) === author && p.text === text);
    // runJob applies pending feedback in order, so without an exact match the oldest is the one
    // applied; leaving it would apply it again at every step.
    record.pendingFeedback.splice(index >= 0 ? index : 0, 1);
  }

  /** commit() for operations outside a run: on a failed write the in-memory job goes back to what is stored. */
  async function commitOrRestore(job: Job, t: Trajectory, events: AgentEvent[]): Promise<Refusal | null> {
    const { record } = job;
    const before = { trajectory: record.trajectory, finishedAt: record.finishedAt, events: record.events.length, pending: [...record.pendingFeedback] };
    try {
      await commit(job, t, events);
      return null;
    } catch (error) {
      record.trajectory = before.trajectory;
      record.finishedAt = before.finishedAt;
      record.events.length = before.events;
      record.pendingFeedback = before.pending;
      log.error({ err: error, jobId: record.jobId }, "could not store a change to a job");
      return refuse("storage", error instanceof GemsError ? error.message : `Could not save the job: ${describeError(error)}`);
    }
  }

  // ---- running ----------------------------------------------------------------------------

  function agentDeps(job: Job): AgentDeps {
    return {
      mllm,
      generator,
      skills,
      images,
      commit: (t, events) => commit(job, t, events),
      verifyConcurrency: limits.verifyConcurrency,
      logger: deps.logger,
      now,
      ...(limits.previewIntervalMs !== undefined ? { previews: { intervalMs: limits.previewIntervalMs } } : {}),
      ...(deps.modelNames ? { modelNames: deps.modelNames } : {}),
    };
  }

  function pendingInputs(job: Job): FeedbackInput[] {
    const { record } = job;
    // Checked when it arrived; checked again so a bad stored entry cannot come back at every step.
    record.pendingFeedback = record.pendingFeedback.filter((p) => {
      try {
        validateFeedbackText(p.text);
        return true;
      } catch {
        log.warn({ jobId: record.jobId, author: p.author.id }, "dropped stored feedback that is not valid");
        return false;
      }
    });
    return record.pendingFeedback.map((p) => ({ author: p.author.name, text: p.text }));
  }

  async function waitOutOutage(run: Run, jobId: string, error: GemsError): Promise<boolean> {
    if (!isOutage(error)) return false;
    const nowMs = now().getTime();
    run.outageStartedMs ??= nowMs;
    const delayMs = outageDelayMs(run.outageStartedMs, nowMs, run.outageWaits, limits.outageBudgetMs);
    if (delayMs === null) {
      log.warn({ jobId, outageMs: nowMs - run.outageStartedMs }, "models still failing after the outage budget; the job fails");
      return false;
    }
    run.outageWaits++;
    log.warn({ jobId, delayMs, problem: error.message }, "models failing; waiting before trying the step again");
    try {
      await sleep(delayMs, AbortSignal.any([run.controller.signal, run.pause.signal]));
    } catch (sleepError) {
      // A drain interrupts the wait; trying again lets runJob reach its step boundary and pause.
      if (run.pause.signal.aborted && !run.controller.signal.aborted) return true;
      throw sleepError;
    }
    return true;
  }

  function startRun(job: Job): void {
    const { requester } = job.record;
    const run: Run = {
      controller: new AbortController(),
      pause: new AbortController(),
      done: Promise.resolve(),
      pickedIteration: null,
      outageStartedMs: null,
      outageWaits: 0,
    };
    job.run = run;
    runningCount++;
    runningBy.set(requester.id, (runningBy.get(requester.id) ?? 0) + 1);
    const controls: RunControls = {
      signal: run.controller.signal,
      pause: run.pause.signal,
      drainFeedback: () => pendingInputs(job),
      retryAfterFailure: (error) => waitOutOutage(run, job.record.jobId, error),
    };
    run.done = (async () => {
      try {
        // The record's first write may still be running; the run's writes queue behind it anyway.
        await runJob(structuredClone(job.record.trajectory), agentDeps(job), controls);
      } catch (error) {
        // runJob only throws when even its failure could not be stored, or the service closed.
        if (!isClosed) await recordUnstoredFailure(job, error);
      }
    })().finally(() => {
      job.run = null;
      runningCount--;
      runningBy.set(requester.id, (runningBy.get(requester.id) ?? 1) - 1);
      if (isClosed) return;
      if (isFinished(job.record.trajectory.status) && job.record.pendingFeedback.length > 0) {
        void applyLeftoverFeedback(job).catch((error: unknown) => log.error({ err: error, jobId: job.record.jobId }, "could not apply leftover feedback"));
      }
      schedule();
    });
  }

  /** The store failed under a run: tell the surfaces anyway, and keep trying to store the outcome. */
  async function recordUnstoredFailure(job: Job, error: unknown): Promise<void> {
    const { record } = job;
    const message = error instanceof GemsError ? error.message : `Unexpected error: ${describeError(error)}`;
    log.error({ err: error, jobId: record.jobId }, "a job could not store its outcome");
    const at = now().toISOString();
    record.trajectory = { ...record.trajectory, status: "failed", error: message, updatedAt: at };
    record.finishedAt = at;
    record.events.push({ type: "job.failed", error: message, best: bestView(record.trajectory.best), jobId: record.jobId, seq: record.events.length + 1, at });
    await persist(job).catch((persistError: unknown) => log.error({ err: persistError, jobId: record.jobId }, "the failure could not be stored either"));
    delivery.kick(record.jobId);
  }

  function schedule(): void {
    if (!isStarted || isDraining || isClosed) return;
    while (runningCount < limits.maxRunningJobs) {
      const jobId = queue.takeNext((personId) => runningBy.get(personId) ?? 0);
      if (jobId === undefined) return;
      const job = jobs.get(jobId);
      if (job && !job.run) startRun(job);
    }
  }

  function positionOf(jobId: string): number | null {
    if (!queue.has(jobId)) return null;
    const order = queue.order((personId) => runningBy.get(personId) ?? 0);
    const index = order.indexOf(jobId);
    const free = isDraining ? 0 : Math.max(0, limits.maxRunningJobs - runningCount);
    return index < free ? 0 : index - free + 1;
  }

  function applyLeftoverFeedback(job: Job): Promise<void> {
    return withLock(job, async () => {
      while (job.record.pendingFeedback.length > 0 && isFinished(job.record.trajectory.status) && !isDraining) {
        const [input] = pendingInputs(job);
        if (!input) return;
        const t = structuredClone(job.record.trajectory);
        try {
          await applyFeedback(t, input, { mllm, commit: (next, events) => commit(job, next, events) }, undefined, now);
        } catch (error) {
          // It stays pending and joins the job if it is continued.
          log.warn({ err: error, jobId: job.record.jobId }, "could not apply feedback to a finished job");
          return;
        }
      }
    });
  }

  // ---- lookups ----------------------------------------------------------------------------

  function find(jobId: string): Job | Refusal {
    const job = jobs.get(jobId);
    if (job) return job;
    const broken = corrupt.get(jobId);
    if (broken) return refuse("corrupt", `Job ${jobId} cannot be read: ${broken.problem}`);
    return refuse("not-found", `There is no job ${jobId}. It may have finished long ago and been cleaned up.`);
  }

  const isRefusal = (value: Job | Refusal): value is Refusal => "ok" in value;

  function summaryOf(job: Job): JobSummary {
    const { record } = job;
    const t = record.trajectory;
    return {
      jobId: record.jobId,
      status: t.status,
      position: positionOf(record.jobId),
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
    return { ...summaryOf(job), surfaceRef: structuredClone(job.record.surfaceRef), trajectory: structuredClone(job.record.trajectory) };
  }

  function notTaking(): Refusal | null {
    return isDraining || isClosed ? refuse("unavailable", "GEMS Bot is restarting. Try again in a minute.") : null;
  }

  // ---- sweeping ---------------------------------------------------------------------------

  let sweeping: Promise<SweepReport> | undefined;
  /** One sweep at a time: the hourly timer and a manual call must not delete the same things twice. */
  function sweep(at: Date = now()): Promise<SweepReport> {
    sweeping ??= sweepOnce(at).finally(() => {
      sweeping = undefined;
    });
    return sweeping;
  }

  async function sweepOnce(at: Date): Promise<SweepReport> {
    const expired = [...jobs.values()].filter((job) => !job.run && isExpired(job.record, at, limits.retentionDays));
    const candidates = new Set<string>();
    let jobsRemoved = 0;
    for (const job of expired) {
      let isDeleted = false;
      try {
        isDeleted = await withLock(job, async () => {
          // Someone may have continued the job while the sweep waited for its turn.
          if (job.run || !isExpired(job.record, at, limits.retentionDays)) return false;
          await store.delete(job.record.jobId);
          jobs.delete(job.record.jobId);
          return true;
        });
      } catch (error) {
        log.error({ err: error, jobId: job.record.jobId }, "could not delete an expired job");
      }
      if (!isDeleted) continue;
      jobsRemoved++;
      for (const hash of imageHashesOf(job.record.trajectory)) candidates.add(hash);
    }
    let imagesRemoved = 0;
    for (const hash of candidates) {
      // Checked per image, just before deleting: a job may have stored the same bytes meanwhile.
      const isUsed = [...jobs.values()].some((job) => imageHashesOf(job.record.trajectory).includes(hash));
      if (isUsed) continue;
      try {
        await images.delete(hash);
        imagesRemoved++;
      } catch (error) {
        log.error({ err: error, hash }, "could not delete an expired image");
      }
    }
    if (jobsRemoved > 0) log.info({ jobsRemoved, imagesRemoved }, "removed expired jobs");
    return { jobsRemoved, imagesRemoved };
  }

  // ---- the service ------------------------------------------------------------------------

  return {
    async start() {
      if (isStarted) throw new Error("The job service is already started.");
      const loaded = await store.load();
      const nowMs = now().getTime();
      let resumed = 0;
      for (const broken of loaded.corrupt) {
        corrupt.set(broken.jobId, broken);
        log.error({ jobId: broken.jobId, problem: broken.problem }, "skipped a job whose stored record is corrupt");
      }
      for (const record of loaded.records) {
        const job = addJob(record);
        const { status, createdAt } = record.trajectory;
        const createdMs = Date.parse(createdAt);
        if (createdMs > nowMs - HOUR_MS) rateLimit.record(record.requester.id, createdMs);
        if (status === "running" || status === "queued") {
          queue.enqueue(record.jobId, record.requester.id, { isResumed: status === "running" });
          resumed++;
        } else if (record.pendingFeedback.length > 0) {
          void applyLeftoverFeedback(job).catch((error: unknown) => log.error({ err: error, jobId: record.jobId }, "could not apply leftover feedback"));
        }
      }
      isStarted = true;
      await sweep().catch((error: unknown) => log.error({ err: error }, "the retention sweep failed"));
      sweepTimer = setInterval(() => {
        void sweep().catch((error: unknown) => log.error({ err: error }, "the retention sweep failed"));
      }, deps.sweepIntervalMs ?? HOUR_MS);
      // The sweep is housekeeping; it must not keep a finished process alive.
      sweepTimer.unref();
      schedule();
      delivery.kickAll();
      log.info({ loaded: loaded.records.length, resumed, corrupt: loaded.corrupt.length }, "job service started");
      return { loaded: loaded.records.length, resumed, corrupt: [...corrupt.values()] };
    },

    async submit(input: JobRequestInput, requester: Person, surfaceRef: SurfaceRef) {
      if (!isStarted) throw new Error("Call start() before submitting jobs.");
      const closed = notTaking();
      if (closed) return closed;
      if (requester.id.trim() === "") return refuse("input", "The requester has no id.");
      if (typeof surfaceRef?.surface !== "string" || surfaceRef.surface.trim() === "") {
        return refuse("input", "The job has no surface to report to.");
      }
      let request;
      try {
        request = validateJobRequest(input, skills, limits.defaultIterations);
      } catch (error) {
        if (error instanceof InputError) return refuse("input", error.message);
        throw error;
      }
      const waiting = queue.countFor(requester.id);
      if (waiting >= limits.maxQueuedPerPerson) {
        return refuse(
          "queue-full",
          `You already have ${waiting} job${waiting === 1 ? "" : "s"} waiting; the limit is ${limits.maxQueuedPerPerson}. Wait for one to start, or stop one.`,
        );
      }
      const at = now();
      const rate = rateLimit.take(requester.id, at.getTime());
      if (!rate.isAllowed) {
        const minutes = Math.max(1, Math.ceil(rate.retryAfterMs / 60_000));
        return refuse(
          "rate-limited",
          `You have started ${limits.rateLimitPerHour} jobs in the last hour, the limit. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
        );
      }
      let jobId = createJobId();
      while (jobs.has(jobId) || corrupt.has(jobId)) jobId = createJobId();
      const job = addJob({
        version: 1,
        jobId,
        requester: { id: requester.id, name: requester.name },
        surfaceRef: structuredClone(surfaceRef),
        trajectory: createTrajectory(jobId, request, at, deps.modes),
        events: [],
        cursors: {},
        pendingFeedback: [],
        finishedAt: null,
      });
      // Queued before the first write so two quick submits see each other's place in line.
      queue.enqueue(jobId, requester.id);
      const position = positionOf(jobId) ?? 0;
      try {
        // Runs only once stored: a job the store refused must leave no trace.
        await commit(job, job.record.trajectory, [{ type: "job.queued", position }]);
      } catch (error) {
        queue.remove(jobId);
        jobs.delete(jobId);
        rateLimit.undo(requester.id, at.getTime());
        log.error({ err: error, jobId }, "could not store a new job");
        return refuse("storage", error instanceof GemsError ? error.message : `Could not save the job: ${describeError(error)}`);
      }
      schedule();
      log.info({ jobId, user: requester.id, position }, "job queued");
      return { ok: true, jobId, position };
    },

    async cancel(jobId, by) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      const denied = checkControl("stop", job.record.requester, by, limits.admins);
      if (denied) return denied;
      return withLock(job, async (): Promise<Result<{ best: ReturnType<typeof bestOf> }>> => {
        const { status } = job.record.trajectory;
        // The run may still be winding down after its last commit; the record has the final word.
        if (isFinished(status)) return refuse("conflict", `This job has already ${finishedVerb(status)}.`);
        if (job.run) {
          job.run.controller.abort();
          await job.run.done;
        }
        const ended = job.record.trajectory.status;
        if (isFinished(ended) && ended !== "cancelled") return refuse("conflict", `This job ${finishedVerb(ended)} before it could be stopped.`);
        // Queued, or paused at a step boundary by a drain: nothing runs, so the record is changed directly.
        if (ended !== "cancelled") {
          const t = structuredClone(job.record.trajectory);
          queue.remove(jobId);
          t.status = "cancelled";
          t.stopReason = "stopped";
          t.updatedAt = now().toISOString();
          const failed = await commitOrRestore(job, t, [{ type: "job.cancelled", best: bestView(t.best) }]);
          if (failed) return failed;
        }
        log.info({ jobId, by: by.id }, "job stopped");
        return { ok: true, best: bestOf(job) };
      });
    },

    async pick(jobId, iteration, by) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      const denied = checkControl("pick", job.record.requester, by, limits.admins);
      if (denied) return denied;
      return withLock(job, async (): Promise<Result<{ best: NonNullable<ReturnType<typeof bestOf>> }>> => {
        const problem = pickProblem(job.record.trajectory, iteration);
        if (problem) return refuse("input", problem);
        if (job.run && !isFinished(job.record.trajectory.status)) {
          job.run.pickedIteration = iteration;
          job.run.controller.abort();
          await job.run.done;
        }
        const t = structuredClone(job.record.trajectory);
        // Already recorded by the run's commit, unless the job finished on its own just before.
        if (!(t.stopReason === "picked" && t.best?.n === iteration)) {
          queue.remove(jobId);
          applyPick(t, iteration);
          t.updatedAt = now().toISOString();
          const failed = await commitOrRestore(job, t, [{ type: "job.done", best: bestView(t.best), reason: "picked" }]);
          if (failed) return failed;
        }
        log.info({ jobId, by: by.id, iteration }, "result picked");
        return { ok: true, best: bestOf(job) as NonNullable<ReturnType<typeof bestOf>> };
      });
    },

    async continue(jobId, extraIterations, by) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      const denied = checkControl("continue", job.record.requester, by, limits.admins);
      if (denied) return denied;
      const closed = notTaking();
      if (closed) return closed;
      return withLock(job, async (): Promise<Result<{ position: number }>> => {
        const { record } = job;
        const t = structuredClone(record.trajectory);
        if (t.status === "running") return refuse("conflict", "This job is still running. Wait for it to finish, or stop it first.");
        if (t.status === "queued") return refuse("conflict", "This job is still waiting to run.");
        const problem = continueProblem(t, extraIterations, record.pendingFeedback.length > 0);
        if (problem) return refuse("input", problem);
        const waiting = queue.countFor(record.requester.id);
        if (waiting >= limits.maxQueuedPerPerson) {
          return refuse("queue-full", `${record.requester.name} already has ${waiting} jobs waiting; the limit is ${limits.maxQueuedPerPerson}. Try again when one has started.`);
        }
        applyContinue(t, extraIterations);
        t.updatedAt = now().toISOString();
        queue.enqueue(jobId, record.requester.id);
        const position = positionOf(jobId) ?? 0;
        const failed = await commitOrRestore(job, t, [{ type: "job.queued", position }]);
        if (failed) {
          queue.remove(jobId);
          return failed;
        }
        schedule();
        log.info({ jobId, by: by.id, extraIterations }, "job continued");
        return { ok: true, position };
      });
    },

    async addFeedback(jobId, author, text): Promise<FeedbackResult> {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      if (isClosed) return refuse("unavailable", "GEMS Bot is restarting. Try again in a minute.");
      if (limits.feedbackRequesterOnly) {
        const denied = checkControl("feedback", job.record.requester, author, limits.admins);
        if (denied) return denied;
      }
      let checked: string;
      try {
        checked = validateFeedbackText(text);
      } catch (error) {
        if (error instanceof InputError) return refuse("input", error.message);
        throw error;
      }
      return withLock(job, async (): Promise<FeedbackResult> => {
        const { record } = job;
        // Stored before it is acknowledged, so a crash cannot lose it.
        const entry = { author: { id: author.id, name: author.name }, text: checked, receivedAt: now().toISOString() };
        record.pendingFeedback.push(entry);
        try {
          await persist(job);
        } catch (error) {
          record.pendingFeedback = record.pendingFeedback.filter((p) => p !== entry);
          log.error({ err: error, jobId }, "could not store feedback");
          return refuse("storage", error instanceof GemsError ? error.message : `Could not save the feedback: ${describeError(error)}`);
        }
        if (!isFinished(record.trajectory.status) || isDraining) return { ok: true, isApplied: false, questions: [] };
        const t = structuredClone(record.trajectory);
        const before = record.events.length;
        try {
          await applyFeedback(t, { author: author.name, text: checked }, { mllm, commit: (next, events) => commit(job, next, events) }, undefined, now);
        } catch (error) {
          log.warn({ err: error, jobId }, "could not apply feedback to a finished job; kept for when it continues");
          return { ok: true, isApplied: false, questions: [] };
        }
        const added = record.events.slice(before).find((e) => e.type === "feedback.added");
        return { ok: true, isApplied: true, questions: added?.type === "feedback.added" ? added.questions : [] };
      });
    },

    async setSurfaceRef(jobId, surfaceRef) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      if (typeof surfaceRef?.surface !== "string" || surfaceRef.surface.trim() === "") {
        return refuse("input", "The job has no surface to report to.");
      }
      const before = job.record.surfaceRef;
      job.record.surfaceRef = structuredClone(surfaceRef);
      try {
        await persist(job);
      } catch (error) {
        job.record.surfaceRef = before;
        return refuse("storage", error instanceof GemsError ? error.message : `Could not save the job: ${describeError(error)}`);
      }
      delivery.kick(jobId);
      return { ok: true };
    },

    status(jobId) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      return { ok: true, job: statusOf(job) };
    },

    list(requesterId) {
      const summaries: JobSummary[] = [];
      for (const job of jobs.values()) {
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

    sweep,

    corruptJobs() {
      return [...corrupt.values()];
    },

    metrics() {
      return {
        jobs: jobs.size,
        queued: queue.size,
        running: runningCount,
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
        clearInterval(sweepTimer);
        const runs = [...jobs.values()].flatMap((job) => (job.run ? [job.run] : []));
        for (const run of runs) run.pause.abort();
        const settled = (async () => {
          await Promise.allSettled(runs.map((run) => run.done));
          await Promise.allSettled([...jobs.values()].map((job) => job.lock));
          await delivery.settle();
          while (writes.size > 0) await Promise.allSettled([...writes]);
        })();
        if (options.timeoutMs === undefined) return settled;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            log.warn({ timeoutMs: options.timeoutMs }, "drain timed out; unfinished steps resume at the next start");
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
      clearInterval(sweepTimer);
      delivery.stop();
      const runs = [...jobs.values()].flatMap((job) => (job.run ? [job.run] : []));
      for (const run of runs) run.controller.abort();
      // Aborted calls end quickly; a model call that ignores its signal is not worth hanging on.
      await Promise.race([
        Promise.allSettled(runs.map((run) => run.done)),
        new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref()),
      ]);
      await Promise.allSettled([...writes]);
      await store.close();
    },
  };
}

function bestOf(job: Job) {
  const best = job.record.trajectory.best;
  return best ? { ...best } : null;
}

function finishedVerb(status: string): string {
  return status === "cancelled" ? "been stopped" : status === "failed" ? "failed" : "finished";
}
