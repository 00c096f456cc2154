/**
 * The cheaper loop's roles (GEMS_VERIFY_MODE=batch, GEMS_LOOP=fast). Each does in one MLLM call
 * what roles.ts does in several, and falls back to roles.ts where one call gave too little.
 */
import type { Mllm } from "../models/ports.ts";
import { isAbortError } from "../errors.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import { batchVerifierMessages, fastRefinerMessages, isReferenceQuestion, type FastRefinerInput } from "./prompts.ts";
import { limitWords, parseAnswer, type RefinedPrompt } from "./parse.ts";
import { parseBatchAnswers, parseFastRefinement, readsAsYesOrNo } from "./parse-batch.ts";
import { EXPERIENCE_MAX_WORDS, verifyQuestion, type QuestionVerdict } from "./roles.ts";

/** Room for a yes/no and a short reason per question, plus some for models that preface. */
const batchMaxTokens = (questions: number): number => Math.min(4000, 200 + 80 * questions);

/**
 * Asks every question about one image in one call. A question whose answer cannot be read
 * (missing, unclear, contradictory) is asked again on its own, as is every question when the
 * batch call itself fails; a single question goes straight to the per-question verifier.
 */
export async function verifyChecklist(
  mllm: Mllm,
  png: Uint8Array,
  questions: readonly string[],
  concurrency: number,
  signal?: AbortSignal,
  references: readonly Uint8Array[] = [],
): Promise<QuestionVerdict[]> {
  if (questions.length <= 1) return Promise.all(questions.map((q) => verifyQuestion(mllm, png, q, signal, references)));
  const shown = questions.some(isReferenceQuestion) ? references : [];
  let answers: Array<string | null>;
  try {
    const reply = await mllm.chat({ messages: batchVerifierMessages(png, questions, shown), maxTokens: batchMaxTokens(questions.length), signal });
    answers = parseBatchAnswers(reply.content, questions);
  } catch (error) {
    if (isAbortError(error)) throw error;
    // Some servers refuse a long request that short ones pass (context limits); the questions
    // asked one by one either get answers or fail with their own reasons.
    answers = questions.map(() => null);
  }
  const verdicts: Array<QuestionVerdict | null> = answers.map((answer) =>
    answer !== null && readsAsYesOrNo(answer) ? { ...parseAnswer(answer), answer: answer.trim(), isError: false } : null,
  );
  const unread = verdicts.flatMap((verdict, index) => (verdict === null ? [index] : []));
  const again = await mapWithConcurrency(unread, concurrency, (index) => verifyQuestion(mllm, png, questions[index] as string, signal, references));
  unread.forEach((index, k) => {
    verdicts[index] = again[k] as QuestionVerdict;
  });
  return verdicts as QuestionVerdict[];
}

export interface Revision {
  experience: string;
  /** Null when the reply held no usable prompt; the loop then keeps the old one, as after the refiner. */
  refined: RefinedPrompt | null;
}

/** The compressor's experience and the refiner's next prompt from one call. */
export async function reviseAttempt(mllm: Mllm, input: FastRefinerInput, signal?: AbortSignal): Promise<Revision> {
  const reply = await mllm.chat({ messages: fastRefinerMessages(input), maxTokens: 1800, signal });
  const { experience, refined } = parseFastRefinement(reply);
  const note = limitWords((experience ?? "").replace(/\s+/g, " "), EXPERIENCE_MAX_WORDS - 1);
  if (note !== "") return { experience: note, refined };
  // As compressAttempt does: the loop needs a lesson to carry forward even from a silent model.
  const failed = (input.attempts.at(-1)?.results ?? []).filter((r) => !r.passed).map((r) => r.question);
  return { experience: limitWords(`No note from the compressor. Still failing: ${failed.join(" ")}`, EXPERIENCE_MAX_WORDS - 1), refined };
}
