import { describe, expect, it } from "vitest";
import { renderEvent } from "../../bots/cli/render.ts";

describe("the CLI's plan line", () => {
  const ctx = { maxIterations: 5, questions: new Map<number, string>(), imagePath: () => "", bestPath: "" };
  it("names non-reference modes and only those", () => {
    const plan = { type: "plan.done", skill: null, prompt: "a red cube", why: null } as const;
    expect(renderEvent({ ...plan, modes: { verify: "batch", loop: "fast" } }, ctx)[0]).toBe("plan: no skill; batch verification, fast loop");
    expect(renderEvent({ ...plan, modes: { verify: "per-question", loop: "fast" } }, ctx)[0]).toBe("plan: no skill; fast loop");
    expect(renderEvent({ ...plan, modes: { verify: "per-question", loop: "full" } }, ctx)[0]).toBe("plan: no skill");
  });
});
