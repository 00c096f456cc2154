/** What pick and continue do to a job's memory, apart from the service's bookkeeping. */
import { nextStep } from "../agent/run-job.ts";
import type { BestImage, Trajectory, TrajectoryStatus } from "../memory/trajectory.ts";
import { MAX_EXTRA_ITERATIONS, MAX_TOTAL_ITERATIONS } from "./limits.ts";
import type { JobRecord, Refusal } from "./types.ts";

export function isFinished(status: TrajectoryStatus): boolean {
  return status === "done" || status === "failed" || status === "cancelled";
}

/** Why iteration `n` cannot be picked, or null when it can. */
export function pickProblem(t: Trajectory, n: number): string | null {
  const withImages = t.iterations.filter((it) => it.imageHash !== null).map((it) => it.n);
  if (withImages.length === 0) return "This job has no image yet, so there is nothing to pick.";
  const iteration = t.iterations.find((it) => it.n === n);
  if (!Number.isInteger(n) || iteration === undefined || iteration.imageHash === null) {
    return `Iteration ${String(n)} has no image. Pick one of: ${withImages.join(", ")}.`;
  }
  return null;
}

/** Ends the job with iteration `n`'s image as its result; check pickProblem first. */
export function applyPick(t: Trajectory, n: number): BestImage {
  const iteration = t.iterations.find((it) => it.n === n);
  if (!iteration || iteration.imageHash === null) throw new Error(`iteration ${n} has no image to pick`);
  const best: BestImage = { n, imageHash: iteration.imageHash, passed: iteration.passed, total: iteration.total };
  t.best = best;
  t.status = "done";
  t.stopReason = "picked";
  t.error = null;
  return best;
}

/**
 * Opens a finished job for `extra` more iterations from its memory, or says why not. `extra`
 * counts new iterations from where the job stopped, whatever its original maximum was.
 */
export function continueProblem(t: Trajectory, extra: number, hasPendingFeedback: boolean): string | null {
  if (!Number.isInteger(extra) || extra < 1 || extra > MAX_EXTRA_ITERATIONS) {
    return `Continue with 1 to ${MAX_EXTRA_ITERATIONS} more iterations (got ${String(extra)}).`;
  }
  if (t.iterations.length >= MAX_TOTAL_ITERATIONS) {
    return `This job already has ${t.iterations.length} iterations, the most one job may have. Start a new job instead.`;
  }
  const probe = structuredClone(t);
  probe.request.maxIterations = Math.min(MAX_TOTAL_ITERATIONS, t.iterations.length + extra);
  // Feedback waiting to be applied can add questions; without it, a job whose last image passed
  // everything would only stop again at once.
  const step = nextStep(probe);
  if (!hasPendingFeedback && step.kind === "finish" && step.reason === "all-passed") {
    return `Every requirement already passed on iteration ${t.iterations.at(-1)?.n ?? 0}. Add feedback saying what to change, then continue.`;
  }
  return null;
}

/** Applies what continueProblem allowed: a higher maximum and the job queued again. */
export function applyContinue(t: Trajectory, extra: number): void {
  t.request.maxIterations = Math.min(MAX_TOTAL_ITERATIONS, t.iterations.length + extra);
  t.status = "queued";
  t.stopReason = null;
  t.error = null;
}

/** Why a job cannot be continued now, as the refusal the person gets; null when it can. */
export function continueRefusal(record: JobRecord, extra: number): Refusal | null {
  const t = record.trajectory;
  if (t.status === "running") return { ok: false, reason: "conflict", message: "This job is still running. Wait for it to finish, or stop it first." };
  if (t.status === "queued") return { ok: false, reason: "conflict", message: "This job is still waiting to run." };
  const problem = continueProblem(t, extra, record.pendingFeedback.length > 0);
  return problem ? { ok: false, reason: "input", message: problem } : null;
}
