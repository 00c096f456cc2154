/**
 * The job service: the JobService API over four parts (README.md in this folder):
 * admission (limits, fairness; admission.ts), running (the loop over memory; job-runner.ts),
 * delivery (events to surfaces; event-delivery.ts) and storage (job-table.ts over a JobStore).
 * Which implementation of each is used is chosen in one place, the backend (backend.ts).
 * This file holds what the user actions do to a job and the commit that ties a step, its
 * events and their delivery together.
 */
import { costViewOf, NO_PRICES, type PriceTable, type QuotaCheck } from "./usage-ledger.ts";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { applyFeedback, bestView } from "../agent/run-job.ts";
import { MAX_REFERENCE_IMAGES, parseRefineMode, validateFeedbackText, validateJobRequest, type JobRequestInput } from "../agent/request.ts";
import { GemsError, InputError, describeError } from "../errors.ts";
import type { ImageStore } from "../memory/stores.ts";
import { createTrajectory, REFERENCE_MODES, type LoopModes, type ModelNames } from "../memory/trajectory.ts";
import type { ImageGenerator, Mllm } from "../models/ports.ts";
import { sleepUnlessAborted, type Sleep } from "../models/retry.ts";
import type { SkillLibrary } from "../skills/types.ts";
import { createLocalBackend, type JobBackend } from "./backend.ts";
import { applyContinue, applyPick, continueProblem, isFinished, pickProblem } from "./job-actions.ts";
import { createCommitter } from "./job-commit.ts";
import { createJobRunner } from "./job-runner.ts";
import type { JobStore } from "./job-store.ts";
import { JobTable, type Job } from "./job-table.ts";
import type { JobLimits } from "./limits.ts";
import { limitGenerator, limitMllm } from "./limited-models.ts";
import { MODEL_CALL_BUCKETS_SECONDS, ModelCallStats } from "./model-call-stats.ts";
import { checkControl } from "./permissions.ts";
import { createSweeper } from "./sweeper.ts";
import { createVoting, notePreference } from "./voting.ts";
import { countVotes } from "./votes.ts";
import type { FeedbackResult, JobService, JobStatus, JobSummary, PendingFeedback, Person, Refusal, RefusalReason, Result, SurfaceRef } from "./types.ts";

export interface JobServiceDeps {
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  images: ImageStore;
  store: JobStore;
  limits: JobLimits;
  logger: Logger;
  /** Admission, model call slots and delivery; default: all in this process (createLocalBackend). */
  backend?: JobBackend;
  now?: () => Date;
  /** Waits for outage backoff and delivery retries; tests pass one that advances a fake clock. */
  sleep?: Sleep;
  /** How often the retention sweep runs; default hourly. */
  sweepIntervalMs?: number;
  createJobId?: () => string;
  /** How the models are named in trajectories and image provenance; default the ports' names. */
  modelNames?: ModelNames;
  /** Daily quotas (usage-ledger.ts): asked at submit and before each iteration; a message refuses or stops. */
  quota?: QuotaCheck;
  /** Prices for the cost put on each job's final event; default none (tokens and images only). */
  prices?: PriceTable;
  /** How new jobs verify and refine (stored with each job); default the reference loop. */
  modes?: LoopModes;
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
  const backend = deps.backend ?? createLocalBackend(limits);
  const { admission, slots } = backend;

  const modelCalls = new ModelCallStats();
  const mllm = limitMllm(deps.mllm, slots.mllm, modelCalls);
  const generator = limitGenerator(deps.generator, slots.generator, modelCalls);

  let isStarted = false;
  let isDraining = false;
  let isClosed = false;
  let sweepTimer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | undefined;

  const table = new JobTable(store, () => isClosed);
  const delivery = backend.createDelivery({
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
    usageOf: (t) => costViewOf(t, usageModels, deps.prices ?? NO_PRICES),
    table,
    now,
    logger: log,
    isClosed: () => isClosed,
    committed: (jobId) => delivery.kick(jobId),
    ...(limits.resultBy ? { resultBy: limits.resultBy } : {}),
  });
  const voting = createVoting<Job>({ persist: (job) => table.persist(job), now, logger: log });
  const runner = createJobRunner({
    mllm,
    generator,
    skills,
    images,
    limits,
    table,
    admission,
    logger: log,
    agentLogger: deps.logger,
    ...(deps.modelNames ? { modelNames: deps.modelNames } : {}),
    ...(deps.quota ? { quota: deps.quota } : {}),
    now,
    sleep,
    commit,
    eventsAdded: (jobId) => delivery.kick(jobId),
    isTakingWork: () => isStarted && !isDraining && !isClosed,
    isDraining: () => isDraining,
    isClosed: () => isClosed,
  });
  const sweepAt = createSweeper({ table, images, retentionDays: limits.retentionDays, logger: log });
  const sweep = (at: Date = now()) => sweepAt(at);

  // ---- lookups ----------------------------------------------------------------------------

  function find(jobId: string): Job | Refusal {
    const job = table.get(jobId);
    if (job) return job;
    const broken = table.corrupt(jobId);
    if (broken) return refuse("corrupt", `Job ${jobId} cannot be read: ${broken.problem}`);
    return refuse("not-found", `There is no job ${jobId}. It may have finished long ago and been cleaned up.`);
  }

  const isRefusal = (value: Job | Refusal): value is Refusal => "ok" in value;
  const positionOf = (jobId: string): number | null => admission.positionOf(jobId, isDraining);

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
    const { record } = job;
    return { ...summaryOf(job), surfaceRef: structuredClone(record.surfaceRef), trajectory: structuredClone(record.trajectory), votes: countVotes(record.votes ?? []) };
  }

  function notTaking(): Refusal | null {
    return isDraining || isClosed ? refuse("unavailable", "GEMS Bot is restarting. Try again in a minute.") : null;
  }

  const leftoverFeedback = (job: Job): void => {
    void runner.applyLeftoverFeedback(job).catch((error: unknown) => log.error({ err: error, jobId: job.record.jobId }, "could not apply leftover feedback"));
  };

  // ---- the service ------------------------------------------------------------------------

  return {
    async start() {
      if (isStarted) throw new Error("The job service is already started.");
      const loaded = await table.load();
      const nowMs = now().getTime();
      let resumed = 0;
      for (const broken of loaded.corrupt) {
        table.markCorrupt(broken);
        log.error({ jobId: broken.jobId, problem: broken.problem }, "skipped a job whose stored record is corrupt");
      }
      for (const record of loaded.records) {
        const job = table.add(record);
        const { status, createdAt } = record.trajectory;
        const isUnfinished = status === "running" || status === "queued";
        admission.restore(record.jobId, record.requester.id, Date.parse(createdAt), isUnfinished ? status : "finished", nowMs);
        if (isUnfinished) resumed++;
        else if (record.pendingFeedback.length > 0) leftoverFeedback(job);
      }
      isStarted = true;
      await sweep().catch((error: unknown) => log.error({ err: error }, "the retention sweep failed"));
      sweepTimer = setInterval(() => {
        void sweep().catch((error: unknown) => log.error({ err: error }, "the retention sweep failed"));
      }, deps.sweepIntervalMs ?? HOUR_MS);
      // The sweep is housekeeping; it must not keep a finished process alive.
      sweepTimer.unref();
      runner.schedule();
      delivery.kickAll();
      log.info({ loaded: loaded.records.length, resumed, corrupt: loaded.corrupt.length }, "job service started");
      return { loaded: loaded.records.length, resumed, corrupt: table.corruptJobs() };
    },

    async submit(input: JobRequestInput, requester: Person, surfaceRef: SurfaceRef) {
      // A surface may connect before the stores are loaded; that is a moment to wait, not a bug.
      if (!isStarted && !isClosed) return refuse("unavailable", "GEMS Bot is starting. Try again in a few seconds.");
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
      const overQuota = await deps.quota?.(requester, surfaceRef);
      if (overQuota) return refuse("quota", overQuota);
      const at = now();
      const refused = admission.admitNew(requester, at.getTime());
      if (refused) return refused;
      let jobId = createJobId();
      while (table.has(jobId)) jobId = createJobId();
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
      // Queued before the first write so two quick submits see each other's place in line.
      admission.enqueue(jobId, requester.id);
      const position = positionOf(jobId) ?? 0;
      try {
        // Runs only once stored: a job the store refused must leave no trace.
        await commit(job, job.record.trajectory, [{ type: "job.queued", position }]);
      } catch (error) {
        admission.remove(jobId);
        table.forget(jobId);
        admission.undoNew(requester.id, at.getTime());
        log.error({ err: error, jobId }, "could not store a new job");
        return refuse("storage", error instanceof GemsError ? error.message : `Could not save the job: ${describeError(error)}`);
      }
      runner.schedule();
      log.info({ jobId, user: requester.id, position }, "job queued");
      return { ok: true, jobId, position };
    },

    async cancel(jobId, by) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      const denied = checkControl("stop", job.record.requester, by, limits.admins);
      if (denied) return denied;
      return table.withLock(job, async (): Promise<Result<{ best: ReturnType<typeof bestOf> }>> => {
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
          admission.remove(jobId);
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
      return table.withLock(job, async (): Promise<Result<{ best: NonNullable<ReturnType<typeof bestOf>> }>> => {
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
          admission.remove(jobId);
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
      return table.withLock(job, async (): Promise<Result<{ position: number }>> => {
        const { record } = job;
        const t = structuredClone(record.trajectory);
        if (t.status === "running") return refuse("conflict", "This job is still running. Wait for it to finish, or stop it first.");
        if (t.status === "queued") return refuse("conflict", "This job is still waiting to run.");
        const problem = continueProblem(t, extraIterations, record.pendingFeedback.length > 0);
        if (problem) return refuse("input", problem);
        const refused = admission.admitContinue(record.requester);
        if (refused) return refused;
        applyContinue(t, extraIterations);
        t.updatedAt = now().toISOString();
        notePreference(record, t, now());
        admission.enqueue(jobId, record.requester.id);
        const position = positionOf(jobId) ?? 0;
        const failed = await commitOrRestore(job, t, [{ type: "job.queued", position }]);
        if (failed) {
          admission.remove(jobId);
          return failed;
        }
        runner.schedule();
        log.info({ jobId, by: by.id, extraIterations }, "job continued");
        return { ok: true, position };
      });
    },

    async addFeedback(jobId, author, text, images): Promise<FeedbackResult> {
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
        if (images && images.length > MAX_REFERENCE_IMAGES) {
          throw new InputError(`${images.length} images came with the feedback; the limit is ${MAX_REFERENCE_IMAGES}. Attach the ones that matter most.`);
        }
      } catch (error) {
        if (error instanceof InputError) return refuse("input", error.message);
        throw error;
      }
      return table.withLock(job, async (): Promise<FeedbackResult> => {
        const { record } = job;
        // Stored before it is acknowledged, so a crash cannot lose it.
        const entry: PendingFeedback = {
          author: { id: author.id, name: author.name },
          text: checked,
          receivedAt: now().toISOString(),
          ...(images && images.length > 0 ? { imageHashes: [...images] } : {}),
        };
        record.pendingFeedback.push(entry);
        try {
          await table.persist(job);
        } catch (error) {
          record.pendingFeedback = record.pendingFeedback.filter((p) => p !== entry);
          log.error({ err: error, jobId }, "could not store feedback");
          return refuse("storage", error instanceof GemsError ? error.message : `Could not save the feedback: ${describeError(error)}`);
        }
        if (!isFinished(record.trajectory.status) || isDraining) return { ok: true, isApplied: false, questions: [] };
        const t = structuredClone(record.trajectory);
        const before = record.events.length;
        try {
          const input = { author: author.name, text: checked, ...(entry.imageHashes ? { imageHashes: entry.imageHashes } : {}) };
          await applyFeedback(t, input, { mllm, images: deps.images, commit: (next, events) => commit(job, next, events) }, undefined, now);
        } catch (error) {
          log.warn({ err: error, jobId }, "could not apply feedback to a finished job; kept for when it continues");
          return { ok: true, isApplied: false, questions: [] };
        }
        const added = record.events.slice(before).find((e) => e.type === "feedback.added");
        return { ok: true, isApplied: true, questions: added?.type === "feedback.added" ? added.questions : [] };
      });
    },

    vote: (jobId, voter, iteration, action) => {
      const job = find(jobId);
      return isRefusal(job) ? Promise.resolve(job) : voting.vote(job, voter, iteration, action);
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
        await table.persist(job);
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

    sweep,

    corruptJobs() {
      return table.corruptJobs();
    },

    metrics() {
      return {
        jobs: table.size,
        queued: admission.queued,
        running: admission.running,
        generatorInFlight: slots.generator.inFlight,
        generatorWaiting: slots.generator.waiting,
        mllmInFlight: slots.mllm.inFlight,
        mllmWaiting: slots.mllm.waiting,
        modelCalls: modelCalls.snapshot(),
        modelCallBucketsSeconds: MODEL_CALL_BUCKETS_SECONDS,
      };
    },

    drain(options = {}) {
      draining ??= (async () => {
        isDraining = true;
        clearInterval(sweepTimer);
        const runs = table.runs();
        for (const run of runs) run.pause.abort();
        const settled = (async () => {
          await Promise.allSettled(runs.map((run) => run.done));
          await Promise.allSettled([...table.values()].map((job) => job.lock));
          await delivery.settle();
          await table.flush();
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
      const runs = table.runs();
      for (const run of runs) run.controller.abort();
      // Aborted calls end quickly; a model call that ignores its signal is not worth hanging on.
      await Promise.race([
        Promise.allSettled(runs.map((run) => run.done)),
        new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref()),
      ]);
      await table.settle();
      await store.close();
      await backend.close();
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
