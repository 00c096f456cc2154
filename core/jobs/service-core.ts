/**
 * What both shapes of the job service are built from, wired the same way: the models behind the
 * backend's call slots, the table of records over the backend's store, delivery, the commit,
 * the runner, the sweeper, intake and views, and the service's lifecycle (timers, drain with a
 * timeout, the start of close). The single-process service (job-service.ts) and the distributed
 * one (distributed/distributed-job-service.ts) add only what differs: who hands jobs to the
 * runner, and how other processes learn of a change.
 */
import { createRepeatedErrorLog } from "../logger.ts";
import { waitAtMost } from "../bounded-wait.ts";
import type { Logger } from "pino";
import type { AgentEvent } from "../agent/events.ts";
import type { ImageStore } from "../memory/stores.ts";
import type { LoopModes, ModelNames } from "../memory/trajectory.ts";
import type { ImageGenerator, Mllm } from "../models/ports.ts";
import { sleepUnlessAborted, type Sleep } from "../models/retry.ts";
import type { SkillLibrary } from "../skills/types.ts";
import type { RunQueue } from "./admission.ts";
import type { JobBackend } from "./backend.ts";
import type { Delivery } from "./event-delivery.ts";
import { createCommitter, type Committer } from "./job-commit.ts";
import { createJobIntake, type JobIntake } from "./job-intake.ts";
import { createJobRunner, type JobRunner } from "./job-runner.ts";
import type { LoadedJobs } from "./job-store.ts";
import { JobTable, type Job, type Run } from "./job-table.ts";
import { createJobViews, isRefusal, refuse, RESTARTING, STARTING, storageRefusal, type JobViews } from "./job-views.ts";
import type { JobLimits } from "./limits.ts";
import { limitGenerator, limitMllm } from "./limited-models.ts";
import { MODEL_CALL_BUCKETS_SECONDS, ModelCallStats } from "./model-call-stats.ts";
import { createSweeper } from "./sweeper.ts";
import { surfaceProblem } from "./job-intake.ts";
import type { JobRequestInput } from "../agent/request.ts";
import type { JobRequest } from "../memory/trajectory.ts";
import type { JobRecord, Person, JobService, JobServiceMetrics, Refusal, Result, SurfaceRef, SweepReport } from "./types.ts";
import { costViewOf, NO_PRICES, type PriceTable, type QuotaCheck } from "./usage-ledger.ts";

/** What every job service is given, whichever its shape. */
export interface JobServiceBaseDeps {
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  images: ImageStore;
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
  /** Daily quotas (usage-ledger.ts): asked at submit and before each iteration; a message refuses or stops. */
  quota?: QuotaCheck;
  /** Prices for the cost put on each job's final event; default none (tokens and images only). */
  prices?: PriceTable;
  /** How new jobs verify and refine (stored with each job); default the reference loop. */
  modes?: LoopModes;
}

export interface CoreSetup {
  backend: JobBackend;
  /** The service's logger (component, and role and instance when scaled out). */
  log: Logger;
  /** Where the runner takes jobs from in this process, and counts running ones. */
  runQueue: RunQueue;
  positionOf(record: JobRecord): number | null;
  /** Whether the runner may start queued jobs by itself (one process) or is handed them (a worker). */
  isSelfScheduling: boolean;
  /** A commit is stored (after delivery was told): scaled out, other processes hear of it. */
  committed?(jobId: string): void;
  /** Just before a run's commit (scaled out: feedback and votes stored by other processes). */
  beforeRunCommit?(job: Job, events: AgentEvent[]): Promise<void>;
  runEnded?(job: Job): void;
  shouldRecordUnstoredFailure?(error: unknown): boolean;
}

export interface ServiceState {
  isStarted: boolean;
  isDraining: boolean;
  isClosed: boolean;
}

export interface ServiceCore extends Committer {
  state: ServiceState;
  log: Logger;
  now: () => Date;
  sleep: Sleep;
  table: JobTable;
  delivery: Delivery;
  runner: JobRunner;
  /** The models behind the call slots, for feedback applied outside a run. */
  mllm: Mllm;
  views: JobViews;
  intake: JobIntake;
  sweep(at?: Date): Promise<SweepReport>;
  /** Runs `task` every `ms` until drain or close (unref'd: housekeeping keeps no process alive). */
  every(ms: number, task: () => Promise<unknown>, failure: string, level?: "warn" | "error"): void;
  /** The retention sweep every `sweepIntervalMs` (default hourly) until drain or close. */
  sweepPeriodically(): void;
  /** Adds loaded records to the table; corrupt ones are logged and answered as corrupt. */
  adopt(loaded: LoadedJobs): Job[];
  /** Why new work is refused now (starting, draining, closed), or null. */
  notTaking(): Refusal | null;
  /** A submit up to admission: taking work, the input and the quota; then a fresh id and the time. */
  acceptSubmit(input: JobRequestInput, requester: Person, surfaceRef: SurfaceRef): Promise<Refusal | { request: JobRequest; jobId: string; at: Date }>;
  metrics(counts: { queued: number; running: number }): JobServiceMetrics;
  /** drain(): stops taking work, pauses runs at their step boundary, settles delivery and writes. */
  drain(timeoutMs: number | undefined, hooks: { afterRuns?: () => Promise<void>; resumesWhere: string }): Promise<void>;
  /** The first part of close(): nothing new starts, nothing more is delivered, every run is aborted. */
  beginClose(): Run[];
  /** The parts of the API that read what this process holds, the same in both shapes. */
  reads: Pick<JobService, "status" | "list" | "events" | "corruptJobs" | "subscribe" | "sweep">;
  /** `isLocked`: waits for the job's other operations (scaled out, a claim may be refreshing the record). */
  setSurfaceRef(jobId: string, surfaceRef: SurfaceRef, options: { isLocked: boolean }): Promise<Result>;
}

const HOUR_MS = 60 * 60 * 1000;

export function createServiceCore(deps: JobServiceBaseDeps, setup: CoreSetup): ServiceCore {
  const { limits, images, skills } = deps;
  const { backend, log } = setup;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? sleepUnlessAborted;
  const state: ServiceState = { isStarted: false, isDraining: false, isClosed: false };
  const isClosed = (): boolean => state.isClosed;
  const timers: NodeJS.Timeout[] = [];
  let draining: Promise<void> | undefined;

  const modelCalls = new ModelCallStats();
  const mllm = limitMllm(deps.mllm, backend.slots.mllm, modelCalls);
  const generator = limitGenerator(deps.generator, backend.slots.generator, modelCalls);

  const table = new JobTable(backend.store, isClosed);
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
    ...(limits.resultBy ? { resultBy: limits.resultBy } : {}),
    usageOf: (t) => costViewOf(t, usageModels, deps.prices ?? NO_PRICES),
    table,
    now,
    logger: log,
    isClosed,
    committed: (jobId) => {
      delivery.kick(jobId);
      setup.committed?.(jobId);
    },
  });
  const runner = createJobRunner({
    mllm,
    generator,
    skills,
    images,
    limits,
    table,
    runQueue: setup.runQueue,
    logger: log,
    agentLogger: deps.logger,
    ...(deps.modelNames ? { modelNames: deps.modelNames } : {}),
    ...(deps.quota ? { quota: deps.quota } : {}),
    now,
    sleep,
    commit: setup.beforeRunCommit
      ? async (job, t, events) => {
          await setup.beforeRunCommit?.(job, events);
          return commit(job, t, events);
        }
      : commit,
    eventsAdded: (jobId) => delivery.kick(jobId),
    isTakingWork: () => setup.isSelfScheduling && state.isStarted && !state.isDraining && !state.isClosed,
    isDraining: () => state.isDraining,
    isClosed,
    ...(setup.runEnded ? { runEnded: setup.runEnded } : {}),
    ...(setup.shouldRecordUnstoredFailure ? { shouldRecordUnstoredFailure: setup.shouldRecordUnstoredFailure } : {}),
  });
  const sweepAt = createSweeper({ table, images, retentionDays: limits.retentionDays, logger: log });
  const sweep = (at: Date = now()): Promise<SweepReport> => sweepAt(at);
  const stopTimers = (): void => {
    for (const timer of timers) clearInterval(timer);
  };
  const views = createJobViews(table, setup.positionOf);

  function every(ms: number, task: () => Promise<unknown>, failure: string, level: "warn" | "error" = "warn"): void {
    // A store or Redis that is down fails every round: said once a minute, not every round.
    const report = createRepeatedErrorLog(log, failure, { level });
    const timer = setInterval(() => {
      void task().catch(report);
    }, ms);
    timer.unref();
    timers.push(timer);
  }
  const intake = createJobIntake({ skills, limits, now, ...pick(deps) });

  function notTaking(): Refusal | null {
    if (state.isDraining || state.isClosed) return refuse("unavailable", RESTARTING);
    if (!state.isStarted) return refuse("unavailable", STARTING);
    return null;
  }

  async function changeSurfaceRef(job: Job, surfaceRef: SurfaceRef): Promise<Result> {
    const before = job.record.surfaceRef;
    job.record.surfaceRef = structuredClone(surfaceRef);
    try {
      await table.persist(job);
    } catch (error) {
      job.record.surfaceRef = before;
      return storageRefusal(error, "the job");
    }
    delivery.kick(job.record.jobId);
    return { ok: true };
  }

  return {
    state,
    log,
    now,
    sleep,
    table,
    delivery,
    runner,
    mllm,
    commit,
    commitOrRestore,
    views,
    intake,
    sweep,

    every,

    sweepPeriodically() {
      every(deps.sweepIntervalMs ?? HOUR_MS, () => sweep(), "the retention sweep failed", "error");
    },

    adopt(loaded) {
      for (const broken of loaded.corrupt) {
        table.markCorrupt(broken);
        log.error({ jobId: broken.jobId, problem: broken.problem }, "skipped a job whose stored record is corrupt");
      }
      return loaded.records.map((record) => table.add(record));
    },

    notTaking,

    async acceptSubmit(input, requester, surfaceRef) {
      const closed = notTaking();
      if (closed) return closed;
      const checked = await intake.checkSubmit(input, requester, surfaceRef);
      if ("ok" in checked) return checked;
      return { request: checked.request, jobId: intake.newJobId((id) => table.has(id)), at: now() };
    },

    metrics({ queued, running }) {
      const { slots } = backend;
      return {
        jobs: table.size,
        queued,
        running,
        generatorInFlight: slots.generator.inFlight,
        generatorWaiting: slots.generator.waiting,
        mllmInFlight: slots.mllm.inFlight,
        mllmWaiting: slots.mllm.waiting,
        modelCalls: modelCalls.snapshot(),
        modelCallBucketsSeconds: MODEL_CALL_BUCKETS_SECONDS,
      };
    },

    drain(timeoutMs, hooks) {
      draining ??= (async () => {
        state.isDraining = true;
        stopTimers();
        const runs = table.runs();
        for (const run of runs) run.pause.abort();
        const settled = (async () => {
          await Promise.allSettled(runs.map((run) => run.done));
          await hooks.afterRuns?.();
          await Promise.allSettled([...table.values()].map((job) => job.lock));
          await delivery.settle();
          await table.flush();
        })();
        if (timeoutMs === undefined) return settled;
        if (!(await waitAtMost(settled, timeoutMs)).isDone) log.warn({ timeoutMs }, `drain timed out; unfinished steps resume ${hooks.resumesWhere}`);
      })();
      return draining;
    },

    reads: {
      status: views.status,
      list: views.list,
      events: views.events,
      corruptJobs: views.corruptJobs,
      subscribe: (surface, handler, options) => delivery.subscribe(surface, handler, options),
      sweep,
    },

    async setSurfaceRef(jobId, surfaceRef, { isLocked }) {
      const job = views.find(jobId);
      if (isRefusal(job)) return job;
      const noSurface = surfaceProblem(surfaceRef);
      if (noSurface) return noSurface;
      return isLocked ? table.withLock(job, () => changeSurfaceRef(job, surfaceRef)) : changeSurfaceRef(job, surfaceRef);
    },

    beginClose() {
      state.isClosed = true;
      state.isDraining = true;
      stopTimers();
      delivery.stop();
      const runs = table.runs();
      for (const run of runs) run.controller.abort();
      return runs;
    },
  };
}

function pick(deps: JobServiceBaseDeps): Pick<JobServiceBaseDeps, "quota" | "modes" | "createJobId"> {
  return {
    ...(deps.quota ? { quota: deps.quota } : {}),
    ...(deps.modes ? { modes: deps.modes } : {}),
    ...(deps.createJobId ? { createJobId: deps.createJobId } : {}),
  };
}
