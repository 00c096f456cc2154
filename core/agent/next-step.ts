/**
 * What the loop does next, derived from memory alone: the state machine's transition function.
 * A job restarted from its last commit reads the same memory and so takes the same next step.
 */
import { TEXT_ONLY, type GeneratorCapabilities } from "../models/ports.ts";
import { activeRequirements, type IterationRecord, type Requirement, type StopReason, type Trajectory } from "../memory/trajectory.ts";

export type Step =
  | { kind: "prepare" }
  | { kind: "start" }
  | { kind: "generate"; iteration: IterationRecord }
  | { kind: "verify"; iteration: IterationRecord; pending: Requirement[] }
  | { kind: "compress"; iteration: IterationRecord }
  | { kind: "refine"; iteration: IterationRecord }
  /** GEMS_LOOP=fast: the experience and the next prompt in one call, committed together. */
  | { kind: "revise"; iteration: IterationRecord }
  /** GEMS_REFINE_MODE=edit: an instruction that repairs the best image, instead of (or on top of) a new prompt. */
  | { kind: "edit"; iteration: IterationRecord; source: IterationRecord }
  | { kind: "finish"; reason: StopReason };

/**
 * What the loop does next, read from memory alone (and from what the generator can take, which
 * decides whether an edit is possible at all).
 */
export function nextStep(trajectory: Trajectory, capabilities: GeneratorCapabilities = TEXT_ONLY): Step {
  if (trajectory.plan === null || trajectory.requirements === null) return { kind: "prepare" };
  const last = trajectory.iterations.at(-1);
  const maxReached = trajectory.iterations.length >= trajectory.request.maxIterations;
  if (!last) return { kind: "start" };
  if (last.error !== undefined) return maxReached ? { kind: "finish", reason: "max-iterations" } : { kind: "start" };
  if (last.imageHash === null) return { kind: "generate", iteration: last };
  const active = activeRequirements(trajectory);
  const checked = new Set(last.verdicts.map((v) => v.requirementId));
  const pending = active.filter((r) => !checked.has(r.id));
  if (!last.isVerified || pending.length > 0) return { kind: "verify", iteration: last, pending };
  if (last.passed === last.total) return { kind: "finish", reason: "all-passed" };
  if (maxReached) return { kind: "finish", reason: "max-iterations" };
  if (last.experience === null) return { kind: trajectory.modes.loop === "fast" ? "revise" : "compress", iteration: last };
  const source = editSource(trajectory, capabilities);
  // The full loop's editor replaces its refiner; the fast loop's revision already wrote a prompt,
  // which stays as the prompt a redraw would use.
  if (trajectory.nextPrompt === null) return source ? { kind: "edit", iteration: last, source } : { kind: "refine", iteration: last };
  if (source && trajectory.modes.loop === "fast" && trajectory.nextPrompt.edit === undefined && !isDecidedRedraw(trajectory)) {
    return { kind: "edit", iteration: last, source };
  }
  return { kind: "start" };
}

/**
 * The iteration whose image the next attempt should edit, or null to redraw: edit-to-fix is on,
 * the generator can edit, and the last attempt was not an edit that made things worse (fewer
 * passes than the image it started from), which falls back to one full redraw.
 */
export function editSource(t: Trajectory, capabilities: GeneratorCapabilities): IterationRecord | null {
  if (t.modes.refine !== "edit" || !capabilities.edit || t.best === null) return null;
  const last = t.iterations.at(-1);
  if (!last) return null;
  if (last.edit) {
    const from = t.iterations[last.edit.fromN - 1];
    if (from && last.passed < from.passed) return null;
  }
  return t.iterations[t.best.n - 1] ?? null;
}

/** The fast loop's revision of a worse edit stays a redraw: its prompt carries a marker thought. */
const isDecidedRedraw = (t: Trajectory): boolean => t.nextPrompt?.thought?.startsWith(REDRAW_NOTE) === true;

/** Marks a prompt the fast loop wrote as a redraw after a worse edit (planEdit writes it too). */
export const REDRAW_NOTE = "Redraw:";
