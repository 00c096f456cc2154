/** The moderation step's settings: the word list, OpenAI's endpoint, and what an outage means. */
import { resolve } from "node:path";
import { choice, optionalText, url, type EnvOf } from "./env-fields.ts";

export const MODERATION_EXAMPLES: Record<string, string> = {
  GEMS_MODERATION: "openai",
  GEMS_MODERATION_URL: "https://api.openai.com/v1",
  GEMS_MODERATION_FAIL: "closed",
  GEMS_MODERATION_WORDS: "./moderation-words.txt",
};

export const MODERATION_FIELDS = {
  // The word list always runs; "openai" adds OpenAI's moderation endpoint after it.
  GEMS_MODERATION: choice(["words", "openai"] as const),
  GEMS_MODERATION_URL: url,
  GEMS_MODERATION_API_KEY: optionalText,
  GEMS_MODERATION_MODEL: optionalText,
  GEMS_MODERATION_FAIL: choice(["closed", "open"] as const),
  GEMS_MODERATION_WORDS: optionalText,
};

/** The moderation step before any generation (core/moderation). */
export interface ModerationConfig {
  /** A word list file (one entry a line); undefined: the built-in DEFAULT_BLOCKED_WORDS. */
  wordsFile: string | undefined;
  openai: { baseUrl: string; apiKey: string; model: string | undefined } | null;
  /** What an unreachable endpoint means: refuse (closed, default) or let the word list decide (open). */
  failMode: "closed" | "open";
}

export function moderationOf(e: EnvOf<typeof MODERATION_FIELDS> & { OPENAI_API_KEY: string | undefined }, cwd: string, problems: string[]): ModerationConfig {
  let moderationOpenAi: ModerationConfig["openai"] = null;
  if (e.GEMS_MODERATION === "openai") {
    const apiKey = e.GEMS_MODERATION_API_KEY ?? e.OPENAI_API_KEY;
    if (!apiKey) problems.push("GEMS_MODERATION: openai needs GEMS_MODERATION_API_KEY or OPENAI_API_KEY (got neither). Example: GEMS_MODERATION_API_KEY=<your OpenAI API key>");
    else moderationOpenAi = { baseUrl: e.GEMS_MODERATION_URL ?? "https://api.openai.com/v1", apiKey, model: e.GEMS_MODERATION_MODEL };
  }
  return {
    wordsFile: e.GEMS_MODERATION_WORDS ? resolve(cwd, e.GEMS_MODERATION_WORDS) : undefined,
    openai: moderationOpenAi,
    failMode: e.GEMS_MODERATION_FAIL ?? "closed",
  };
}
