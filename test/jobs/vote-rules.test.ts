import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import { describeTeamVotes, describeVotes } from "../../core/jobs/vote-text.ts";
import { shownVoteCounts, votesChangedEvent } from "../../core/jobs/voting.ts";
import type { JobRecord } from "../../core/jobs/types.ts";
import { applyVote, mostVotedImage, preferenceNote, preferenceText, preferredIteration, withVotes, type VoteEntry } from "../../core/jobs/votes.ts";
import { createTrajectory, type Trajectory } from "../../core/memory/trajectory.ts";

const AT = "2030-01-01T00:00:00.000Z";
const ana = { id: "slack:T1:U1", name: "Ana" };
const bo = { id: "discord:2", name: "Bo" };
const cy = { id: "web:cy", name: "Cy" };

/** Three verified iterations that passed 1, 3 and 3 of 3 checks. */
function trajectory(): Trajectory {
  const t = createTrajectory("job1", { prompt: "a red cube", skill: "none", maxIterations: 5 }, new Date(AT));
  t.iterations = [1, 3, 3].map((passed, i) => ({
    n: i + 1,
    prompt: `prompt ${i + 1}`,
    thought: null,
    imageHash: `hash${i + 1}`,
    verdicts: [],
    passed,
    total: 3,
    isVerified: true,
    experience: null,
    startedAt: AT,
  }));
  t.best = { n: 2, imageHash: "hash2", passed: 3, total: 3 };
  return t;
}

const votes = (...entries: Array<[typeof ana, number, "up" | "down"]>): VoteEntry[] =>
  entries.reduce<VoteEntry[]>((all, [voter, n, value]) => applyVote(all, voter, n, value, AT), []);

describe("vote rules", () => {
  it("a clear preference is the one iteration with the highest net score above zero", () => {
    const t = trajectory();
    expect(preferredIteration(t, votes([ana, 1, "up"], [bo, 1, "up"], [cy, 3, "up"]))).toBe(1);
    expect(preferredIteration(t, votes([ana, 1, "up"], [bo, 3, "up"]))).toBeNull();
    expect(preferredIteration(t, votes([ana, 1, "down"]))).toBeNull();
    expect(preferredIteration(t, [])).toBeNull();
  });

  it("the most voted image wins by net score; a tie goes to more passes, then the earlier one", () => {
    const t = trajectory();
    expect(mostVotedImage(t, votes([ana, 1, "up"], [bo, 1, "up"], [cy, 2, "up"]))?.n).toBe(1);
    expect(mostVotedImage(t, votes([ana, 1, "up"], [bo, 3, "up"]))?.n).toBe(3);
    expect(mostVotedImage(t, votes([ana, 2, "up"], [bo, 3, "up"]))?.n).toBe(2);
    expect(mostVotedImage(t, votes([ana, 3, "down"]))).toBeNull();
  });

  it("a note is not queued again while memory or the pending list already holds the same preference", () => {
    const t = trajectory();
    const v = votes([ana, 3, "up"]);
    const note = preferenceNote(t, v, [], AT);
    expect(note).toMatchObject({ text: preferenceText(3), isNote: true });
    expect(preferenceNote(t, v, note ? [note] : [], AT)).toBeNull();
    t.feedback.push({ id: 1, author: "the team", text: preferenceText(3), atIteration: 3, requirementIds: [], retiredRequirementIds: [], addedAt: AT });
    expect(preferenceNote(t, v, [], AT)).toBeNull();
    expect(preferenceNote(t, votes([ana, 3, "up"], [bo, 1, "up"], [cy, 1, "up"]), [], AT)?.text).toBe(preferenceText(1));
  });

  it("by votes, a picked result is kept; by passes, only the votes are added to job.done", () => {
    const t = trajectory();
    const v = votes([ana, 1, "up"]);
    const [picked] = withVotes(t, [{ type: "job.done", best: null, reason: "picked" }], v, "votes");
    expect(picked).toMatchObject({ reason: "picked", votes: [{ n: 1, up: 1, down: 0 }] });
    expect(t.best?.n).toBe(2);
    const [byPasses] = withVotes(t, [{ type: "job.done", best: null, reason: "max-iterations" }], v, "passes");
    expect(byPasses).not.toHaveProperty("isChosenByVotes");
    expect(t.best?.n).toBe(2);
    const [byVotes] = withVotes(t, [{ type: "job.done", best: null, reason: "max-iterations" }], v, "votes");
    expect(byVotes).toMatchObject({ isChosenByVotes: true, best: { n: 1, image: { hash: "hash1" } } });
    expect(t.best?.n).toBe(1);
  });

  it("words votes the same way for every surface", () => {
    expect(describeVotes([{ n: 2, up: 3, down: 1 }, { n: 3, up: 1, down: 0 }])).toBe("#2 👍 3 👎 1 · #3 👍 1");
    expect(describeVotes([])).toBeNull();
  });

  it("words the vote line of a final message, and says a result chosen by votes was chosen at the end once later votes came", () => {
    const counts = [{ n: 1, up: 2, down: 0 }];
    expect(describeTeamVotes(counts)).toBe("Team votes: #1 👍 2");
    expect(describeTeamVotes(counts, { isChosenByVotes: true })).toBe("Team votes: #1 👍 2 — the most voted image is the result");
    expect(describeTeamVotes(counts, { isChosenByVotes: true, isAfterEnd: true })).toBe("Team votes: #1 👍 2 — the result is the image most voted when the job ended");
    expect(describeTeamVotes([], { isChosenByVotes: true })).toBeNull();
  });
});

describe("votes.changed: when a finished job's final message is behind its votes", () => {
  const event = (seq: number, body: Record<string, unknown>) => ({ ...body, jobId: "job1", seq, at: AT }) as JobEvent;
  function record(events: JobEvent[], stored: VoteEntry[], status: "done" | "cancelled" | "running" = "done"): JobRecord {
    const t = trajectory();
    t.status = status;
    return { version: 1, jobId: "job1", requester: ana, surfaceRef: { surface: "test" }, trajectory: t, events, cursors: {}, pendingFeedback: [], finishedAt: AT, votes: stored };
  }
  const done = event(1, { type: "job.done", best: null, reason: "max-iterations", votes: [{ n: 1, up: 1, down: 0 }] });

  it("the shown counts are the latest votes.changed or job.done; none after a failure, a stop or a continue", () => {
    expect(shownVoteCounts([done])).toEqual([{ n: 1, up: 1, down: 0 }]);
    expect(shownVoteCounts([done, event(2, { type: "votes.changed", votes: [] }), event(3, { type: "feedback.added" })])).toEqual([]);
    expect(shownVoteCounts([done, event(2, { type: "job.queued", position: 0 })])).toBeNull();
    expect(shownVoteCounts([event(1, { type: "job.cancelled", best: null })])).toBeNull();
    expect(shownVoteCounts([])).toBeNull();
  });

  it("is needed only when the stored votes count differently from what the message shows", () => {
    expect(votesChangedEvent(record([done], votes([ana, 1, "up"])))).toBeNull();
    // Other people, the same counts (one vote moved, another taken back): nothing to show.
    expect(votesChangedEvent(record([done], votes([bo, 1, "up"])))).toBeNull();
    expect(votesChangedEvent(record([done], votes([ana, 1, "up"], [bo, 2, "down"])))).toEqual({
      type: "votes.changed",
      votes: [
        { n: 1, up: 1, down: 0 },
        { n: 2, up: 0, down: 1 },
      ],
    });
    expect(votesChangedEvent(record([done], []))).toEqual({ type: "votes.changed", votes: [] });
  });

  it("is never needed for a job that is running again, or whose end was a stop", () => {
    expect(votesChangedEvent(record([done], votes([bo, 2, "up"]), "running"))).toBeNull();
    expect(votesChangedEvent(record([event(1, { type: "job.cancelled", best: null })], votes([bo, 2, "up"]), "cancelled"))).toBeNull();
  });
});
