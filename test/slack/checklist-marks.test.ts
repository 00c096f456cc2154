import { describe, expect, it } from "vitest";
import { renderIterationComment } from "../../bots/slack/render.ts";
import type { JobStatus } from "../../core/jobs/types.ts";
import { createTrajectory } from "../../core/memory/trajectory.ts";
import { HARD_PROMPT, imageReplies, onlyJobId, startHarness, waitForCard, waitForFinal } from "./harness.ts";

function statusWithRetired(): JobStatus {
  const trajectory = createTrajectory("job1", { prompt: "a purple sphere", skill: "auto", maxIterations: 3 });
  trajectory.requirements = [
    { id: 1, question: "Is there a sphere?", source: "prompt" },
    { id: 2, question: "Is the sphere purple?", source: "prompt", retiredByFeedbackId: 1 },
    { id: 3, question: "Is the sphere green?", source: "feedback", feedbackId: 1 },
  ];
  const iteration = { prompt: "a purple sphere", thought: null, imageHash: null, passed: 0, total: 2, isVerified: true, experience: null, startedAt: trajectory.createdAt };
  trajectory.iterations = [
    { ...iteration, n: 1, verdicts: [{ requirementId: 1, passed: true, answer: "yes" }, { requirementId: 2, passed: true, answer: "yes" }] },
    { ...iteration, n: 2, verdicts: [1, 2, 3].map((id) => ({ requirementId: id, passed: false, answer: "no" })) },
  ];
  return { jobId: "job1", status: "running", position: null, requester: { id: "slack:T1:U1", name: "ana" }, surfaceRef: { surface: "slack" }, request: trajectory.request, iterations: 2, best: null, stopReason: null, error: null, pendingFeedback: 0, lastSeq: 9, createdAt: trajectory.createdAt, updatedAt: trajectory.updatedAt, finishedAt: null, trajectory };
}

describe("checklist marks on Slack", () => {
  it("a question feedback replaced is struck through with Slack's ~tilde~, under a header that counts only the others", () => {
    const status = statusWithRetired();
    const comment = renderIterationComment(status, 2, status.trajectory.iterations[1]!.verdicts);
    const lines = comment.split("\n");
    expect(lines[0]).toBe("*Iteration 2 of 3* · 0/2 passed (1 regressed, 1 replaced)");
    expect(lines.slice(1, 4)).toEqual(["❌ ↩ Is there a sphere? _(regressed: it passed before)_", "❌ Is the sphere green?", "➖ ~Is the sphere purple?~ _(replaced)_"]);
  });

  it("each uploaded iteration flags exactly the regressions the trajectory counts", async () => {
    const { fake, jobs, command } = await startHarness();
    await command(`${HARD_PROMPT} --iterations 4`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const status = jobs.status(onlyJobId(jobs));
    if (!status.ok) throw new Error(status.message);
    const t = status.job.trajectory;
    expect(t.iterations.some((it) => (it.regressions ?? []).length > 0)).toBe(true);
    const replies = imageReplies(fake, card);
    expect(replies).toHaveLength(t.iterations.length);
    for (const reply of replies) {
      const n = Number(/^\*Iteration (\d+)/.exec(reply.text)?.[1]);
      const flagged = reply.text.split("\n").filter((line) => line.startsWith("❌ ↩ ")).length;
      expect(flagged).toBe(t.iterations.find((it) => it.n === n)?.regressions?.length);
    }
  });
});
