/**
 * The GEMS roles, each one call (or a few) to the multimodal model. They take plain values and
 * return plain values; the loop in run-job.ts decides when each runs and what is remembered.
 */
import type { Mllm } from "../models/ports.ts";
import type { SkillLibrary } from "../skills/types.ts";
import type { Plan, SkillChoice } from "../memory/trajectory.ts";
import {
  compressorMessages,
  decomposerMessages,
  editorMessages,
  isReferenceQuestion,
  type EditorInput,
  feedbackMessages,
  plannerMessages,
  refinerMessages,
  rewriterMessages,
  verifierMessages,
  type ChecklistLine,
  type CompressorInput,
  type FeedbackView,
  type RefinerInput,
} from "./prompts.ts";
import {
  limitWords,
  parseAnswer,
  parseFeedbackEdit,
  parseQuestions,
  parseRefinedPrompt,
  parseSkillRoute,
  extractPrompt,
  type AnswerVerdict,
  type FeedbackEdit,
  type RefinedPrompt,
} from "./parse.ts";
import { describeError, isAbortError, OutOfTokensError, TooManyImagesError } from "../errors.ts";

export const EXPERIENCE_MAX_WORDS = 100;

/** Routes the request to at most one skill (or the forced one) and rewrites the prompt with it. */
export async function planRequest(
  mllm: Mllm,
  skills: SkillLibrary,
  request: string,
  choice: SkillChoice,
  signal?: AbortSignal,
  references: readonly Uint8Array[] = [],
): Promise<Plan & { thought: string | null }> {
  let skillId: string | null = null;
  let why: string | null = null;
  if (choice === "auto") {
    const manifest = skills.manifest();
    if (manifest.length > 0) {
      const reply = await mllm.chat({ messages: plannerMessages(request, manifest, references), maxTokens: 300, signal });
      const route = parseSkillRoute(reply.content, manifest.map((s) => s.id));
      skillId = route.skill;
      why = route.why;
    }
  } else if (choice !== "none") {
    skillId = choice;
    why = "chosen by the requester";
  }
  if (skillId === null) return { skill: null, prompt: request, why, thought: why };

  const skill = await skills.load(skillId);
  const reply = await mllm.chat({ messages: rewriterMessages(request, skill.instructions), maxTokens: 600, signal });
  const rewritten = extractPrompt(reply.content);
  // A rewriter that answers nothing must not erase the request.
  return { skill: skillId, prompt: rewritten || request, why, thought: reply.reasoning ?? why };
}

/** Atomic yes/no questions about the original request. */
export async function decomposeRequest(
  mllm: Mllm,
  request: string,
  signal?: AbortSignal,
  references: readonly Uint8Array[] = [],
): Promise<string[]> {
  const reply = await mllm.chat({ messages: decomposerMessages(request, references), maxTokens: 800, signal });
  return parseQuestions(reply.content);
}

/** Turns a person's comment into new questions and the checklist entries it replaces. */
export async function decomposeFeedback(
  mllm: Mllm,
  request: string,
  checklist: readonly ChecklistLine[],
  feedback: FeedbackView,
  signal?: AbortSignal,
  images: readonly Uint8Array[] = [],
): Promise<FeedbackEdit> {
  const reply = await mllm.chat({ messages: feedbackMessages(request, checklist, feedback, images), maxTokens: 600, signal });
  return parseFeedbackEdit(reply.content, new Set(checklist.map((line) => line.id)));
}

export interface QuestionVerdict extends AnswerVerdict {
  answer: string;
  /** True when the model could not be asked (after retries), as opposed to answering badly. */
  isError: boolean;
}

/**
 * Asks one question about one image. Errors become failed verdicts with the reason kept, except
 * a model that ran out of tokens: it never answered, so that is no verdict on the image and the
 * step fails with the reason instead.
 */
export async function verifyQuestion(
  mllm: Mllm,
  png: Uint8Array,
  question: string,
  signal?: AbortSignal,
  references: readonly Uint8Array[] = [],
): Promise<QuestionVerdict> {
  try {
    // Only questions about the references carry them: the others need not pay for the images.
    const shown = isReferenceQuestion(question) ? references : [];
    const reply = await mllm.chat({ messages: verifierMessages(png, question, shown), maxTokens: 200, signal });
    const answer = reply.content.trim();
    return { ...parseAnswer(answer), answer, isError: false };
  } catch (error) {
    if (isAbortError(error) || error instanceof OutOfTokensError) throw error;
    const reason = describeError(error);
    return { passed: false, failure: `verifier error: ${reason}`, answer: "", isError: true };
  }
}

/** Writes the experience of one attempt, under 100 words. */
export async function compressAttempt(mllm: Mllm, input: CompressorInput, signal?: AbortSignal): Promise<string> {
  const reply = await mllm.chat({ messages: compressorMessages(input), maxTokens: 300, signal });
  const text = limitWords(reply.content.replace(/\s+/g, " "), EXPERIENCE_MAX_WORDS - 1);
  if (text !== "") return text;
  // The loop still needs a lesson to carry forward when the model returns nothing.
  const failed = input.results.filter((r) => !r.passed).map((r) => r.question);
  return limitWords(`No note from the compressor. Still failing: ${failed.join(" ")}`, EXPERIENCE_MAX_WORDS - 1);
}

/**
 * Rewrites the prompt from the whole history; null when the model gave no usable prompt. A
 * server that takes fewer images per request gets the latest ones that fit, and the thought
 * says how many were left out. The limit is learnt from the refusal each time rather than
 * remembered: the server refuses before running the model, so that costs one quick request,
 * and it stays right if the server is restarted with another limit.
 */
export async function refinePrompt(mllm: Mllm, input: RefinerInput, signal?: AbortSignal): Promise<RefinedPrompt | null> {
  const ask = (maxImages: number | undefined) =>
    mllm.chat({ messages: refinerMessages(input, maxImages), maxTokens: 1500, signal });
  let limit: number | undefined;
  let reply;
  try {
    reply = await ask(undefined);
  } catch (error) {
    if (!(error instanceof TooManyImagesError)) throw error;
    limit = error.maxImages;
    reply = await ask(limit);
  }
  const refined = parseRefinedPrompt(reply);
  const images = input.attempts.filter((attempt) => attempt.png !== null).length;
  if (!refined || limit === undefined || images <= limit) return refined;
  const note = `The model server takes at most ${limit} image(s) per request, so the refiner saw the latest ${limit} and left out ${images - limit}.`;
  return { ...refined, thought: refined.thought ? `${refined.thought}\n\n(${note})` : note };
}

/**
 * GEMS_REFINE_MODE=edit: the instruction that repairs the failed requirements of the image to
 * edit; null when the reply held none (the loop then redraws).
 */
export async function writeEditInstruction(mllm: Mllm, input: EditorInput, signal?: AbortSignal): Promise<{ instruction: string; thought: string | null } | null> {
  const reply = await mllm.chat({ messages: editorMessages(input), maxTokens: 1000, signal });
  const instruction = parseEditInstruction(reply.content);
  if (instruction === null) return null;
  const before = reply.content.slice(0, Math.max(0, reply.content.search(/^[*_\s#]*edit\s*:/im))).trim();
  return { instruction, thought: reply.reasoning ?? (before || null) };
}

/** The text after the last "EDIT:" label (markdown emphasis allowed), or null. */
export function parseEditInstruction(content: string): string | null {
  const lines = content.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /^[*_\s#]*edit\s*:[*_\s]*(.*)$/i.exec(lines[i] as string);
    if (!match) continue;
    const rest = (match[1] ?? "").replace(/[*_]+$/, "").trim() || (lines.slice(i + 1).find((l) => l.trim() !== "") ?? "").trim();
    const cleaned = rest.replace(/^["'`]+|["'`]+$/g, "").trim();
    return cleaned === "" ? null : cleaned;
  }
  return null;
}
