/**
 * Running: takes queued jobs as admission allows, runs the GEMS loop over each job's memory
 * (runJob resumes from the last committed step), waits out model outages within the budget, and
 * applies feedback that arrived after a job finished. Every step goes through the host's commit,
 * which stores it and hands its events to delivery.
 */
import type { QuotaCheck } from "./usage-ledger.ts";
import type { Logger } from "pino";
import { applyFeedback, bestView, runJob, type AgentDeps, type FeedbackInput, type RunControls } from "../agent/run-job.ts";
import type { AgentEvent } from "../agent/events.ts";
import { validateFeedbackText } from "../agent/request.ts";
import { GemsError, describeError } from "../errors.ts";
import type { ImageStore } from "../memory/stores.ts";
import type { ModelNames, Trajectory } from "../memory/trajectory.ts";
import type { ImageGenerator, Mllm } from "../models/ports.ts";
import type { Sleep } from "../models/retry.ts";
import type { SkillLibrary } from "../skills/types.ts";
import type { RunQueue } from "./admission.ts";
import { isFinished } from "./job-actions.ts";
import type { Job, JobTable, Run } from "./job-table.ts";
import type { JobLimits } from "./limits.ts";
import { isOutage, outageDelayMs } from "./outage.ts";
import { notePreference } from "./voting.ts";

export interface JobRunnerHost {
  /** The models behind the shared call limits. */
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  images: ImageStore;
  limits: JobLimits;
  table: JobTable;
  /** Where jobs wait to start in this process, and the count of running ones. */
  runQueue: RunQueue;
  logger: Logger;
  /** The root logger runJob logs under. */
  agentLogger: Logger;
  /** How the models are named in trajectories and image provenance. */
  modelNames?: ModelNames;
  /** Daily quotas (usage-ledger.ts), asked before each new iteration: a message stops the job with reason "quota". */
  quota?: QuotaCheck;
  now: () => Date;
  sleep: Sleep;
  commit(job: Job, t: Trajectory, events: AgentEvent[]): Promise<void>;
  /** New events exist that were stored without commit (an unstored failure). */
  eventsAdded(jobId: string): void;
  /** Started, not draining, not closed. */
  isTakingWork(): boolean;
  isDraining(): boolean;
  isClosed(): boolean;
  /**
   * Replaces what happens when a run ends (by default: apply leftover feedback, start the next
   * queued job). The distributed worker hands the end back to its queue instead.
   */
  runEnded?(job: Job): void;
  /** Whether a run that could not store its outcome records the failure; default yes. */
  shouldRecordUnstoredFailure?(error: unknown): boolean;
}

export interface JobRunner {
  /** Starts queued jobs while admission has room for them. */
  schedule(): void;
  /** Applies feedback that is still pending on a finished job, one entry at a time. */
  applyLeftoverFeedback(job: Job): Promise<void>;
  /** The job's pending feedback that is still valid, in arrival order (drops invalid entries). */
  pendingInputs(job: Job): FeedbackInput[];
  /** Runs one job now, outside admission's queue; resolves when the run ended. */
  run(job: Job): Promise<void>;
}

export function createJobRunner(host: JobRunnerHost): JobRunner {
  const { limits, table, runQueue, now, sleep } = host;
  const log = host.logger;

  function agentDeps(job: Job): AgentDeps {
    return {
      mllm: host.mllm,
      generator: host.generator,
      skills: host.skills,
      images: host.images,
      commit: (t, events) => host.commit(job, t, events),
      verifyConcurrency: limits.verifyConcurrency,
      logger: host.agentLogger,
      now,
      ...(limits.previewIntervalMs !== undefined ? { previews: { intervalMs: limits.previewIntervalMs } } : {}),
      ...(host.modelNames ? { modelNames: host.modelNames } : {}),
    };
  }

  function pendingInputs(job: Job): FeedbackInput[] {
    const { record } = job;
    if (record.trajectory.status === "running") notePreference(record, record.trajectory, now());
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
    return record.pendingFeedback.map((p) => ({
      author: p.author.name,
      text: p.text,
      ...(p.imageHashes ? { imageHashes: p.imageHashes } : {}),
      ...(p.isNote ? { isNote: true } : {}),
    }));
  }

  async function waitOutOutage(run: Run, jobId: string, error: GemsError): Promise<boolean> {
    if (!isOutage(error)) return false;
    const nowMs = now().getTime();
    run.outageStartedMs ??= nowMs;
    const delayMs = outageDelayMs(run.outageStartedMs, nowMs, run.outageWaits, limits.outageBudgetMs);
    if (delayMs === null) {
      log.warn({ jobId, outageMs: nowMs - run.outageStartedMs }, "models or the database still failing after the outage budget; the job fails");
      return false;
    }
    run.outageWaits++;
    log.warn({ jobId, delayMs, problem: error.message }, "models or the database failing; waiting before trying the step again");
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
    runQueue.started(requester.id);
    const controls: RunControls = {
      signal: run.controller.signal,
      pause: run.pause.signal,
      drainFeedback: () => pendingInputs(job),
      retryAfterFailure: (error) => waitOutOutage(run, job.record.jobId, error),
      ...(host.quota ? { beforeIteration: () => host.quota!(job.record.requester, job.record.surfaceRef) } : {}),
    };
    run.done = (async () => {
      try {
        // The record's first write may still be running; the run's writes queue behind it anyway.
        await runJob(structuredClone(job.record.trajectory), agentDeps(job), controls);
      } catch (error) {
        // runJob only throws when even its failure could not be stored, or the service closed.
        if (!host.isClosed() && (host.shouldRecordUnstoredFailure?.(error) ?? true)) await recordUnstoredFailure(job, error);
      }
    })().finally(() => {
      job.run = null;
      runQueue.finished(requester.id);
      if (host.isClosed()) return;
      if (host.runEnded) return host.runEnded(job);
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
    await table.persist(job).catch((persistError: unknown) => log.error({ err: persistError, jobId: record.jobId }, "the failure could not be stored either"));
    host.eventsAdded(record.jobId);
  }

  /** A job in line may start once its record says it is to run (a submit or continue may still be writing it). */
  function isReady(jobId: string): boolean {
    const job = table.get(jobId);
    return job !== undefined && !isFinished(job.record.trajectory.status);
  }

  function schedule(): void {
    if (!host.isTakingWork()) return;
    for (;;) {
      const jobId = runQueue.takeNext(isReady);
      if (jobId === undefined) return;
      const job = table.get(jobId);
      if (job && !job.run) startRun(job);
    }
  }

  function applyLeftoverFeedback(job: Job): Promise<void> {
    return table.withLock(job, async () => {
      while (job.record.pendingFeedback.length > 0 && isFinished(job.record.trajectory.status) && !host.isDraining()) {
        const [input] = pendingInputs(job);
        if (!input) return;
        const t = structuredClone(job.record.trajectory);
        try {
          await applyFeedback(t, input, { mllm: host.mllm, images: host.images, commit: (next, events) => host.commit(job, next, events) }, undefined, now);
        } catch (error) {
          // It stays pending and joins the job if it is continued.
          log.warn({ err: error, jobId: job.record.jobId }, "could not apply feedback to a finished job");
          return;
        }
      }
    });
  }

  return {
    schedule,
    applyLeftoverFeedback,
    pendingInputs,
    run(job) {
      startRun(job);
      return job.run?.done ?? Promise.resolve();
    },
  };
}
