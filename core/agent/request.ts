/** Validation of what people ask for, shared by every surface so they all answer the same way. */
import { InputError } from "../errors.ts";
import { REFINE_MODES, type JobRequest, type RefineMode, type SkillChoice } from "../memory/trajectory.ts";
import type { SkillLibrary } from "../skills/types.ts";

export const PROMPT_MAX_CHARS = 4000;
export const FEEDBACK_MAX_CHARS = 2000;
export const MIN_ITERATIONS = 1;
export const MAX_ITERATIONS = 10;

export interface JobRequestInput {
  prompt: string;
  skill?: string | undefined;
  iterations?: number | undefined;
  seed?: number | undefined;
  /** Hashes of reference images already in the image store (the surface checked and stored them). */
  referenceImages?: string[] | undefined;
  /** Per-job choice of `redraw` or `edit` (edit-to-fix); the deployment's GEMS_REFINE_MODE otherwise. */
  refineMode?: string | undefined;
}

/** How many reference images one request (or one feedback entry) may carry; surfaces check it first (core/images/reference-images.ts). */
export const MAX_REFERENCE_IMAGES = 4;

/** Checks a per-job refine mode ("redraw" or "edit"); throws InputError naming the choices. */
export function parseRefineMode(raw: string): RefineMode {
  const mode = raw.trim().toLowerCase();
  if ((REFINE_MODES as readonly string[]).includes(mode)) return mode as RefineMode;
  throw new InputError(`Unknown refine mode "${raw}". Choose redraw (a new prompt each time) or edit (repair the best image).`);
}

/** Checks a request and fills defaults; throws InputError with a message meant for the user. */
export function validateJobRequest(
  input: JobRequestInput,
  skills: SkillLibrary,
  defaultIterations: number,
): JobRequest {
  const prompt = input.prompt.trim();
  if (prompt === "") throw new InputError("The prompt is empty. Describe the image you want, e.g. \"a red cube on a blue sphere\".");
  if (prompt.length > PROMPT_MAX_CHARS) {
    throw new InputError(
      `The prompt is ${prompt.length} characters long; the limit is ${PROMPT_MAX_CHARS}. Shorten it and try again.`,
    );
  }
  const iterations = input.iterations ?? defaultIterations;
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new InputError(
      `Iterations must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS} (got ${String(iterations)}).`,
    );
  }
  const skill = parseSkillChoice(input.skill, skills);
  const request: JobRequest = { prompt, skill, maxIterations: iterations };
  if (input.seed !== undefined) {
    if (!Number.isSafeInteger(input.seed) || input.seed < 0) {
      throw new InputError(`The seed must be a non-negative whole number (got ${String(input.seed)}).`);
    }
    request.seed = input.seed;
  }
  if (input.referenceImages !== undefined && input.referenceImages.length > 0) {
    if (input.referenceImages.length > MAX_REFERENCE_IMAGES) {
      throw new InputError(
        `${input.referenceImages.length} reference images were sent; the limit is ${MAX_REFERENCE_IMAGES}. Send the ones that matter most.`,
      );
    }
    if (!input.referenceImages.every((hash) => /^[0-9a-f]{64}$/.test(hash))) {
      throw new InputError("A reference image is not a stored image; upload it again.");
    }
    request.referenceImages = [...input.referenceImages];
  }
  if (input.refineMode !== undefined) parseRefineMode(input.refineMode);
  return request;
}

function parseSkillChoice(raw: string | undefined, skills: SkillLibrary): SkillChoice {
  const choice = (raw ?? "auto").trim().toLowerCase();
  if (choice === "" || choice === "auto") return "auto";
  if (choice === "none") return "none";
  if (skills.has(choice)) return choice;
  const known = skills.manifest().map((s) => s.id);
  throw new InputError(
    `Unknown skill "${raw}". Choose auto, none${known.length ? `, or one of: ${known.join(", ")}` : ""}.`,
  );
}

/** Checks feedback text; throws InputError with a message meant for the person who wrote it. */
export function validateFeedbackText(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") throw new InputError("The feedback is empty. Say what the next image should change.");
  if (trimmed.length > FEEDBACK_MAX_CHARS) {
    throw new InputError(
      `The feedback is ${trimmed.length} characters long; the limit is ${FEEDBACK_MAX_CHARS}. Keep it to the changes that matter most.`,
    );
  }
  return trimmed;
}

/** The name feedback is recorded under; the job service matches pending feedback by it. */
export function feedbackAuthorName(name: string): string {
  return name.trim() || "someone";
}
