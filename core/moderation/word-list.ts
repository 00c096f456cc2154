/**
 * The local moderator: a list of words and phrases, matched case-insensitively on whole words
 * ("ass" does not match "class"; "gore" does not match "gorilla"). Always on, so a team without
 * an OpenAI key still has a filter. The list comes from a file (one entry a line, `#` comments)
 * or, when none is configured, DEFAULT_BLOCKED_WORDS.
 */
import { readFile } from "node:fs/promises";
import type { Moderator, ModerationVerdict } from "./moderator.ts";

/**
 * Deliberately small: terms that name sexual content involving minors or extreme violence, which
 * no team wants generated in a shared channel. Teams extend it with GEMS_MODERATION_WORDS.
 */
export const DEFAULT_BLOCKED_WORDS: readonly string[] = [
  "child porn",
  "cp porn",
  "underage nude",
  "underage sex",
  "loli porn",
  "beheading",
  "decapitated corpse",
  "snuff",
  "gore porn",
];

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Letters and digits in any script count as word characters; a phrase's spaces match any run of spaces. */
function patternOf(entry: string): RegExp {
  const words = entry.trim().split(/\s+/).map(escapeRegExp).join("[\\s\\p{P}]+");
  return new RegExp(`(?<![\\p{L}\\p{N}])${words}(?![\\p{L}\\p{N}])`, "iu");
}

export function createWordListModerator(entries: readonly string[]): Moderator {
  const patterns = entries.map((e) => e.trim()).filter((e) => e !== "").map(patternOf);
  return {
    name: "word-list",
    async check(input): Promise<ModerationVerdict> {
      const text = input.text.normalize("NFKC");
      return patterns.some((p) => p.test(text)) ? { flagged: true, categories: ["word-list"] } : { flagged: false };
    },
  };
}

/** One entry a line; blank lines and lines starting with "#" are skipped. */
export function parseWordList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

export async function loadWordList(path: string): Promise<string[]> {
  return parseWordList(await readFile(path, "utf8"));
}
