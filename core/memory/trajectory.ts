import { regressedRequirementIds } from "./checklist.ts";

/**
 * The memory of one job, as in GEMS: fact anchors per iteration (prompt, image, verdicts), the
 * compressed experience, and what people said. Plain JSON so any Keyv backend can hold it.
 */

/** Where a requirement came from: the original request, or a person's feedback. */
export type RequirementSource = "prompt" | "feedback";

export interface Requirement {
  /** Stable within the job; verdicts refer to it. */
  id: number;
  question: string;
  source: RequirementSource;
  /** The feedback entry that added it, when `source` is "feedback". */
  feedbackId?: number;
  /** Set when later feedback replaced this requirement; it is no longer checked. */
  retiredByFeedbackId?: number;
}

export interface Verdict {
  requirementId: number;
  passed: boolean;
  /** The verifier's answer as given (trimmed), or the error that stood in for one. */
  answer: string;
  /** Why it failed when the answer was not a clear yes: "unsure", "empty answer", an error. */
  failure?: string;
}

export interface IterationRecord {
  /** 1-based. */
  n: number;
  prompt: string;
  /** The reasoning that produced this prompt (the refiner's, for n > 1). */
  thought: string | null;
  /** sha256 of the PNG in the image store; null until the generator returned. */
  imageHash: string | null;
  /** Empty until verification finished. */
  verdicts: Verdict[];
  passed: number;
  total: number;
  isVerified: boolean;
  /** The compressor's note (< 100 words), null until written or when it was not needed. */
  experience: string | null;
  startedAt: string;
  /** Set when the generator failed for this attempt; the loop goes on with the next one. */
  error?: string;
  /**
   * Requirements that passed in an earlier iteration and fail in this one (core/memory/checklist.ts),
   * kept current by every rescore. Absent in records written before regressions were counted;
   * `regressionsOf` derives them for those.
   */
  regressions?: number[];
  /** Set when this attempt edited an earlier image instead of drawing anew (GEMS_REFINE_MODE=edit). */
  edit?: EditRecord;
}

/** An attempt that edits the image of iteration `fromN` with `instruction`. */
export interface EditRecord {
  fromN: number;
  instruction: string;
}

export interface FeedbackEntry {
  id: number;
  author: string;
  text: string;
  /** The number of iterations that existed when it arrived. */
  atIteration: number;
  /** Requirements it added. */
  requirementIds: number[];
  /** Requirements it retired. */
  retiredRequirementIds: number[];
  addedAt: string;
  /** Hashes of images the person attached ("like this one"); they join the job's references. */
  imageHashes?: string[];
}

/** `auto` lets the planner choose, `none` forbids skills, anything else is a skill id. */
export type SkillChoice = "auto" | "none" | (string & {});

export interface JobRequest {
  prompt: string;
  skill: SkillChoice;
  maxIterations: number;
  seed?: number;
  /** Hashes (image store) of the reference images sent with the request; absent in older records. */
  referenceImages?: string[];
}

export interface Plan {
  skill: string | null;
  prompt: string;
  /** The planner's stated reason for the route, for display. */
  why: string | null;
}

/** `quota`: a daily usage quota was reached before the next iteration (core/jobs/usage-ledger.ts). */
export type StopReason = "all-passed" | "max-iterations" | "picked" | "stopped" | "quota";

export interface BestImage {
  n: number;
  imageHash: string;
  passed: number;
  total: number;
}

export type TrajectoryStatus = "queued" | "running" | "done" | "failed" | "cancelled";

/** `per-question`: one MLLM call per question (the reference's way); `batch`: one call per image. */
export type VerifyMode = "per-question" | "batch";
/** `full`: the compressor and the refiner are two calls; `fast`: one call writes both. */
export type LoopMode = "full" | "fast";

/** After a failed attempt: `redraw` writes a new prompt; `edit` repairs the best image so far (edit-to-fix). */
export type RefineMode = "redraw" | "edit";
export const REFINE_MODES: readonly RefineMode[] = ["redraw", "edit"];

/** How a job runs its loop. Stored with the job, so a resumed job keeps the modes it started with. */
export interface LoopModes {
  verify: VerifyMode;
  loop: LoopMode;
  /** Absent means `redraw` (records and deployments from before edit-to-fix). */
  refine?: RefineMode;
}

/** The GEMS paper's loop; also what records written before modes existed ran. */
export const REFERENCE_MODES: Readonly<LoopModes> = Object.freeze({ verify: "per-question", loop: "full" });

/** How surfaces name non-reference modes in the plan line, e.g. "batch verification, fast loop"; null for the reference loop. */
export function describeModes(modes: Partial<LoopModes> | undefined): string | null {
  if (!modes) return null;
  const parts = [
    modes.verify === "batch" ? "batch verification" : null,
    modes.loop === "fast" ? "fast loop" : null,
    modes.refine === "edit" ? "edit-to-fix" : null,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : null;
}

/**
 * Which models ran the job, named for people (e.g. "openai-compatible:qwen3-vl",
 * "openai:gpt-image-1", "sim"): never a URL with credentials. Image provenance carries them.
 */
export interface ModelNames {
  mllm: string;
  generator: string;
}

/** MLLM calls of one role about one iteration, summed; see core/agent/usage.ts. */
export interface UsageRecord {
  /** The iteration the calls were about; 0 for planning and decomposition. */
  n: number;
  role: string;
  calls: number;
  /** Images sent, counting an image once per call it was sent in. */
  images: number;
  /** Calls whose reply carried token counts; the token sums cover only these. */
  reportedCalls: number;
  inputTokens: number;
  /** Input tokens the server served from its prefix cache. */
  cachedInputTokens: number;
  outputTokens: number;
}

export interface Trajectory {
  jobId: string;
  request: JobRequest;
  plan: Plan | null;
  /** Null until decomposition ran; an empty array means "no checkable requirements". */
  requirements: Requirement[] | null;
  iterations: IterationRecord[];
  feedback: FeedbackEntry[];
  /**
   * The prompt the next iteration will use, written by the refiner; with `edit` when the next
   * iteration edits an earlier image instead (the prompt is then the one a redraw would use).
   */
  nextPrompt: { prompt: string; thought: string | null; edit?: EditRecord } | null;
  best: BestImage | null;
  modes: LoopModes;
  /** Model usage per iteration and role, for the calls of committed steps. */
  usage: UsageRecord[];
  /** The models of the latest run (set at every start); absent in records from before it was kept. */
  models?: ModelNames;
  status: TrajectoryStatus;
  stopReason: StopReason | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export function createTrajectory(
  jobId: string,
  request: JobRequest,
  now: Date = new Date(),
  modes: LoopModes = REFERENCE_MODES,
): Trajectory {
  const at = now.toISOString();
  return {
    jobId,
    request,
    plan: null,
    requirements: null,
    iterations: [],
    feedback: [],
    nextPrompt: null,
    best: null,
    modes: { ...modes },
    usage: [],
    status: "queued",
    stopReason: null,
    error: null,
    createdAt: at,
    updatedAt: at,
  };
}

/** The iteration's regressions as stored, or derived from the verdicts for records that predate them. */
export function regressionsOf(trajectory: Trajectory, iteration: IterationRecord): number[] {
  if (iteration.regressions) return iteration.regressions;
  const active = new Set(activeRequirements(trajectory).map((r) => r.id));
  return regressedRequirementIds(trajectory.iterations, iteration.n, (id) => active.has(id));
}

/** Regressions over the whole job: the sum over its iterations. */
export function countRegressions(trajectory: Trajectory): number {
  return trajectory.iterations.reduce((sum, it) => sum + regressionsOf(trajectory, it).length, 0);
}

/** The job's reference images: the request's, then those attached to feedback, each once. */
export function referenceHashes(trajectory: Trajectory): string[] {
  const all = [...(trajectory.request.referenceImages ?? []), ...trajectory.feedback.flatMap((f) => f.imageHashes ?? [])];
  return [...new Set(all)];
}

/** Requirements the verifier still checks (feedback may have retired some). */
export function activeRequirements(trajectory: Trajectory): Requirement[] {
  return (trajectory.requirements ?? []).filter((r) => r.retiredByFeedbackId === undefined);
}
