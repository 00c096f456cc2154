/**
 * Redraw vs edit-to-fix (GEMS_REFINE_MODE), side by side in one run on the sim's two prompt sets,
 * the same prompts and seeds for every mode, in the full loop and in batch + fast:
 * - all met: jobs whose best image passed every requirement;
 * - images per job: generator calls (iterations);
 * - regressions per job: requirements that passed in the best image so far and fail in the next
 *   image, summed over a job's iterations;
 * - edits per job: iterations that edited an image, and edits that fell back (a worse edit).
 * In process (no latency): these are counts, not times.
 */
import { resolve } from "node:path";
import { runJob } from "../../core/agent/run-job.ts";
import { activeRequirements, createTrajectory, type LoopModes, type Trajectory } from "../../core/memory/trajectory.ts";
import { standaloneAgentDeps } from "../support/standalone-agent-deps.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { BENCH_PROMPTS, NEW_BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

const root = resolve(import.meta.dirname, "../..");
const SEEDS = [1, 2, 3];
const MAX_ITERATIONS = 5;

const MODES: Array<{ label: string; modes: LoopModes }> = [
  { label: "full loop, redraw", modes: { verify: "per-question", loop: "full", refine: "redraw" } },
  { label: "full loop, edit-to-fix", modes: { verify: "per-question", loop: "full", refine: "edit" } },
  { label: "batch + fast, redraw", modes: { verify: "batch", loop: "fast", refine: "redraw" } },
  { label: "batch + fast, edit-to-fix", modes: { verify: "batch", loop: "fast", refine: "edit" } },
];

interface JobNumbers {
  allMet: boolean;
  images: number;
  regressions: number;
  edits: number;
  worseEdits: number;
  bestShare: number;
}

/** Requirements passed by the best image before each iteration that fail in that iteration. */
export function regressionsOf(t: Trajectory): number {
  const active = new Set(activeRequirements(t).map((r) => r.id));
  let bestPassed: Set<number> | null = null;
  let regressions = 0;
  for (const it of t.iterations) {
    if (!it.isVerified) continue;
    const passed = new Set(it.verdicts.filter((v) => v.passed && active.has(v.requirementId)).map((v) => v.requirementId));
    if (bestPassed) for (const id of bestPassed) if (!passed.has(id)) regressions++;
    if (bestPassed === null || passed.size > bestPassed.size) bestPassed = passed;
  }
  return regressions;
}

function numbersOf(t: Trajectory): JobNumbers {
  const edits = t.iterations.filter((it) => it.edit);
  const worseEdits = edits.filter((it) => it.passed < (t.iterations[it.edit!.fromN - 1]?.passed ?? 0)).length;
  return {
    allMet: t.stopReason === "all-passed",
    images: t.iterations.length,
    regressions: regressionsOf(t),
    edits: edits.length,
    worseEdits,
    bestShare: t.best && t.best.total > 0 ? t.best.passed / t.best.total : 0,
  };
}

export async function benchRefineModes(): Promise<string> {
  const skills = await loadSkillLibrary(resolve(root, "skills"));
  const generator = createSimGenerator({ width: 128, height: 128 });
  const prompts = [...BENCH_PROMPTS, ...NEW_BENCH_PROMPTS];
  const results = new Map<string, JobNumbers[]>(MODES.map((m) => [m.label, []]));
  const started = performance.now();
  for (const [index, prompt] of prompts.entries()) {
    for (const seed of SEEDS) {
      for (const { label, modes } of MODES) {
        const t = await runJob(
          createTrajectory(`refine-${index}-${seed}`, { prompt, skill: "auto", maxIterations: MAX_ITERATIONS, seed: seed * 1000 + index }, new Date(0), modes),
          standaloneAgentDeps({ mllm: createSimMllm(), generator, skills }),
        );
        results.get(label)!.push(numbersOf(t));
      }
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  const rows = MODES.map(({ label }) => {
    const jobs = results.get(label)!;
    const allMet = jobs.filter((j) => j.allMet).length;
    return `| ${label} | ${allMet}/${jobs.length} (${((100 * allMet) / jobs.length).toFixed(0)}%) | ${(100 * mean(jobs.map((j) => j.bestShare))).toFixed(1)}% | ${mean(jobs.map((j) => j.images)).toFixed(2)} | ${mean(jobs.map((j) => j.regressions)).toFixed(2)} | ${mean(jobs.map((j) => j.edits)).toFixed(2)} | ${jobs.reduce((a, j) => a + j.worseEdits, 0)} |`;
  });
  return [
    "## Refine modes: redraw vs edit-to-fix (`refine-modes`)",
    "",
    `Sim models in process, ${prompts.length} prompts (both sets of \`servers/sim/prompts-bench.ts\`) × ${SEEDS.length} seeds, at most ${MAX_ITERATIONS} iterations, the same prompts and seeds for every row, in one run.`,
    "",
    "| mode | all requirements met | best image's share passed | images per job | regressions per job | edits per job | edits worse than their source (fell back) |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `(${prompts.length * SEEDS.length} jobs per row, ${seconds} s)`,
  ].join("\n");
}
