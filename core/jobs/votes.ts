/**
 * Team votes on a job's iterations: 👍/👎 per person per iteration (the last one counts), how
 * they add up, when they show a clear preference, and how they may choose the result. Kept
 * apart from the job service so surfaces and storage only see plain data.
 */
import { bestView } from "../agent/run-job.ts";
import type { AgentEvent, VoteCount } from "../agent/events.ts";
import type { BestImage, Trajectory } from "../memory/trajectory.ts";
import type { PendingFeedback, Person } from "./types.ts";

export type { VoteCount };

export type VoteValue = "up" | "down";

/** One person's vote on one iteration, as stored in the job record. */
export interface VoteEntry {
  n: number;
  voter: Person;
  value: VoteValue;
  at: string;
}

/**
 * What a surface asks for: set a vote, clear it, or clear it only while it still is that value
 * (removing a 👍 reaction must not undo a 👎 the same person gave afterwards).
 */
export type VoteAction = VoteValue | "clear" | "remove-up" | "remove-down";

export const VOTE_ACTIONS: readonly VoteAction[] = ["up", "down", "clear", "remove-up", "remove-down"];

/** `passes`: the image that passed most (the paper's rule); `votes`: the most voted one, ties by passes. */
export type ResultBy = "passes" | "votes";

/** Who a team preference is written by in memory; surfaces show it as feedback from this name. */
export const TEAM_AUTHOR = "the team";

/** The votes after `action`; the input is not changed. */
export function applyVote(votes: readonly VoteEntry[], voter: Person, n: number, action: VoteAction, at: string): VoteEntry[] {
  const current = votes.find((v) => v.n === n && v.voter.id === voter.id);
  const others = votes.filter((v) => v !== current);
  if (action === "up" || action === "down") return [...others, { n, voter: { id: voter.id, name: voter.name }, value: action, at }];
  if (action === "clear") return others;
  return current && current.value === (action === "remove-up" ? "up" : "down") ? others : [...votes];
}

/** Votes per iteration, in iteration order. */
export function countVotes(votes: readonly VoteEntry[]): VoteCount[] {
  const counts = new Map<number, VoteCount>();
  for (const vote of votes) {
    const count = counts.get(vote.n) ?? { n: vote.n, up: 0, down: 0 };
    count[vote.value]++;
    counts.set(vote.n, count);
  }
  return [...counts.values()].sort((a, b) => a.n - b.n);
}

/**
 * The iteration the team clearly prefers: the only one with the highest net score (👍 − 👎),
 * and that score above zero. Null when nobody voted, votes cancel out, or two iterations tie.
 */
export function preferredIteration(t: Trajectory, votes: readonly VoteEntry[]): number | null {
  const withImages = new Set(t.iterations.filter((it) => it.imageHash !== null).map((it) => it.n));
  const scored = countVotes(votes)
    .filter((c) => withImages.has(c.n))
    .map((c) => ({ n: c.n, net: c.up - c.down }))
    .sort((a, b) => b.net - a.net);
  const [first, second] = scored;
  if (!first || first.net <= 0) return null;
  return second && second.net === first.net ? null : first.n;
}

/**
 * The most voted verified image (net score above zero); a tie goes to the one that passed more
 * requirements, then to the earlier one. Null when no image has a positive score.
 */
export function mostVotedImage(t: Trajectory, votes: readonly VoteEntry[]): BestImage | null {
  const net = new Map(countVotes(votes).map((c) => [c.n, c.up - c.down]));
  let best: { image: BestImage; net: number } | null = null;
  for (const it of t.iterations) {
    const score = net.get(it.n) ?? 0;
    if (it.imageHash === null || !it.isVerified || score <= 0) continue;
    if (best === null || score > best.net || (score === best.net && it.passed > best.image.passed)) {
      best = { image: { n: it.n, imageHash: it.imageHash, passed: it.passed, total: it.total }, net: score };
    }
  }
  return best?.image ?? null;
}

export function preferenceText(n: number): string {
  return `The team preferred iteration ${n} over the other images (by 👍/👎 votes). Keep what makes it better and fix what it still misses.`;
}

/**
 * A note for the next attempt when the votes show a clear preference that memory does not hold
 * yet (the latest team note, written or pending, names another iteration or none). Null otherwise.
 */
export function preferenceNote(t: Trajectory, votes: readonly VoteEntry[], pending: readonly PendingFeedback[], at: string): PendingFeedback | null {
  const n = preferredIteration(t, votes);
  if (n === null) return null;
  const text = preferenceText(n);
  const latest = [...t.feedback.filter((f) => f.author === TEAM_AUTHOR).map((f) => f.text), ...pending.filter((p) => p.isNote).map((p) => p.text)].at(-1);
  if (latest === text) return null;
  return { author: { id: TEAM_AUTHOR, name: TEAM_AUTHOR }, text, receivedAt: at, isNote: true };
}

/**
 * Finishing touches to a job's end as the service stores it: the votes go into `job.done` so the
 * final message can show them, and with `resultBy: "votes"` the most voted image becomes the
 * result (not when a person picked one). Changes `t.best` to match the event.
 */
export function withVotes(t: Trajectory, events: AgentEvent[], votes: readonly VoteEntry[], resultBy: ResultBy): AgentEvent[] {
  if (!events.some((e) => e.type === "job.done")) return events;
  return events.map((event) => {
    if (event.type !== "job.done") return event;
    const counts = countVotes(votes);
    if (resultBy === "votes" && event.reason !== "picked") {
      const voted = mostVotedImage(t, votes);
      if (voted && voted.n !== t.best?.n) {
        t.best = voted;
        return { ...event, best: bestView(voted), votes: counts, isChosenByVotes: true };
      }
      if (voted) return { ...event, votes: counts, isChosenByVotes: true };
    }
    return counts.length > 0 ? { ...event, votes: counts } : event;
  });
}
