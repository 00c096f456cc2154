/**
 * The moderation port: one question ("may this be generated?") asked of every prompt, feedback
 * and reference image before anything is queued or stored. Adapters: a local word list (always
 * on) and OpenAI's moderation endpoint (when configured). `createModerationStep` asks them in
 * order and decides what an unreachable endpoint means (fail closed or open).
 */
import type { Logger } from "pino";
import { describeError } from "../errors.ts";

export interface ModerationImage {
  mimeType: string;
  data: Uint8Array;
}

export interface ModerationInput {
  /** What the person wrote: a prompt or a feedback. */
  text: string;
  /** Reference images the request carries, if any. */
  images?: readonly ModerationImage[];
}

export type ModerationVerdict =
  | { flagged: false }
  /** `categories` names why (e.g. "word-list", "violence"); never the offending text itself. */
  | { flagged: true; categories: string[] };

export interface Moderator {
  readonly name: string;
  /** Throws (a BackendError) when it cannot answer; the step decides what that means. */
  check(input: ModerationInput, signal?: AbortSignal): Promise<ModerationVerdict>;
}

/** What to do when a moderator cannot answer: refuse the request (closed) or let it through (open). */
export type ModerationFailMode = "closed" | "open";

export type ModerationOutcome =
  | { ok: true }
  | { ok: false; by: string; categories: string[]; isOutage: boolean };

export interface ModerationStep {
  readonly names: readonly string[];
  check(input: ModerationInput): Promise<ModerationOutcome>;
}

export function createModerationStep(moderators: readonly Moderator[], failMode: ModerationFailMode, logger: Logger): ModerationStep {
  return {
    names: moderators.map((m) => m.name),
    async check(input) {
      for (const moderator of moderators) {
        let verdict: ModerationVerdict;
        try {
          verdict = await moderator.check(input);
        } catch (error) {
          logger.warn({ moderator: moderator.name, failMode }, `moderation could not be checked: ${describeError(error)}`);
          if (failMode === "closed") return { ok: false, by: moderator.name, categories: [], isOutage: true };
          continue;
        }
        if (verdict.flagged) return { ok: false, by: moderator.name, categories: verdict.categories, isOutage: false };
      }
      return { ok: true };
    },
  };
}
