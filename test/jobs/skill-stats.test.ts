import { describe, expect, it } from "vitest";
import { computeSkillStats, describeSkillStat } from "../../core/jobs/skill-stats.ts";
import { createTrajectory, type Trajectory } from "../../core/memory/trajectory.ts";

let counter = 0;
/** A finished trajectory: `checks` requirements, `images` iterations, all passed or not. */
function job(skill: string | null, checks: number, images: number, isAllPassed: boolean, status: Trajectory["status"] = "done"): Trajectory {
  const t = createTrajectory(`j${++counter}`, { prompt: "p", skill: skill ?? "none", maxIterations: 5 });
  t.plan = { skill, prompt: "p", why: null };
  t.requirements = Array.from({ length: checks }, (_, i) => ({ id: `r${i}`, question: `q${i}?`, source: "decomposer" }) as never);
  t.iterations = Array.from({ length: images }, () => ({}) as never);
  t.best = { n: images, imageHash: "h", passed: isAllPassed ? checks : checks - 1, total: checks };
  t.status = status;
  return t;
}

describe("per-skill numbers", () => {
  it("counts jobs, the all-passed share and images per success, against no-skill jobs of the same size buckets", () => {
    const stats = computeSkillStats([
      // The skill: two small jobs (both pass, 1 and 3 images), one large job (fails).
      job("spatial-layout", 2, 1, true),
      job("spatial-layout", 3, 3, true),
      job("spatial-layout", 8, 5, false),
      // No skill: small jobs pass half the time (2 images when they do), large ones always (4 images).
      job(null, 2, 2, true),
      job(null, 1, 5, false),
      job(null, 9, 4, true),
      // Not counted: failed and stopped jobs, and jobs with no checks.
      job("spatial-layout", 2, 5, false, "failed"),
      job("spatial-layout", 2, 5, false, "cancelled"),
      job("spatial-layout", 0, 1, false),
    ]);
    const skill = stats.find((s) => s.skill === "spatial-layout");
    expect(skill).toEqual({
      skill: "spatial-layout",
      jobs: 3,
      passRate: 2 / 3,
      imagesPerSuccess: 2,
      // Weighted by the skill's mix: 2 small jobs × 50% + 1 large × 100%, over 3; images 2×2 + 1×4, over 3.
      baseline: { jobs: 3, passRate: (2 * 0.5 + 1) / 3, imagesPerSuccess: (2 * 2 + 4) / 3 },
    });
    expect(stats.at(-1)).toMatchObject({ skill: null, jobs: 3, baseline: null });
    expect(describeSkillStat(skill!)).toBe("spatial-layout — 3 jobs, 67% all passed, 2.0 images per success (no skill on similar prompts: 67%, 2.7)");
  });

  it("has no baseline when no no-skill job shares a bucket", () => {
    const [only] = computeSkillStats([job("text-rendering", 2, 1, true), job(null, 9, 1, true)]);
    expect(only).toMatchObject({ skill: "text-rendering", baseline: null });
    expect(describeSkillStat(only!)).toContain("(no no-skill jobs of similar size yet)");
  });
});
