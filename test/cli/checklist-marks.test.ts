import { describe, expect, it } from "vitest";
import { renderEvent, type RenderContext } from "../../bots/cli/render.ts";

describe("the CLI's checklist marks", () => {
  it("flags a regression and leaves a replaced question out, saying so in a header that counts the lines below it", () => {
    const ctx: RenderContext = { maxIterations: 3, questions: new Map(), imagePath: (n) => `out/iter-${n}.png`, bestPath: "out/best.png" };
    renderEvent({ type: "requirements", questions: [{ id: 1, question: "Is there a sphere?", source: "prompt" }, { id: 2, question: "Is the sphere purple?", source: "prompt" }] }, ctx);
    renderEvent({ type: "feedback.added", author: "ana", text: "make it green", questions: [{ id: 3, question: "Is the sphere green?", source: "feedback" }], retired: [{ id: 2, question: "Is the sphere purple?", source: "prompt" }] }, ctx);
    const verdicts = [1, 2, 3].map((id) => ({ requirementId: id, passed: id === 3, answer: id === 3 ? "yes" : "no" }));

    const lines = renderEvent({ type: "verified", n: 2, verdicts, passed: 1, total: 2, regressions: [1] }, ctx);

    expect(lines).toEqual([
      "[2/3] verified: 1/2 passed (1 regressed, 1 replaced question left out)",
      "  ✗ ↩ 1. Is there a sphere? (regressed: it passed before)",
      "  ✓ 3. Is the sphere green?",
    ]);
  });
});
