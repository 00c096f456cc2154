/**
 * The sim's central promise: a refined prompt that moves failed requirements forward and repeats
 * them really does fix images, more than drawing again with new seeds does. A minimal loop here
 * runs the roles through the real prompt builders, as the agent would.
 */
import { describe, expect, it } from "vitest";
import { type AttemptView, type ChecklistLine, decomposerMessages, refinerMessages, type ResultLine, verifierMessages } from "../../core/agent/prompts.ts";
import { BENCH_PROMPTS, NEW_BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

const mllm = createSimMllm();
const generator = createSimGenerator({ width: 96, height: 96 });
const MAX_ITERATIONS = 5;
const SEEDS = [11, 29];

async function checklistFor(request: string): Promise<ChecklistLine[]> {
  const reply = await mllm.chat({ messages: decomposerMessages(request) });
  return (JSON.parse(reply.content) as { questions: string[] }).questions.map((question, i) => ({ id: i + 1, question }));
}

async function verify(png: Uint8Array, checklist: readonly ChecklistLine[]): Promise<ResultLine[]> {
  return Promise.all(
    checklist.map(async (line) => {
      const answer = (await mllm.chat({ messages: verifierMessages(png, line.question) })).content;
      const passed = /^yes\b/i.test(answer);
      return passed ? { ...line, passed } : { ...line, passed, why: answer.replace(/^no,\s*/i, "") };
    }),
  );
}

interface Run {
  /** Iteration whose image passed everything, or null. */
  solvedAt: number | null;
  prompts: string[];
}

async function runLoop(request: string, baseSeed: number, iterations: number, refine: boolean): Promise<Run> {
  const checklist = await checklistFor(request);
  const attempts: AttemptView[] = [];
  const prompts = [request];
  for (let n = 1; n <= iterations; n++) {
    const prompt = prompts.at(-1)!;
    const png = await generator.generate({ prompt, seed: baseSeed + n });
    const results = await verify(png, checklist);
    attempts.push({ n, prompt, png, results, experience: null });
    if (results.every((r) => r.passed)) return { solvedAt: n, prompts };
    if (n === iterations) break;
    if (refine) {
      const reply = await mllm.chat({ messages: refinerMessages({ request, checklist, feedback: [], attempts }) });
      prompts.push(/^PROMPT:\s*(.+)$/m.exec(reply.content)![1]!.trim());
    } else {
      prompts.push(prompt);
    }
  }
  return { solvedAt: null, prompts };
}

interface Rates {
  singlePass: number;
  refined: number;
  redrawn: number;
}

async function measure(prompts: readonly string[]): Promise<Rates> {
  let singlePass = 0;
  let refined = 0;
  let redrawn = 0;
  let runs = 0;
  for (const seed of SEEDS) {
    for (const [index, request] of prompts.entries()) {
      const base = seed * 1000 + index * 10;
      runs++;
      if ((await runLoop(request, base, 1, false)).solvedAt) singlePass++;
      const loop = await runLoop(request, base, MAX_ITERATIONS, true);
      if (loop.solvedAt) refined++;
      if ((await runLoop(request, base, MAX_ITERATIONS, false)).solvedAt) redrawn++;
      // The refiner must change the prompt, not just hope for luck.
      for (let i = 1; i < loop.prompts.length; i++) expect(loop.prompts[i]).not.toBe(loop.prompts[i - 1]);
    }
  }
  const rate = (count: number) => Math.round((100 * count) / runs);
  return { singlePass: rate(singlePass), refined: rate(refined), redrawn: rate(redrawn) };
}

describe("sim refine loop", () => {
  it("solves far more prompts than a single pass, and more than redrawing with new seeds", async () => {
    const { singlePass, refined, redrawn } = await measure(BENCH_PROMPTS);
    expect(singlePass).toBeGreaterThanOrEqual(15);
    expect(singlePass).toBeLessThanOrEqual(40);
    expect(refined).toBeGreaterThanOrEqual(singlePass + 30);
    expect(refined).toBeGreaterThanOrEqual(redrawn + 10);
    expect(refined).toBeGreaterThanOrEqual(75);
  });

  it("does the same on prompts with unknown objects, relations, positions, repeated nouns and styles", async () => {
    const { singlePass, refined, redrawn } = await measure(NEW_BENCH_PROMPTS);
    // Measured 23% / 87% / 67% when written; more requirements per prompt make a single pass rarer.
    expect(singlePass).toBeLessThanOrEqual(40);
    expect(refined).toBeGreaterThanOrEqual(singlePass + 30);
    expect(refined).toBeGreaterThanOrEqual(redrawn + 10);
    expect(refined).toBeGreaterThanOrEqual(75);
  });
});
