import { describe, expect, it } from "vitest";
import { SLACK_LIMITS, truncate, truncateMrkdwn } from "../../bots/slack/limits.ts";
import { buildCreateModal } from "../../bots/slack/modal.ts";
import { plainTextFromSlack } from "../../bots/slack/mrkdwn.ts";
import { renderIterationComment, renderPlan, renderStatusCard } from "../../bots/slack/render.ts";
import type { JobStatus } from "../../core/jobs/types.ts";
import { createTrajectory } from "../../core/memory/trajectory.ts";
import type { SkillLibrary, SkillSummary } from "../../core/skills/types.ts";

function statusWith(prompt: string, questions: number): JobStatus {
  const trajectory = createTrajectory("job1", { prompt, skill: "auto", maxIterations: 5 });
  trajectory.status = "running";
  trajectory.requirements = Array.from({ length: questions }, (_, i) => ({ id: i + 1, question: `Is thing number ${i + 1} exactly where it should be & <visible>?`, source: "prompt" as const }));
  trajectory.iterations = [
    { n: 1, prompt, thought: "t".repeat(5000), imageHash: null, verdicts: [], passed: 0, total: questions, isVerified: true, experience: null, startedAt: trajectory.createdAt },
  ];
  return {
    jobId: "job1",
    status: "running",
    position: null,
    requester: { id: "slack:T1:U1", name: "ana" },
    surfaceRef: { surface: "slack" },
    request: trajectory.request,
    iterations: 1,
    best: null,
    stopReason: null,
    error: null,
    pendingFeedback: 0,
    lastSeq: 5,
    createdAt: trajectory.createdAt,
    updatedAt: trajectory.updatedAt,
    finishedAt: null,
    trajectory,
  };
}

function library(count: number): SkillLibrary {
  const skills: SkillSummary[] = Array.from({ length: count }, (_, i) => ({ id: `skill-${i}`, name: `A skill with a rather long name, number ${i}, for tests`, description: "d".repeat(400) }));
  return { manifest: () => skills, has: (id) => skills.some((s) => s.id === id), load: async () => ({ ...skills[0]!, instructions: "" }), problems: () => [] };
}

describe("rendering within Slack's limits", () => {
  it("a 4,000-character prompt keeps the status card's sections under 3,000 characters", () => {
    const card = renderStatusCard(statusWith("a red cube ".repeat(400), 3));

    for (const block of card.blocks ?? []) {
      if (block.type === "section") expect(block.text!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    }
    expect(card.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
  });

  it("an iteration with 200 checks fits one comment, escaped", () => {
    const status = statusWith("a red cube", 200);
    const verdicts = status.trajectory.requirements!.map((r) => ({ requirementId: r.id, passed: r.id % 2 === 0, answer: "yes" }));

    const comment = renderIterationComment(status, 1, verdicts, []);

    expect(comment.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
    expect(comment).toContain("&amp; &lt;visible&gt;");
    expect(comment).not.toMatch(/&[a-z]{0,4}…$/);
  });

  it("a library of 150 skills gives the modal 100 options with short texts", () => {
    const modal = buildCreateModal(library(150), "C1");
    const select = (modal.blocks[1] as any).element;

    expect(select.options).toHaveLength(SLACK_LIMITS.staticSelectOptions);
    for (const option of select.options) {
      expect(option.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.optionText);
      expect(option.description.text.length).toBeLessThanOrEqual(SLACK_LIMITS.optionDescription);
    }
  });

  it("truncation marks the cut and never leaves half an escape", () => {
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncateMrkdwn("ab &amp; cd", 6)).toBe("ab …");
    expect(truncateMrkdwn("see <https://example.com|the site>", 12)).toBe("see …");
  });

  it("reads Slack's link and mention markup back as plain text", () => {
    expect(plainTextFromSlack("make it like <https://x.test/a.png|this> for <@U1|ana> in <#C1|art> &amp; <!here>")).toBe("make it like this for @ana in #art & @here");
  });
});

describe("the plan message", () => {
  it("names non-reference loop modes and says nothing more for the reference loop", () => {
    const status = statusWith("a red cube", 2);
    status.trajectory.plan = { skill: null, prompt: "a red cube", why: null };
    expect(renderPlan(status, []).text).not.toContain("verification");
    status.trajectory.modes = { verify: "batch", loop: "fast" };
    expect(renderPlan(status, []).text).toContain("(batch verification, fast loop)");
  });
});
