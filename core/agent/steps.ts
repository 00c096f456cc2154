/**
 * The loop's steps, one function each: every step reads memory, calls the models it needs and
 * commits what it learned with its events. run-job.ts decides which runs next (next-step.ts).
 */
import { createHash } from "node:crypto";
import { TEXT_ONLY, type GeneratorCapabilities, type ImageGenerator } from "../models/ports.ts";
import type { ImageStore } from "../memory/stores.ts";
import {
  activeRequirements,
  referenceHashes,
  type IterationRecord,
  type Requirement,
  type Trajectory,
  type Verdict,
} from "../memory/trajectory.ts";
import type { AgentEvent } from "./events.ts";
import { CancelledError, describeError, GemsError, isAbortError } from "../errors.ts";
import { compressAttempt, decomposeRequest, planRequest, refinePrompt, verifyQuestion, writeEditInstruction } from "./roles.ts";
import type { AttemptView } from "./prompts.ts";
import type { RefinedPrompt } from "./parse.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import { reviseAttempt, verifyChecklist } from "./batch-roles.ts";
import { startPreviews } from "./previews.ts";
import type { AgentDeps } from "./run-job.ts";
import { rescore } from "./feedback.ts";
import { feedbackViews, requirementView, resultLines } from "./memory-views.ts";
import { REDRAW_NOTE } from "./next-step.ts";

/** The generator gave up on an attempt; the loop records it on the iteration. */
export class GenerationFailedError extends GemsError {
  override readonly name = "GenerationFailedError";
}

export type Commit = (...events: AgentEvent[]) => Promise<void>;

/** Planning and decomposition do not depend on each other, so they run at the same time. */
export async function prepare(t: Trajectory, deps: AgentDeps, commit: Commit, signal?: AbortSignal): Promise<void> {
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

export const capabilitiesOf = (generator: ImageGenerator): GeneratorCapabilities => generator.capabilities ?? TEXT_ONLY;

async function loadReferences(t: Trajectory, images: ImageStore): Promise<Uint8Array[]> {
  const hashes = referenceHashes(t);
  return Promise.all(hashes.map((hash) => images.get(hash)));
}

export async function startIteration(t: Trajectory, commit: Commit, now: () => Date): Promise<void> {
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
export async function generate(
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

export async function verify(
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

export async function compress(
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

export async function refine(
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
export async function revise(
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
export async function planEdit(
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

/** Same job, same seeds: a rerun of a job reproduces its images on a deterministic generator. */
export function seedFor(t: Trajectory, n: number): number {
  const base = t.request.seed ?? createHash("sha256").update(t.jobId).digest().readUInt32BE(0);
  return (base + n - 1) % 2 ** 32;
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}
