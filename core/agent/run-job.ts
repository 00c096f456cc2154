/**
 * The GEMS loop as a state machine over the trajectory: each pass reads the memory, runs the one
 * step that is missing, and commits the new memory with its events. Because the next step is
 * derived from what was stored, a job restarted from its last commit carries on where it was
 * and never repeats a finished step.
 */
import type { Logger } from "pino";
import type { ImageGenerator, Mllm } from "../models/ports.ts";
import type { ImageStore } from "../memory/stores.ts";
import type { SkillLibrary } from "../skills/types.ts";
import type { ModelNames, Trajectory } from "../memory/trajectory.ts";
import type { AgentEvent } from "./events.ts";
import { describeError, GemsError, InputError, isAbortError } from "../errors.ts";
import { addUsage, meterMllm } from "./usage.ts";
import type { PreviewSettings } from "./previews.ts";
import { applyFeedback } from "./feedback.ts";
import { bestView } from "./memory-views.ts";
import { nextStep } from "./next-step.ts";
import {
  capabilitiesOf,
  compress,
  generate,
  GenerationFailedError,
  planEdit,
  prepare,
  refine,
  revise,
  startIteration,
  throwIfAborted,
  verify,
  type Commit,
} from "./steps.ts";

// What the job service uses of the loop, besides runJob.
export { applyFeedback, rescore } from "./feedback.ts";
export { bestView } from "./memory-views.ts";
export { nextStep } from "./next-step.ts";

export interface AgentDeps {
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  images: ImageStore;
  /**
   * Persists the trajectory together with the events its latest step produced. Called after
   * every step; the events must not be delivered before the trajectory that explains them.
   * A live preview is committed without the loop waiting for it, so a call may come while an
   * earlier one is still running: events must be stored in call order.
   */
  commit(trajectory: Trajectory, events: AgentEvent[]): Promise<void>;
  /** How many verifier questions one job may have in flight. */
  verifyConcurrency: number;
  logger: Logger;
  now?: () => Date;
  /** Live previews while an image is drawn (core/agent/previews.ts); on by default. */
  previews?: PreviewSettings;
  /** How the models are named in the trajectory and image provenance; default the ports' names. */
  modelNames?: ModelNames;
}

export interface FeedbackInput {
  author: string;
  text: string;
  /** Images the person attached (hashes in the image store); they join the job's references. */
  imageHashes?: string[];
  /** Memory only (e.g. the team's preference from votes): no questions are derived from it. */
  isNote?: boolean;
}

export interface RunControls {
  signal?: AbortSignal;
  /** Feedback that arrived since the last step; drained at every step boundary. */
  drainFeedback?: () => FeedbackInput[];
  /**
   * Asked when a step fails (after the adapters' own retries), with how many times the job
   * has failed so far. Resolving true, typically after a backoff, resumes the job from memory;
   * false ends it as failed. Without it, the first failure ends the job.
   */
  retryAfterFailure?: (error: GemsError, failures: number) => Promise<boolean>;
  /**
   * Aborted when the service shuts down gracefully: unlike `signal`, the step in progress
   * finishes and is committed, then runJob returns with the job still "running", to be resumed.
   */
  pause?: AbortSignal;
  /**
   * Asked before each new iteration starts: a message (e.g. a daily quota used up) ends the job
   * as done with reason "quota", keeping its best image; null lets it go on.
   */
  beforeIteration?: () => Promise<string | null> | string | null;
}

/**
 * Runs (or resumes) a job until it finishes, fails or is cancelled. Never throws for model or
 * storage failures: they end the job as failed, keeping the best image so far.
 */
export async function runJob(trajectory: Trajectory, deps: AgentDeps, controls: RunControls = {}): Promise<Trajectory> {
  const t = trajectory;
  const { signal } = controls;
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ jobId: t.jobId });
  const commit = async (...events: AgentEvent[]): Promise<void> => {
    t.updatedAt = now().toISOString();
    await deps.commit(t, events);
  };

  // Only a job stored as running was interrupted (crash, kill -9, drain); a continued job comes
  // back queued, and surfaces must not announce that as a restart.
  const resumed = t.status === "running";
  t.status = "running";
  t.stopReason = null;
  t.error = null;
  t.models = { ...(deps.modelNames ?? { mllm: deps.mllm.name, generator: deps.generator.name }) };
  await commit({ type: "job.started", resumed, models: { ...t.models } });

  const cancel = async (): Promise<Trajectory> => {
    t.status = "cancelled";
    t.stopReason = "stopped";
    await commit({ type: "job.cancelled", best: bestView(t.best) });
    log.info("job cancelled");
    return t;
  };

  for (let failures = 1; ; failures++) {
    try {
      return await advanceUntilFinished(t, deps, controls, commit, log, now);
    } catch (error) {
      if (isAbortError(error) || signal?.aborted) return cancel();
      const message = error instanceof GemsError ? error.message : `Unexpected error: ${describeError(error)}`;
      let isRetrying = false;
      if (controls.retryAfterFailure && error instanceof GemsError && error.code !== "input") {
        log.warn({ err: error, failures }, "step failed");
        try {
          isRetrying = await controls.retryAfterFailure(error, failures);
        } catch (waitError) {
          if (isAbortError(waitError) || signal?.aborted) return cancel();
          throw waitError;
        }
      }
      // Memory holds every finished step, so trying again resumes where the failure struck.
      if (isRetrying) continue;
      log.error({ err: error }, "job failed");
      t.status = "failed";
      t.error = message;
      const events: AgentEvent[] = [];
      const last = t.iterations.at(-1);
      if (error instanceof GenerationFailedError && last && last.imageHash === null) {
        last.error = message;
        events.push({ type: "iteration.failed", n: last.n, error: message });
      }
      events.push({ type: "job.failed", error: message, best: bestView(t.best) });
      await commit(...events);
      return t;
    }
  }
}

async function advanceUntilFinished(
  t: Trajectory,
  deps: AgentDeps,
  controls: RunControls,
  commit: Commit,
  log: Logger,
  now: () => Date,
): Promise<Trajectory> {
  const { signal } = controls;
  for (;;) {
    throwIfAborted(signal);
    if (controls.pause?.aborted) return t;
    // Feedback waits for the checklist: it may replace questions that do not exist yet.
    const inbox = t.requirements === null ? [] : (controls.drainFeedback?.() ?? []);
    for (const feedback of inbox) {
      try {
        await applyFeedback(t, feedback, deps, signal, now);
      } catch (error) {
        // The job service validates feedback before queueing it; a bad entry that slips
        // through is dropped with a log line rather than ending everyone's job.
        if (!(error instanceof InputError)) throw error;
        log.warn({ author: feedback.author, problem: error.message }, "feedback skipped");
      }
    }
    const step = nextStep(t, capabilitiesOf(deps.generator));
    log.debug({ step: step.kind, iteration: t.iterations.length }, "step");
    // The step's model usage is written with the step's own commit, under the iteration it is about.
    const metered = meterMllm(deps.mllm);
    const stepDeps: AgentDeps = { ...deps, mllm: metered.mllm };
    const stepCommit: Commit = (...events) => {
      addUsage(t, t.iterations.length, metered.take());
      return commit(...events);
    };
    switch (step.kind) {
      case "prepare":
        await prepare(t, stepDeps, stepCommit, signal);
        break;
      case "start": {
        const stop = await controls.beforeIteration?.();
        if (stop) {
          t.status = "done";
          t.stopReason = "quota";
          await commit({ type: "job.done", best: bestView(t.best), reason: "quota", message: stop });
          log.info({ reason: "quota", best: t.best }, "job stopped by a quota");
          return t;
        }
        await startIteration(t, commit, now);
        break;
      }
      case "generate":
        await generate(t, step.iteration, deps, commit, signal);
        break;
      case "verify":
        await verify(t, step.iteration, step.pending, stepDeps, stepCommit, signal);
        break;
      case "compress":
        await compress(t, step.iteration, stepDeps, stepCommit, signal);
        break;
      case "refine":
        await refine(t, step.iteration, stepDeps, stepCommit, signal);
        break;
      case "revise":
        await revise(t, step.iteration, stepDeps, stepCommit, signal);
        break;
      case "edit":
        await planEdit(t, step.iteration, step.source, stepDeps, stepCommit, signal);
        break;
      case "finish":
        t.status = "done";
        t.stopReason = step.reason;
        await commit({ type: "job.done", best: bestView(t.best), reason: step.reason });
        log.info({ reason: step.reason, best: t.best }, "job done");
        return t;
    }
  }
}

