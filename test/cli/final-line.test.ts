import { describe, expect, it } from "vitest";
import { renderEvent } from "../../bots/cli/render.ts";
import type { UsageView } from "../../core/agent/events.ts";

describe("the CLI's final lines", () => {
  const ctx = { maxIterations: 5, questions: new Map<number, string>(), imagePath: () => "", bestPath: "out/best.png" };
  const best = { n: 2, image: { hash: "h" }, passed: 3, total: 4 };
  const usage: UsageView = { calls: 9, reportedCalls: 9, inputTokens: 12_345, cachedInputTokens: 0, outputTokens: 678, images: 2, cost: 0.0421, currency: "USD", unpriced: [] };

  it("says a quota stopped the job and why, then what it cost", () => {
    const lines = renderEvent({ type: "job.done", best, reason: "quota", message: "You have used 2 of 2 images today (UTC).", usage }, ctx);
    expect(lines).toEqual([
      "done: stopped by a quota: You have used 2 of 2 images today (UTC). best: iteration 2 (3/4) → out/best.png",
      "Cost: $0.0421 (12,345 tokens in, 678 out, 2 images)",
    ]);
  });

  it("shows tokens and images, and which models have no price, when unpriced", () => {
    const unpriced = { ...usage, cost: null, unpriced: ["openai-compatible:qwen3-vl"], reportedCalls: 8 };
    expect(renderEvent({ type: "job.failed", error: "boom", best: null, usage: unpriced }, ctx)[1]).toBe(
      "Usage: 12,345 tokens in, 678 out, 2 images; 1 call(s) without token counts (no price set for openai-compatible:qwen3-vl)",
    );
  });
});
