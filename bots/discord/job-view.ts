/**
 * What a job's thread shows, folded from its events. A pure fold, so after a restart the bot
 * rebuilds exactly what it had from the stored events and renders only what is new.
 */
import type { BestView, JobEvent, RequirementView, UsageView, VoteCount } from "../../core/agent/events.ts";
import type { Person } from "../../core/jobs/types.ts";
import { checklistLines, regressedRequirementIds, type ChecklistLines } from "../../core/memory/checklist.ts";
import { describeModes, type EditRecord, type ModelNames, type StopReason, type Verdict } from "../../core/memory/trajectory.ts";
import type { ImageProvenance } from "../../core/images/provenance.ts";

export interface IterationView {
  n: number;
  prompt: string;
  imageHash: string | null;
  verdicts: Verdict[];
  /** From the `verified` event; null for events stored before regressions were counted. */
  regressions: number[] | null;
  passed: number;
  total: number;
  isVerified: boolean;
  experience: string | null;
  /** The refined prompt for iteration n + 1, and the refiner's reasoning for it. */
  next: { prompt: string; thought: string | null } | null;
  error: string | null;
  /** While the image is drawn: the newest preview; null once the image (or an error) is in. */
  preview: { percent: number; imageHash: string | null } | null;
  /** Set when this attempt edited an earlier image (edit-to-fix) instead of drawing anew. */
  edit: EditRecord | null;
}

export type JobPhase = "queued" | "planning" | "generating" | "verifying" | "refining" | "done" | "failed" | "cancelled";

export interface JobView {
  jobId: string;
  requester: Person;
  prompt: string;
  maxIterations: number;
  phase: JobPhase;
  position: number | null;
  skill: string | null;
  skillWhy: string | null;
  /** Non-reference loop modes, named for the plan line; null for the reference loop. */
  modes: string | null;
  requirements: RequirementView[];
  retiredIds: Set<number>;
  /** From job.started: the models, for the provenance written into posted images. */
  models: ModelNames | null;
  iterations: IterationView[];
  best: BestView | null;
  reason: StopReason | null;
  error: string | null;
  /** The team's votes (when the job ended, then from votes.changed), and whether they chose the result. */
  votes: VoteCount[];
  isChosenByVotes: boolean;
  /** The votes include some cast after the end (a votes.changed came since the last job.done). */
  isVotedAfterEnd: boolean;
  /** What the job spent, from its final event; and why a quota stopped it. */
  usage?: UsageView;
  stopMessage?: string;
}

export function createJobView(jobId: string, requester: Person, prompt: string, maxIterations: number): JobView {
  return {
    jobId,
    requester,
    prompt,
    maxIterations,
    phase: "queued",
    position: null,
    skill: null,
    skillWhy: null,
    modes: null,
    requirements: [],
    retiredIds: new Set(),
    models: null,
    iterations: [],
    best: null,
    reason: null,
    error: null,
    votes: [],
    isChosenByVotes: false,
    isVotedAfterEnd: false,
  };
}

/** Folds one event into the view (in place). */
export function applyEvent(view: JobView, event: JobEvent): void {
  switch (event.type) {
    case "job.queued":
      view.phase = "queued";
      view.position = event.position;
      view.reason = null;
      view.error = null;
      break;
    case "job.started":
      view.phase = view.iterations.length === 0 ? "planning" : "generating";
      view.position = null;
      if (event.models) view.models = event.models;
      // An interrupted image is drawn again from the start; its old preview is stale.
      for (const it of view.iterations) it.preview = null;
      break;
    case "plan.done":
      view.skill = event.skill;
      view.skillWhy = event.why;
      view.modes = describeModes(event.modes);
      break;
    case "requirements":
      view.requirements = [...event.questions];
      break;
    case "iteration.started":
      view.phase = "generating";
      view.iterations.push({
        n: event.n,
        prompt: event.prompt,
        imageHash: null,
        verdicts: [],
        regressions: null,
        passed: 0,
        total: 0,
        isVerified: false,
        experience: null,
        next: null,
        error: null,
        preview: null,
        edit: event.edit ?? null,
      });
      break;
    case "image.preview":
      withIteration(view, event.n, (it) => {
        if (it.imageHash === null && it.error === null) it.preview = { percent: event.percent, imageHash: event.image?.hash ?? null };
      });
      break;
    case "image.ready":
      view.phase = "verifying";
      withIteration(view, event.n, (it) => {
        it.imageHash = event.image.hash;
        it.preview = null;
      });
      break;
    case "iteration.failed":
      withIteration(view, event.n, (it) => {
        it.error = event.error;
        it.preview = null;
      });
      break;
    case "verified":
      view.phase = "refining";
      withIteration(view, event.n, (it) => {
        it.verdicts = event.verdicts;
        it.regressions = event.regressions ?? null;
        it.passed = event.passed;
        it.total = event.total;
        it.isVerified = true;
      });
      break;
    case "experience":
      withIteration(view, event.n, (it) => (it.experience = event.text));
      break;
    case "feedback.added":
      view.requirements.push(...event.questions);
      for (const retired of event.retired) view.retiredIds.add(retired.id);
      break;
    case "prompt.refined":
      // `n` is the iteration the prompt is for; it belongs under the one before it.
      withIteration(view, event.n - 1, (it) => (it.next = { prompt: event.prompt, thought: event.thought }));
      break;
    case "job.done":
    case "job.failed":
    case "job.cancelled":
      for (const it of view.iterations) it.preview = null;
      applyEnd(view, event);
      break;
    case "votes.changed":
      view.votes = event.votes;
      view.isVotedAfterEnd = true;
      break;
  }
}

function applyEnd(view: JobView, event: Extract<JobEvent, { type: "job.done" | "job.failed" | "job.cancelled" }>): void {
  if (event.usage) view.usage = event.usage;
  if (event.type === "job.done" && event.message) view.stopMessage = event.message;
  switch (event.type) {
    case "job.done":
      view.phase = "done";
      view.best = event.best;
      view.reason = event.reason;
      view.votes = event.votes ?? [];
      view.isChosenByVotes = event.isChosenByVotes ?? false;
      view.isVotedAfterEnd = false;
      break;
    case "job.failed":
      view.phase = "failed";
      view.best = event.best;
      view.error = event.error;
      break;
    case "job.cancelled":
      view.phase = "cancelled";
      view.best = event.best;
      view.reason = "stopped";
      break;
  }
}

function withIteration(view: JobView, n: number, change: (iteration: IterationView) => void): void {
  const iteration = view.iterations.find((it) => it.n === n);
  if (iteration) change(iteration);
}

export function iterationOf(view: JobView, n: number): IterationView | undefined {
  return view.iterations.find((it) => it.n === n);
}

export function isFinishedPhase(phase: JobPhase): boolean {
  return phase === "done" || phase === "failed" || phase === "cancelled";
}

/** The iteration's checklist rows and counts, as every surface derives them (core/memory/checklist.ts). */
export function checklistOfIteration(view: JobView, iteration: IterationView): ChecklistLines {
  const isActive = (id: number) => !view.retiredIds.has(id);
  const regressions = (iteration.regressions ?? regressedRequirementIds(view.iterations, iteration.n, isActive)).filter(isActive);
  const requirements = view.requirements.map((r) => ({ id: r.id, question: r.question, retired: view.retiredIds.has(r.id) }));
  return checklistLines(requirements, iteration.verdicts, regressions);
}

/** What a posted image of iteration n says about itself (job, iteration, prompt, models). */
export function provenanceOf(view: JobView, n: number, sourceSha256: string): ImageProvenance {
  return {
    jobId: view.jobId,
    iteration: n,
    prompt: iterationOf(view, n)?.prompt ?? view.prompt,
    request: view.prompt,
    mllm: view.models?.mllm ?? "unknown",
    generator: view.models?.generator ?? "unknown",
    surface: "discord",
    sourceSha256,
  };
}

/** The requirement a verdict answers, by id (retired ones included: old verdicts refer to them). */
export function questionOf(view: JobView, requirementId: number): string {
  return view.requirements.find((r) => r.id === requirementId)?.question ?? `requirement ${requirementId}`;
}
