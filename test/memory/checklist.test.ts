import { describe, expect, it } from "vitest";
import { checklistLines, regressedRequirementIds } from "../../core/memory/checklist.ts";
import { parseStoredTrajectory } from "../../core/memory/trajectory-schema.ts";
import { countRegressions, regressionsOf, type Verdict } from "../../core/memory/trajectory.ts";
import { rescore } from "../../core/agent/run-job.ts";
import { makeTrajectory } from "./trajectory-fixture.ts";

const v = (requirementId: number, passed: boolean): Verdict => ({ requirementId, passed, answer: passed ? "yes" : "no" });

describe("regressions", () => {
  const history = [
    { n: 1, verdicts: [v(1, true), v(2, false), v(3, true)] },
    { n: 2, verdicts: [v(1, false), v(2, true), v(3, true)] },
    { n: 3, verdicts: [v(1, false), v(2, false), v(3, false)] },
  ];

  it("a requirement that passed in any earlier iteration and fails now is a regression", () => {
    expect(regressedRequirementIds(history, 1)).toEqual([]);
    expect(regressedRequirementIds(history, 2)).toEqual([1]);
    // 1 passed in iteration 1 only, 2 in iteration 2 only, 3 in both: all regressed in 3.
    expect(regressedRequirementIds(history, 3)).toEqual([1, 2, 3]);
  });

  it("a requirement feedback retired is never a regression", () => {
    expect(regressedRequirementIds(history, 3, (id) => id !== 2)).toEqual([1, 3]);
  });

  it("later iterations do not change an earlier one's regressions", () => {
    expect(regressedRequirementIds(history.slice(0, 2), 2)).toEqual(regressedRequirementIds(history, 2));
  });
});

describe("checklist lines", () => {
  const requirements = [
    { id: 1, question: "Is it red?", retired: false },
    { id: 2, question: "Is it round?", retired: true },
    { id: 3, question: "Is it big?", retired: false },
    { id: 4, question: "Is it shiny?", retired: false },
  ];

  it("active requirements first with their marks, then retired ones struck, and the counts cover only the active", () => {
    const lines = checklistLines(requirements, [v(1, false), v(2, false), v(3, true)], [1]);
    expect(lines.rows.map((r) => [r.requirementId, r.mark])).toEqual([
      [1, "regressed"],
      [3, "passed"],
      [4, "unchecked"],
      [2, "retired"],
    ]);
    expect(lines).toMatchObject({ passed: 1, total: 3, regressed: 1, retired: 1 });
  });

  it("a retired requirement this image was never asked does not appear", () => {
    const lines = checklistLines(requirements, [v(1, true), v(3, true), v(4, true)], []);
    expect(lines.rows.map((r) => r.mark)).toEqual(["passed", "passed", "passed"]);
    expect(lines).toMatchObject({ passed: 3, total: 3, retired: 0 });
  });
});

describe("regressions in the trajectory", () => {
  it("rescoring stores each iteration's regressions, and drops one when feedback retires its requirement", () => {
    const t = makeTrajectory("job-regressions");
    t.requirements = [
      { id: 1, question: "Is it red?", source: "prompt" },
      { id: 2, question: "Is it round?", source: "prompt" },
    ];
    const [first, second] = t.iterations;
    if (!first || !second) throw new Error("the fixture has two iterations");
    first.verdicts = [v(1, true), v(2, true)];
    first.isVerified = true;
    second.imageHash = first.imageHash;
    second.verdicts = [v(1, false), v(2, false)];
    second.isVerified = true;
    rescore(t);
    expect(t.iterations.map((it) => it.regressions)).toEqual([[], [1, 2]]);
    expect(countRegressions(t)).toBe(2);

    t.requirements[1]!.retiredByFeedbackId = 1;
    rescore(t);
    expect(second.regressions).toEqual([1]);
  });

  it("a record stored before regressions were counted still loads, and its regressions are derived", () => {
    const t = makeTrajectory("job-regressions");
    t.requirements = [{ id: 1, question: "Is it red?", source: "prompt" }];
    t.iterations[0]!.verdicts = [v(1, true)];
    t.iterations[1]!.verdicts = [v(1, false)];
    const stored = JSON.parse(JSON.stringify(t));
    for (const it of stored.iterations) delete it.regressions;
    const loaded = parseStoredTrajectory(t.jobId, stored);
    expect(loaded.iterations[1]!.regressions).toBeUndefined();
    expect(regressionsOf(loaded, loaded.iterations[1]!)).toEqual([1]);
  });
});
