/**
 * Builds the moderation step from config, in the one place that does: the word list always
 * (a file, else the built-in list), then OpenAI's endpoint when GEMS_MODERATION=openai.
 */
import type { Logger } from "pino";
import type { ModerationConfig } from "../config/schema.ts";
import { createModerationStep, type ModerationStep, type Moderator } from "../core/moderation/moderator.ts";
import { createOpenAiModerator } from "../core/moderation/openai-moderation.ts";
import { DEFAULT_BLOCKED_WORDS, createWordListModerator, loadWordList } from "../core/moderation/word-list.ts";

export async function createModerationFromConfig(config: Readonly<ModerationConfig>, logger: Logger): Promise<ModerationStep> {
  let words: readonly string[] = DEFAULT_BLOCKED_WORDS;
  if (config.wordsFile) {
    try {
      words = await loadWordList(config.wordsFile);
    } catch (error) {
      throw new Error(
        `GEMS_MODERATION_WORDS: could not read ${config.wordsFile} (${error instanceof Error ? error.message : String(error)}). ` +
          "Example: GEMS_MODERATION_WORDS=./moderation-words.txt, one word or phrase a line",
        { cause: error },
      );
    }
  }
  const moderators: Moderator[] = [createWordListModerator(words)];
  if (config.openai) moderators.push(createOpenAiModerator({ ...config.openai }));
  return createModerationStep(moderators, config.failMode, logger);
}
