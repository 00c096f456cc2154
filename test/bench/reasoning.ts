/**
 * Model calls and tokens per job with a reasoning model, side by side with the sim's answers
 * given at once. Every setting runs the same jobs (same prompts, seeds, sim generator) through
 * the real openai-compatible adapter against a loopback vLLM-shaped server that answers what the
 * sim MLLM answers, after thinking for a set number of tokens (one token per word; the server's
 * `usage.completion_tokens` is what is counted).
 */
import { runJob } from "../../core/agent/run-job.ts";
import { createTrajectory } from "../../core/memory/trajectory.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { standaloneAgentDeps } from "../support/standalone-agent-deps.ts";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { startReasoningModel, thinkingFor } from "../fakes/model-servers.ts";

interface Setting {
  label: string;
  thinking: (index: number) => number;
  thinkingTokens?: number;
}

const SETTINGS: Setting[] = [
  { label: "sim answers at once (no thinking)", thinking: () => 0 },
  { label: "reasoning, thinks 150–800 tokens, default room (4096)", thinking: thinkingFor },
  { label: "reasoning, thinks 150–800 tokens, room 100 (retried ×4)", thinking: thinkingFor, thinkingTokens: 100 },
  { label: "reasoning, thinks 150–800 tokens, no room (old budgets)", thinking: thinkingFor, thinkingTokens: 0 },
];

interface Row {
  label: string;
  jobs: number;
  failed: number;
  callsPerJob: number;
  tokensPerJob: number;
  /** Verdicts equal to the first setting's, over the verdicts both have. */
  sameVerdicts: number;
  seconds: number;
}

export async function benchReasoning(skillsDir: string, promptCount = 12): Promise<string> {
  const skills = await loadSkillLibrary(skillsDir);
  const generator = createSimGenerator({ latencyMs: 0 });
  const prompts = BENCH_PROMPTS.slice(0, promptCount);
  const rows: Row[] = [];
  let baseline: string[][] = [];
  for (const setting of SETTINGS) {
    const model = await startReasoningModel({ family: "vllm", thinkingTokens: setting.thinking });
    const mllm = createOpenAiCompatibleMllm({ baseUrl: model.url, model: "reasoner", maxRetries: 0, thinkingTokens: setting.thinkingTokens });
    const started = performance.now();
    const verdicts: string[][] = [];
    let failed = 0;
    for (const [index, prompt] of prompts.entries()) {
      const result = await runJob(createTrajectory(`bench-reasoning-${index}`, { prompt, skill: "none", maxIterations: 5, seed: 1000 + index }), standaloneAgentDeps({ mllm, generator, skills }));
      if (result.status !== "done") failed++;
      verdicts.push(result.iterations.flatMap((it) => it.verdicts.map((v) => `${it.n}:${v.requirementId}:${v.passed}`)));
    }
    const seconds = (performance.now() - started) / 1000;
    if (rows.length === 0) baseline = verdicts;
    let same = 0;
    let compared = 0;
    for (const [i, list] of verdicts.entries()) {
      const base = new Set(baseline[i] ?? []);
      compared += Math.max(base.size, list.length);
      same += list.filter((v) => base.has(v)).length;
    }
    rows.push({
      label: setting.label,
      jobs: prompts.length,
      failed,
      callsPerJob: model.requests.length / prompts.length,
      tokensPerJob: model.completionTokens() / prompts.length,
      sameVerdicts: compared === 0 ? 1 : same / compared,
      seconds,
    });
    await model.close();
  }
  return reasoningTable(rows);
}

function reasoningTable(rows: readonly Row[]): string {
  const base = rows[0] as Row;
  const lines = [
    "## Reasoning models: calls and tokens per job (`reasoning`)",
    "",
    "| setting | jobs | failed | model calls per job | × calls | completion tokens per job | × tokens | verdicts as without thinking | × time |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.jobs} | ${r.failed} | ${r.callsPerJob.toFixed(1)} | ${(r.callsPerJob / base.callsPerJob).toFixed(2)} | ` +
        `${Math.round(r.tokensPerJob)} | ${(r.tokensPerJob / base.tokensPerJob).toFixed(1)} | ${(r.sameVerdicts * 100).toFixed(0)}% | ${(r.seconds / base.seconds).toFixed(2)} |`,
    ),
  ];
  return lines.join("\n");
}
