/** How every surface words team votes, so Discord, Slack, the CLI and the studio say the same. */
import type { VoteCount } from "../agent/events.ts";

/** "#2 👍 3 👎 1 · #3 👍 1", or null without votes; every surface shows votes in these words. */
export function describeVotes(counts: readonly VoteCount[] | undefined): string | null {
  if (!counts || counts.length === 0) return null;
  return counts.map((c) => `#${c.n} 👍 ${c.up}${c.down > 0 ? ` 👎 ${c.down}` : ""}`).join(" · ");
}

/**
 * The final message's vote line without its emoji ("Team votes: #1 👍 2 — the most voted image is
 * the result"), or null without votes. `isChosenByVotes`: GEMS_RESULT_BY=votes chose the result;
 * `isAfterEnd`: the counts include votes cast after the job ended (a votes.changed), which do not
 * choose again, so the line says the result was the most voted image when the job ended.
 */
export function describeTeamVotes(counts: readonly VoteCount[] | undefined, options: { isChosenByVotes?: boolean; isAfterEnd?: boolean } = {}): string | null {
  const votes = describeVotes(counts);
  if (votes === null) return null;
  const choice = options.isChosenByVotes ? (options.isAfterEnd ? " — the result is the image most voted when the job ended" : " — the most voted image is the result") : "";
  return `Team votes: ${votes}${choice}`;
}
