/**
 * Single pass vs the GEMS loop on the simulated models: how often every requirement is met, and
 * how many images a job needs. Each prompt runs with the same seed in every configuration.
 */
import { runJob } from "../../core/agent/run-job.ts";
import { createTrajectory, type SkillChoice } from "../../core/memory/trajectory.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { standaloneAgentDeps } from "../support/standalone-agent-deps.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { roleOf } from "../../core/agent/prompts.ts";
import type { Mllm } from "../../core/models/ports.ts";

interface Setting {
  label: string;
  skill: SkillChoice;
  maxIterations: number;
  /** Baseline: the refiner hands back the previous prompt, so only the seed changes. */
  isRedrawOnly?: boolean;
}

const SETTINGS: Setting[] = [
  { label: "single pass (1 image, no skill)", skill: "none", maxIterations: 1 },
  { label: "redraw: same prompt, new seed (≤5 images)", skill: "none", maxIterations: 5, isRedrawOnly: true },
  { label: "GEMS loop + memory, no skill (≤5 images)", skill: "none", maxIterations: 5 },
  { label: "GEMS loop + memory + skills (≤5 images)", skill: "auto", maxIterations: 5 },
];

export interface QualityRow {
  label: string;
  jobs: number;
  allMet: number;
  requirementRate: number;
  imagesPerJob: number;
}

export async function measureQuality(
  skillsDir: string,
  seeds: readonly number[] = [1, 2, 3],
  prompts: readonly string[] = BENCH_PROMPTS,
): Promise<QualityRow[]> {
  const skills = await loadSkillLibrary(skillsDir);
  const simMllm = createSimMllm({ latencyMs: 0 });
  const generator = createSimGenerator({ latencyMs: 0 });
  const rows: QualityRow[] = [];
  for (const setting of SETTINGS) {
    let jobs = 0;
    let allMet = 0;
    let passed = 0;
    let total = 0;
    let images = 0;
    for (const seed of seeds) {
      for (const [index, prompt] of prompts.entries()) {
        const trajectory = createTrajectory(`bench-${seed}-${index}`, {
          prompt,
          skill: setting.skill,
          maxIterations: setting.maxIterations,
          seed: seed * 1000 + index,
        });
        const result = await runJob(trajectory, standaloneAgentDeps({ mllm: setting.isRedrawOnly ? redrawOnly(simMllm) : simMllm, generator, skills }));
        jobs++;
        images += result.iterations.filter((it) => it.imageHash !== null).length;
        const best = result.best;
        if (best && best.passed === best.total) allMet++;
        passed += best?.passed ?? 0;
        total += best?.total ?? 0;
      }
    }
    rows.push({ label: setting.label, jobs, allMet: allMet / jobs, requirementRate: passed / total, imagesPerJob: images / jobs });
  }
  return rows;
}

/** The sim MLLM, except that its refiner returns the last prompt unchanged. */
function redrawOnly(mllm: Mllm): Mllm {
  return {
    name: `${mllm.name}+redraw`,
    async chat(request) {
      if (roleOf(request.messages) !== "refiner") return mllm.chat(request);
      const user = request.messages.find((m) => m.role === "user")?.content;
      const texts = Array.isArray(user) ? user.flatMap((part) => (part.type === "text" ? [part.text] : [])) : [String(user)];
      const prompts = texts.flatMap((text) => [...text.matchAll(/^Prompt: (.*)$/gm)].map((m) => m[1] as string));
      return { content: `PROMPT: ${prompts.at(-1) ?? ""}`, reasoning: null };
    },
  };
}

/** Both prompt sets in one table, measured in the same run: the first set, then the second. */
export function qualityComparisonTable(first: readonly QualityRow[], second: readonly QualityRow[]): string {
  const cell = (r: QualityRow | undefined) =>
    r ? `${(r.allMet * 100).toFixed(1)}% | ${(r.requirementRate * 100).toFixed(1)}% | ${r.imagesPerJob.toFixed(2)}` : "n/a | n/a | n/a";
  const lines = [
    "| setting | first set: all met | requirements met | images per job | second set: all met | requirements met | images per job |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...first.map((row, i) => `| ${row.label} | ${cell(row)} | ${cell(second[i])} |`),
  ];
  return lines.join("\n");
}
