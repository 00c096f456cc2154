/**
 * The GEMS loop as a state machine over the trajectory: each pass reads the memory, runs the one
 * step that is missing, and commits the new memory with its events. Because the next step is
 * derived from what was stored, a job restarted from its last commit carries on where it was
 * and never repeats a finished step.
 */
import type { Logger } from "pino";
import { createHash } from "node:crypto";
import { TEXT_ONLY, type GeneratorCapabilities, type ImageGenerator, type Mllm } from "../models/ports.ts";
import type { ImageStore } from "../memory/stores.ts";
import type { SkillLibrary } from "../skills/types.ts";
import {
  activeRequirements,
  referenceHashes,
  type BestImage,
  type FeedbackEntry,
  type IterationRecord,
  type ModelNames,
  type Requirement,
  type StopReason,
  type Trajectory,
  type Verdict,
} from "../memory/trajectory.ts";
import { regressedRequirementIds } from "../memory/checklist.ts";
import type { AgentEvent, BestView, RequirementView } from "./events.ts";
import { CancelledError, describeError, GemsError, InputError, isAbortError } from "../errors.ts";
import {
  compressAttempt,
  decomposeFeedback,
  decomposeRequest,
  planRequest,
  refinePrompt,
  verifyQuestion,
  writeEditInstruction,
} from "./roles.ts";
import type { AttemptView, FeedbackView, ResultLine } from "./prompts.ts";
import type { RefinedPrompt } from "./parse.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import { feedbackAuthorName, validateFeedbackText } from "./request.ts";
import { reviseAttempt, verifyChecklist } from "./batch-roles.ts";
import { addUsage, meterMllm } from "./usage.ts";
import { startPreviews, type PreviewSettings } from "./previews.ts";

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

type Step =
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

const REDRAW_NOTE = "Redraw:";

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

/** The generator gave up on an attempt; the loop records it on the iteration. */
class GenerationFailedError extends GemsError {
  override readonly name = "GenerationFailedError";
}

type Commit = (...events: AgentEvent[]) => Promise<void>;

/** Planning and decomposition do not depend on each other, so they run at the same time. */
async function prepare(t: Trajectory, deps: AgentDeps, commit: Commit, signal?: AbortSignal): Promise<void> {
  const references = await loadReferences(t, deps.images);
  const [plan, questions] = await Promise.all([
    t.plan === null ? planRequest(deps.mllm, deps.skills, t.request.prompt, t.request.skill, signal, references) : null,
    t.requirements === null ? decomposeRequest(deps.mllm, t.request.prompt, signal, references) : null,
  ]);
  const events: AgentEvent[] = [];
  // Said once, with the plan: a resumed job has its plan stored and never prepares again.
  const notice = referencesNotice(t, capabilitiesOf(deps.generator), deps.generator.name);
  if (notice) events.push(notice);
  if (plan) {
    const { thought, ...stored } = plan;
    t.plan = stored;
    t.nextPrompt = { prompt: stored.prompt, thought };
    events.push({ type: "plan.done", skill: stored.skill, prompt: stored.prompt, why: stored.why, modes: { ...t.modes } });
  }
  if (questions) {
    t.requirements = questions.map((question, index) => ({ id: index + 1, question, source: "prompt" }));
    events.push({ type: "requirements", questions: t.requirements.map(requirementView) });
  }
  await commit(...events);
}

/** What the job's references are and what the generator does with them; null when there is nothing to say. */
function referencesNotice(t: Trajectory, capabilities: GeneratorCapabilities, generator: string): AgentEvent | null {
  const hashes = referenceHashes(t);
  const notes: string[] = [];
  if (hashes.length > 0 && !capabilities.references) {
    notes.push(`The image generator (${generator}) takes no reference images, so it draws from text; the checks still compare with the references.`);
  }
  if (t.modes.refine === "edit" && !capabilities.edit) {
    notes.push(`The image generator (${generator}) cannot edit images, so each fix is a full redraw.`);
  }
  if (hashes.length === 0 && notes.length === 0) return null;
  return {
    type: "references",
    images: hashes.map((hash) => ({ hash })),
    isUsedByGenerator: hashes.length > 0 && capabilities.references,
    note: notes.length > 0 ? notes.join(" ") : null,
  };
}

const capabilitiesOf = (generator: ImageGenerator): GeneratorCapabilities => generator.capabilities ?? TEXT_ONLY;

async function loadReferences(t: Trajectory, images: ImageStore): Promise<Uint8Array[]> {
  const hashes = referenceHashes(t);
  return Promise.all(hashes.map((hash) => images.get(hash)));
}

async function startIteration(t: Trajectory, commit: Commit, now: () => Date): Promise<void> {
  const previous = t.iterations.at(-1);
  const next = t.nextPrompt ?? { prompt: previous?.prompt ?? t.plan?.prompt ?? t.request.prompt, thought: null };
  const iteration: IterationRecord = {
    n: t.iterations.length + 1,
    prompt: next.prompt,
    thought: next.thought,
    imageHash: null,
    verdicts: [],
    passed: 0,
    total: activeRequirements(t).length,
    isVerified: false,
    experience: null,
    startedAt: now().toISOString(),
    regressions: [],
    ...(next.edit ? { edit: { ...next.edit } } : {}),
  };
  t.iterations.push(iteration);
  t.nextPrompt = null;
  await commit({
    type: "iteration.started",
    n: iteration.n,
    prompt: iteration.prompt,
    thought: iteration.thought,
    ...(iteration.edit ? { edit: { ...iteration.edit } } : {}),
  });
}

/** Throws GenerationFailedError when the generator gave up, so the loop can mark the attempt. */
async function generate(
  t: Trajectory,
  iteration: IterationRecord,
  deps: AgentDeps,
  commit: Commit,
  signal?: AbortSignal,
): Promise<void> {
  // Previews go into the event log but not into memory; see core/agent/README.md.
  const previews = startPreviews(iteration.n, { images: deps.images, emit: (event) => commit(event), logger: deps.logger }, deps.previews);
  const capabilities = capabilitiesOf(deps.generator);
  const references = capabilities.references ? await loadReferences(t, deps.images) : [];
  const sourceHash = iteration.edit ? t.iterations[iteration.edit.fromN - 1]?.imageHash : null;
  // A generator that lost its edit support since the step was planned (a changed deployment)
  // draws the prompt instead; the record then says it was no edit.
  if (iteration.edit && (!capabilities.edit || !sourceHash)) delete iteration.edit;
  const edit = iteration.edit && sourceHash ? { image: await deps.images.get(sourceHash), instruction: iteration.edit.instruction } : null;
  let png: Uint8Array;
  try {
    png = await deps.generator.generate({
      prompt: iteration.prompt,
      seed: seedFor(t, iteration.n),
      signal,
      ...(references.length > 0 ? { images: references } : {}),
      ...(edit ? { edit } : {}),
      ...(previews ? { onProgress: previews.onProgress } : {}),
    });
  } catch (error) {
    previews?.close();
    previews?.discard(isImageOf(t));
    if (isAbortError(error)) throw error;
    const message = error instanceof GemsError ? error.message : `The image generator failed: ${describeError(error)}`;
    throw new GenerationFailedError(message, "backend", { cause: error });
  }
  previews?.close();
  iteration.imageHash = await deps.images.put(png);
  await commit({ type: "image.ready", n: iteration.n, image: { hash: iteration.imageHash } });
  previews?.discard(isImageOf(t));
}

const isImageOf = (t: Trajectory) => (hash: string) => t.iterations.some((it) => it.imageHash === hash);

async function verify(
  t: Trajectory,
  iteration: IterationRecord,
  pending: Requirement[],
  deps: AgentDeps,
  commit: Commit,
  signal?: AbortSignal,
): Promise<void> {
  const png = await deps.images.get(iteration.imageHash as string);
  const references = await loadReferences(t, deps.images);
  const results =
    t.modes.verify === "batch"
      ? await verifyChecklist(deps.mllm, png, pending.map((r) => r.question), deps.verifyConcurrency, signal, references)
      : await mapWithConcurrency(pending, deps.verifyConcurrency, (requirement) =>
          verifyQuestion(deps.mllm, png, requirement.question, signal, references),
        );
  throwIfAborted(signal);
  // When no question could even be asked, the model is unreachable: that is a failure of the
  // job, not a verdict on the image.
  const firstError = results.find((r) => r.isError);
  if (results.length > 0 && results.every((r) => r.isError)) {
    throw new GemsError(
      `The MLLM could not verify the image: ${firstError?.failure?.replace(/^verifier error: /, "") ?? "no answer"}`,
      "backend",
    );
  }
  const verdicts: Verdict[] = results.map((result, index) => ({
    requirementId: (pending[index] as Requirement).id,
    passed: result.passed,
    answer: result.answer,
    ...(result.failure ? { failure: result.failure } : {}),
  }));
  iteration.verdicts = [...iteration.verdicts, ...verdicts];
  iteration.isVerified = true;
  rescore(t);
  await commit({
    type: "verified",
    n: iteration.n,
    verdicts: iteration.verdicts,
    passed: iteration.passed,
    total: iteration.total,
    regressions: iteration.regressions ?? [],
  });
}

async function compress(
  t: Trajectory,
  iteration: IterationRecord,
  deps: AgentDeps,
  commit: Commit,
  signal?: AbortSignal,
): Promise<void> {
  const png = await deps.images.get(iteration.imageHash as string);
  const experience = await compressAttempt(
    deps.mllm,
    {
      request: t.request.prompt,
      prompt: iteration.prompt,
      thought: iteration.thought,
      png,
      results: resultLines(t, iteration),
      feedback: feedbackViews(t),
      earlierExperiences: t.iterations
        .filter((it) => it.n < iteration.n && it.experience !== null)
        .map((it) => ({ n: it.n, text: it.experience as string })),
    },
    signal,
  );
  iteration.experience = experience;
  await commit({ type: "experience", n: iteration.n, text: experience });
}

const NO_PROMPT_NOTE = "The refiner gave no usable prompt, so the next attempt reuses this one with a new seed.";

/**
 * The refined prompt, or, when the reply had none, this iteration's prompt again. A reply with no
 * prompt in it must never reach the generator, nor stop the job (a new seed may still pass); the
 * experience says so, so later rounds know.
 */
function nextPromptOrSame(iteration: IterationRecord, refined: RefinedPrompt | null): RefinedPrompt {
  if (refined) return refined;
  iteration.experience = `${iteration.experience ?? ""} ${NO_PROMPT_NOTE}`.trim();
  return { prompt: iteration.prompt, thought: NO_PROMPT_NOTE };
}

/**
 * What both refiners (the full loop's and the fast loop's) are shown: the request, the checklist,
 * the feedback and every attempt; `withImage` picks the attempts whose image is sent.
 */
async function refinerHistory(t: Trajectory, images: AgentDeps["images"], withImage: (it: IterationRecord) => boolean) {
  return {
    request: t.request.prompt,
    checklist: activeRequirements(t).map((r) => ({ id: r.id, question: r.question })),
    feedback: feedbackViews(t),
    attempts: await attemptViews(t, images, withImage),
  };
}

async function attemptViews(t: Trajectory, images: AgentDeps["images"], withImage: (it: IterationRecord) => boolean): Promise<AttemptView[]> {
  const attempts: AttemptView[] = [];
  for (const it of t.iterations) {
    attempts.push({
      n: it.n,
      prompt: it.prompt,
      png: it.imageHash && withImage(it) ? await images.get(it.imageHash) : null,
      results: it.isVerified ? resultLines(t, it) : [],
      experience: it.experience,
      ...(it.error ? { error: it.error } : {}),
    });
  }
  return attempts;
}

async function refine(
  t: Trajectory,
  iteration: IterationRecord,
  deps: AgentDeps,
  commit: Commit,
  signal?: AbortSignal,
): Promise<void> {
  const refined = await refinePrompt(deps.mllm, await refinerHistory(t, deps.images, () => true), signal);
  // The note lands in the stored experience; surfaces show it as the next prompt's thought, so
  // the events stay the same as in the fast loop.
  const next = nextPromptOrSame(iteration, refined);
  t.nextPrompt = next;
  await commit({ type: "prompt.refined", n: iteration.n + 1, prompt: next.prompt, thought: next.thought });
}

/**
 * GEMS_LOOP=fast: one call writes the experience of the last attempt and the next prompt. Both
 * are stored in one commit, so a resumed job never writes either twice. What is kept and what
 * happens next is the same as after compress + refine.
 */
async function revise(
  t: Trajectory,
  iteration: IterationRecord,
  deps: AgentDeps,
  commit: Commit,
  signal?: AbortSignal,
): Promise<void> {
  const history = await refinerHistory(t, deps.images, (it) => it.n === iteration.n);
  const revision = await reviseAttempt(
    deps.mllm,
    { ...history, thought: iteration.thought },
    signal,
  );
  iteration.experience = revision.experience;
  const next = nextPromptOrSame(iteration, revision.refined);
  t.nextPrompt = next;
  await commit(
    { type: "experience", n: iteration.n, text: iteration.experience },
    { type: "prompt.refined", n: iteration.n + 1, prompt: next.prompt, thought: next.thought },
  );
}

/**
 * GEMS_REFINE_MODE=edit: the editor writes an instruction for the failed requirements of the
 * best image so far, and the next attempt edits that image. The prompt stays the one a redraw
 * would use (the fast loop's revision, or the source's), so a fallback has one at hand. An
 * editor that writes no instruction means a redraw, as the reference loop would do.
 */
async function planEdit(
  t: Trajectory,
  iteration: IterationRecord,
  source: IterationRecord,
  deps: AgentDeps,
  commit: Commit,
  signal?: AbortSignal,
): Promise<void> {
  const written = await writeEditInstruction(
    deps.mllm,
    {
      request: t.request.prompt,
      feedback: feedbackViews(t),
      png: await deps.images.get(source.imageHash as string),
      n: source.n,
      results: resultLines(t, source),
      references: await loadReferences(t, deps.images),
    },
    signal,
  );
  if (written === null) {
    if (t.nextPrompt === null) {
      await refine(t, iteration, deps, commit, signal);
      return;
    }
    t.nextPrompt = { ...t.nextPrompt, thought: `${REDRAW_NOTE} the editor wrote no instruction. ${t.nextPrompt.thought ?? ""}`.trim() };
    await commit({ type: "prompt.refined", n: iteration.n + 1, prompt: t.nextPrompt.prompt, thought: t.nextPrompt.thought });
    return;
  }
  const edit = { fromN: source.n, instruction: written.instruction };
  t.nextPrompt = { prompt: t.nextPrompt?.prompt ?? source.prompt, thought: written.thought, edit };
  await commit({ type: "prompt.refined", n: iteration.n + 1, prompt: t.nextPrompt.prompt, thought: written.thought });
}

/**
 * Adds a person's feedback to the job's memory: the entry itself, the questions it adds to the
 * checklist and the ones it retires. Works on running and finished jobs alike.
 */
export async function applyFeedback(
  t: Trajectory,
  input: FeedbackInput,
  deps: Pick<AgentDeps, "mllm" | "commit"> & { images?: ImageStore },
  signal?: AbortSignal,
  now: () => Date = () => new Date(),
): Promise<FeedbackEntry> {
  const text = validateFeedbackText(input.text);
  const author = feedbackAuthorName(input.author);
  const active = activeRequirements(t);
  const metered = meterMllm(deps.mllm);
  const imageHashes = [...new Set(input.imageHashes ?? [])];
  const attached = deps.images && imageHashes.length > 0 ? await Promise.all(imageHashes.map((hash) => deps.images!.get(hash))) : [];
  const edit = input.isNote
    ? { questions: [] as string[], replaces: [] as number[] }
    : await decomposeFeedback(metered.mllm, t.request.prompt, active.map((r) => ({ id: r.id, question: r.question })), { author, text }, signal, attached);
  const requirements = t.requirements ?? [];
  const entryId = t.feedback.length + 1;
  const known = new Set(requirements.map((r) => r.question.toLowerCase()));
  let nextId = requirements.reduce((max, r) => Math.max(max, r.id), 0) + 1;
  const added: Requirement[] = edit.questions
    .filter((question) => !known.has(question.toLowerCase()))
    .map((question) => ({ id: nextId++, question, source: "feedback", feedbackId: entryId }));
  const retired = requirements.filter((r) => edit.replaces.includes(r.id) && r.retiredByFeedbackId === undefined);
  for (const requirement of retired) requirement.retiredByFeedbackId = entryId;
  t.requirements = [...requirements, ...added];
  const entry: FeedbackEntry = {
    id: entryId,
    author,
    text,
    atIteration: t.iterations.length,
    requirementIds: added.map((r) => r.id),
    retiredRequirementIds: retired.map((r) => r.id),
    addedAt: now().toISOString(),
    ...(imageHashes.length > 0 ? { imageHashes } : {}),
  };
  t.feedback.push(entry);
  // The refined prompt was written before this feedback existed; write it again with it.
  if (t.status === "running" && t.iterations.length > 0) t.nextPrompt = null;
  rescore(t);
  addUsage(t, t.iterations.length, metered.take());
  t.updatedAt = now().toISOString();
  await deps.commit(t, [
    {
      type: "feedback.added",
      author,
      text,
      ...(imageHashes.length > 0 ? { images: imageHashes.map((hash) => ({ hash })) } : {}),
      questions: added.map(requirementView),
      retired: retired.map(requirementView),
    },
  ]);
  return entry;
}

/**
 * Scores every iteration against the current checklist, so images stay comparable after
 * feedback changes it: a question an older image was never asked counts as not passed.
 * Best is the image with the most passes; the earliest wins a tie. Regressions are counted
 * again too, since a retired requirement is no longer one.
 */
export function rescore(t: Trajectory): void {
  const active = activeRequirements(t);
  const activeIds = new Set(active.map((r) => r.id));
  let best: BestImage | null = null;
  for (const it of t.iterations) {
    const passedIds = new Set(it.verdicts.filter((v) => v.passed).map((v) => v.requirementId));
    it.total = active.length;
    it.passed = active.filter((r) => passedIds.has(r.id)).length;
    it.regressions = regressedRequirementIds(t.iterations, it.n, (id) => activeIds.has(id));
    if (it.imageHash !== null && it.isVerified && (best === null || it.passed > best.passed)) {
      best = { n: it.n, imageHash: it.imageHash, passed: it.passed, total: it.total };
    }
  }
  t.best = best;
}

function resultLines(t: Trajectory, iteration: IterationRecord): ResultLine[] {
  const verdicts = new Map(iteration.verdicts.map((v) => [v.requirementId, v]));
  return activeRequirements(t).map((r) => {
    const verdict = verdicts.get(r.id);
    const why = verdict ? verdict.failure : "not checked on this image";
    return { id: r.id, question: r.question, passed: verdict?.passed ?? false, ...(why ? { why } : {}) };
  });
}

const feedbackViews = (t: Trajectory): FeedbackView[] => t.feedback.map((f) => ({ author: f.author, text: f.text }));

const requirementView = (r: Requirement): RequirementView => ({ id: r.id, question: r.question, source: r.source });

export function bestView(best: BestImage | null): BestView | null {
  return best ? { n: best.n, image: { hash: best.imageHash }, passed: best.passed, total: best.total } : null;
}

/** Same job, same seeds: a rerun of a job reproduces its images on a deterministic generator. */
export function seedFor(t: Trajectory, n: number): number {
  const base = t.request.seed ?? createHash("sha256").update(t.jobId).digest().readUInt32BE(0);
  return (base + n - 1) % 2 ** 32;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}
