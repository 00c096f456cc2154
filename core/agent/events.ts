import type { EditRecord, LoopModes, ModelNames, StopReason, Verdict } from "../memory/trajectory.ts";

/** A reference to a stored image; surfaces resolve it through the ImageStore. */
export interface ImageRef {
  hash: string;
}

export interface RequirementView {
  id: number;
  question: string;
  source: "prompt" | "feedback";
}

/** Team votes on one iteration (see core/jobs/votes.ts); only iterations with a vote are listed. */
export interface VoteCount {
  n: number;
  up: number;
  down: number;
}

/**
 * What a job spent, attached by the job service to its final event (job.done, job.failed,
 * job.cancelled) so every surface can show it; absent in events stored before the ledger.
 * `cost` is null when no model the job used has a price (see core/jobs/usage-ledger.ts).
 */
export interface UsageView {
  calls: number;
  /** Calls whose reply carried token counts; the tokens cover only these. */
  reportedCalls: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  /** Images the generator drew. */
  images: number;
  cost: number | null;
  currency: string;
  /** Models that did work but have no price; their part is not in `cost`. */
  unpriced: string[];
}

export interface BestView {
  n: number;
  image: ImageRef;
  passed: number;
  total: number;
}

/**
 * Everything a job tells the surfaces, as a discriminated union on `type`. The job service adds
 * a per-job sequence number and persists the stream, so a surface can re-render after a restart.
 */
export type AgentEvent =
  | { type: "job.queued"; position: number }
  /**
   * `resumed`: the job was interrupted mid-run (a restart) and carries on from its memory.
   * `models`: which models this run uses, for image provenance; absent in older stored events.
   */
  | { type: "job.started"; resumed: boolean; models?: ModelNames }
  /** `modes`: how this job verifies and refines; absent in events stored before modes existed. */
  | { type: "plan.done"; skill: string | null; prompt: string; why: string | null; modes?: LoopModes }
  | { type: "requirements"; questions: RequirementView[] }
  /**
   * Once, when the job starts with reference images: which they are, and whether the generator
   * uses them. `note` (when set) tells people what the generator cannot take, e.g. that the job
   * runs on text because the generator takes no images, or redraws because it cannot edit.
   */
  | { type: "references"; images: ImageRef[]; isUsedByGenerator: boolean; note: string | null }
  /** `edit`: this attempt edits iteration `edit.fromN`'s image rather than drawing anew. */
  | { type: "iteration.started"; n: number; prompt: string; thought: string | null; edit?: EditRecord }
  /**
   * While iteration n is being drawn: percent done and the newest partial image, if the generator
   * sends one. Emitted at most every few seconds per iteration; surfaces edit one message with it
   * and a surface that cannot show it ignores it.
   */
  | { type: "image.preview"; n: number; percent: number; image: ImageRef | null }
  | { type: "image.ready"; n: number; image: ImageRef }
  | { type: "iteration.failed"; n: number; error: string }
  /**
   * `regressions`: requirement ids that passed in an earlier iteration and fail in this one
   * (core/memory/checklist.ts); absent in events stored before regressions were counted.
   */
  | { type: "verified"; n: number; verdicts: Verdict[]; passed: number; total: number; regressions?: number[] }
  | { type: "experience"; n: number; text: string }
  | {
      type: "feedback.added";
      author: string;
      text: string;
      /** Images the person attached, when any. */
      images?: ImageRef[];
      questions: RequirementView[];
      retired: RequirementView[];
    }
  | { type: "prompt.refined"; n: number; prompt: string; thought: string | null }
  /**
   * `votes`: the team's votes when the job ended (absent without any); `isChosenByVotes`: the
   * result is the most voted image (GEMS_RESULT_BY=votes) rather than the one that passed most.
   * `message`: why it stopped, for a reason the person did not choose ("quota").
   */
  | {
      type: "job.done";
      best: BestView | null;
      reason: StopReason;
      votes?: VoteCount[];
      isChosenByVotes?: boolean;
      message?: string;
      usage?: UsageView;
    }
  | { type: "job.failed"; error: string; best: BestView | null; usage?: UsageView }
  | { type: "job.cancelled"; best: BestView | null; usage?: UsageView }
  /**
   * The team's votes changed after the job ended with job.done (people vote once they see the
   * result): every iteration's counts now, for the final message to show. The result stays what
   * the end chose, also with GEMS_RESULT_BY=votes. The service commits one per burst of votes
   * (core/jobs/voting.ts), and only when the counts differ from what the log last said.
   */
  | { type: "votes.changed"; votes: VoteCount[] };

export type AgentEventType = AgentEvent["type"];

/** The event as stored and delivered: which job, in what order, when. */
export type JobEvent = AgentEvent & { jobId: string; seq: number; at: string };

type PreviewEvent = Extract<AgentEvent, { type: "image.preview" }>;

/**
 * Whether a preview is out of date given the events stored after it: its iteration already has
 * its final image or failed, a newer preview replaced it, or the job moved on. Surfaces that
 * replay the log (after a restart, or when they fall behind) skip such previews, so a stale
 * partial is never shown over a final image and no platform call is spent on one.
 */
export function isPreviewSuperseded(preview: PreviewEvent, later: readonly AgentEvent[]): boolean {
  return later.some(
    (event) =>
      ((event.type === "image.preview" || event.type === "image.ready" || event.type === "iteration.failed") && event.n === preview.n) ||
      (event.type === "iteration.started" && event.n > preview.n) ||
      event.type === "job.done" ||
      event.type === "job.failed" ||
      event.type === "job.cancelled" ||
      event.type === "job.started",
  );
}

/**
 * isPreviewSuperseded, and also any preview stored before `sinceMs` (when the surface started):
 * it belongs to a run that a restart ended, even if the resumed job has not said so yet.
 */
export function isPreviewStale(preview: PreviewEvent & { at: string }, later: readonly AgentEvent[], sinceMs: number): boolean {
  return Date.parse(preview.at) < sinceMs || isPreviewSuperseded(preview, later);
}

/**
 * Whether a votes.changed is out of date given the events stored after it (`later`): newer counts came,
 * or the job was continued (its next end brings a new final message with the votes then).
 * A surface that replays or falls behind skips it rather than edit the final message twice.
 */
export function isVotesSuperseded(later: readonly AgentEvent[]): boolean {
  return later.some((event) => event.type === "votes.changed" || event.type === "job.queued");
}
