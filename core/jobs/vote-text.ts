/** How every surface words team votes, so Discord, Slack, the CLI and the studio say the same. */
import type { VoteCount } from "../agent/events.ts";

/** "#2 👍 3 👎 1 · #3 👍 1", or null without votes; every surface shows votes in these words. */
export function describeVotes(counts: readonly VoteCount[] | undefined): string | null {
  if (!counts || counts.length === 0) return null;
  return counts.map((c) => `#${c.n} 👍 ${c.up}${c.down > 0 ? ` 👎 ${c.down}` : ""}`).join(" · ");
}
