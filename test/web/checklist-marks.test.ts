import { describe, expect, it } from "vitest";
// The studio's page code is plain browser JavaScript; its checklist must agree with core's.
// @ts-expect-error: a .js module without types, served as is to the browser
import { applyEvent, checklistOf, createJobState, regressionsOf } from "../../bots/web/public/job-state.js";
import { checklistLines, regressedRequirementIds } from "../../core/memory/checklist.ts";

const v = (requirementId: number, passed: boolean) => ({ requirementId, passed, answer: passed ? "yes" : "no" });

type EventFields = Record<string, unknown>;

function stateFrom(events: EventFields[]) {
  const state = createJobState({ jobId: "j1", request: { prompt: "p", skill: "auto", maxIterations: 3 }, requester: { id: "web:ana", name: "ana" }, surfaceRef: { surface: "web" } });
  events.forEach((event, i) => applyEvent(state, { ...event, jobId: "j1", seq: i + 1, at: "2026-01-01T00:00:00.000Z" }));
  return state;
}

const history = [
  { n: 1, verdicts: [v(1, true), v(2, true), v(3, false)] },
  { n: 2, verdicts: [v(1, false), v(2, false), v(3, false), v(4, true)] },
];
const events: EventFields[] = [
  { type: "requirements", questions: [1, 2, 3].map((id) => ({ id, question: `Q${id}?`, source: "prompt" })) },
  { type: "verified", n: 1, verdicts: history[0]!.verdicts, passed: 2, total: 3 },
  { type: "feedback.added", author: "ana", text: "t", questions: [{ id: 4, question: "Q4?", source: "feedback" }], retired: [{ id: 2, question: "Q2?", source: "prompt" }] },
  { type: "verified", n: 2, verdicts: history[1]!.verdicts, passed: 1, total: 3 },
];

describe("the studio's checklist marks", () => {
  it("derives the same regressions as core for events stored without them", () => {
    const state = stateFrom(events);
    expect(regressionsOf(state, 2)).toEqual(regressedRequirementIds(history, 2, (id) => id !== 2));
    expect(regressionsOf(state, 2)).toEqual([1]);
  });

  it("builds the same rows and counts as core's checklistLines, with the replaced question last", () => {
    const state = stateFrom(events);
    const requirements = [1, 2, 3, 4].map((id) => ({ id, question: `Q${id}?`, retired: id === 2 }));
    for (const n of [1, 2]) {
      const core = checklistLines(requirements, history[n - 1]!.verdicts, regressedRequirementIds(history, n, (id) => id !== 2));
      const page = checklistOf(state, state.iterations.get(n));
      expect(page.rows.map((r: { requirementId: number; mark: string }) => [r.requirementId, r.mark])).toEqual(core.rows.map((r) => [r.requirementId, r.mark]));
      expect([page.passed, page.total, page.regressed, page.retired]).toEqual([core.passed, core.total, core.regressed, core.retired]);
    }
  });

  it("uses the regressions the verified event carries", () => {
    const state = stateFrom([...events.slice(0, 3), { ...events[3]!, regressions: [3] }]);
    expect(checklistOf(state, state.iterations.get(2)).rows.filter((r: { mark: string }) => r.mark === "regressed").map((r: { requirementId: number }) => r.requirementId)).toEqual([3]);
  });
});
