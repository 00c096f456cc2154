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
}

/** `auto` lets the planner choose, `none` forbids skills, anything else is a skill id. */
export type SkillChoice = "auto" | "none" | (string & {});

export interface JobRequest {
  prompt: string;
  skill: SkillChoice;
  maxIterations: number;
  seed?: number;
}

export interface Plan {
  skill: string | null;
  prompt: string;
  /** The planner's stated reason for the route, for display. */
  why: string | null;
}

export type StopReason = "all-passed" | "max-iterations" | "picked" | "stopped";

export interface BestImage {
  n: number;
  imageHash: string;
  passed: number;
  total: number;
}

export type TrajectoryStatus = "queued" | "running" | "done" | "failed" | "cancelled";

export interface Trajectory {
  jobId: string;
  request: JobRequest;
  plan: Plan | null;
  /** Null until decomposition ran; an empty array means "no checkable requirements". */
  requirements: Requirement[] | null;
  iterations: IterationRecord[];
  feedback: FeedbackEntry[];
  /** The prompt the next iteration will use, written by the refiner. */
  nextPrompt: { prompt: string; thought: string | null } | null;
  best: BestImage | null;
  status: TrajectoryStatus;
  stopReason: StopReason | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export function createTrajectory(jobId: string, request: JobRequest, now: Date = new Date()): Trajectory {
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
    status: "queued",
    stopReason: null,
    error: null,
    createdAt: at,
    updatedAt: at,
  };
}

/** Requirements the verifier still checks (feedback may have retired some). */
export function activeRequirements(trajectory: Trajectory): Requirement[] {
  return (trajectory.requirements ?? []).filter((r) => r.retiredByFeedbackId === undefined);
}
