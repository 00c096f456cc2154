import { describe, expect, it } from "vitest";
import { ProgressPrinter } from "../../bots/cli/progress.ts";
import { activityAfter, renderEvent, type RenderContext } from "../../bots/cli/render.ts";
import type { AgentEvent } from "../../core/agent/events.ts";

const ctx: RenderContext = { maxIterations: 3, questions: new Map(), imagePath: (n) => `out/iter-${n}.png`, bestPath: "out/best.png" };
const preview = (percent: number): AgentEvent => ({ type: "image.preview", n: 2, percent, image: null });

function terminal() {
  const chunks: string[] = [];
  return { chunks, out: { isTTY: true, write: (chunk: string) => chunks.push(chunk) } };
}

describe("the CLI's live status line", () => {
  it("shows the percent drawn while an image is generated, and no permanent line for it", () => {
    const { chunks, out } = terminal();
    const printer = new ProgressPrinter(out);
    printer.status(activityAfter({ type: "iteration.started", n: 2, prompt: "a red cube", thought: null }, 2));
    for (const percent of [25, 50]) {
      expect(renderEvent(preview(percent), ctx)).toEqual([]);
      printer.status(activityAfter(preview(percent), 2), true);
    }
    printer.stop();
    const drawn = chunks.filter((c) => c.includes("generating image 2"));
    expect(drawn.at(-1)).toMatch(/^. generating image 2: 50% drawn… \d+\.\ds$/);
    expect(chunks.some((c) => c.includes("25% drawn"))).toBe(true);
    expect(chunks.some((c) => c.endsWith("\n"))).toBe(false);
  });

  it("writes nothing for previews when the output is not a terminal", () => {
    const chunks: string[] = [];
    const printer = new ProgressPrinter({ write: (chunk: string) => chunks.push(chunk) });
    printer.status(activityAfter(preview(75), 2), true);
    printer.stop();
    expect(chunks).toEqual([]);
  });
});
