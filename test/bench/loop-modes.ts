/**
 * What each loop mode costs per job, side by side in one run: per-question + full (the
 * reference), batch + full, and batch + fast. The sim models run as their own process (`npm run
 * sim-server -- --mllm-latency 200 --generator-latency 500`) and are reached through the real
 * adapters, as a deployment reaches its model servers.
 *
 * Two loads:
 * - one job per mode at a time, the three modes at the same moment on the same prompt, a few
 *   prompts in flight: the model servers are never the bottleneck, so wall time shows only the
 *   calls a job waits for in sequence;
 * - a busy deployment: all jobs at once, each mode behind its own 4 MLLM slots
 *   (GEMS_MLLM_CONCURRENCY=4), so calls queue and their number shows in wall time too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { runJob } from "../../core/agent/run-job.ts";
import { roleOf } from "../../core/agent/prompts.ts";
import { createTrajectory, type LoopModes, type Trajectory } from "../../core/memory/trajectory.ts";
import { standaloneAgentDeps } from "../support/standalone-agent-deps.ts";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import { createGemsHttpGenerator } from "../../core/models/gems-http-generator.ts";
import type { Mllm } from "../../core/models/ports.ts";
import { Semaphore } from "../../core/jobs/semaphore.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { estimateUsage, SimPrefixCache } from "../../servers/sim/sim-usage.ts";

const root = resolve(import.meta.dirname, "../..");
const MLLM_LATENCY_MS = 200;
const GENERATOR_LATENCY_MS = 500;
const PROMPTS_IN_FLIGHT = 4;
const BUSY_MLLM_SLOTS = 4;
const BUSY_JOBS = 16;

const MODES: Array<{ label: string; modes: LoopModes }> = [
  { label: "per-question + full (reference)", modes: { verify: "per-question", loop: "full" } },
  { label: "batch + full", modes: { verify: "batch", loop: "full" } },
  { label: "batch + fast", modes: { verify: "batch", loop: "fast" } },
];

interface JobCost {
  calls: number;
  images: number;
  inputTokens: number;
  cachedInputTokens: number;
  wallMs: number;
  passed: number;
  total: number;
  allMet: boolean;
  iterations: number;
}

/**
 * Counts calls, images and input tokens at the port. Tokens are the sim's own count of the sent
 * messages (servers/sim/sim-usage.ts), with a prefix cache per mode as if each mode had its own
 * server; the one sim server here serves all modes, so its cached counts would mix them. Where
 * the adapter passes the server's `usage` on, its input count must agree, and a disagreement is
 * reported.
 */
let usageMismatches = 0;

function counted(mllm: Mllm, cost: JobCost, cache: SimPrefixCache): Mllm {
  return {
    name: mllm.name,
    async chat(request) {
      const reply = await mllm.chat(request);
      cost.calls++;
      cost.images += request.messages.reduce((n, m) => n + (typeof m.content === "string" ? 0 : m.content.filter((p) => p.type === "image").length), 0);
      const usage = estimateUsage(request.messages, reply, cache);
      if (reply.usage && reply.usage.inputTokens !== usage.inputTokens) usageMismatches++;
      cost.inputTokens += usage.inputTokens;
      cost.cachedInputTokens += usage.cachedInputTokens;
      return reply;
    },
  };
}

function limited(mllm: Mllm, slots: Semaphore): Mllm {
  return { name: mllm.name, chat: (request) => slots.run(() => mllm.chat(request), request.signal) };
}

async function runOne(
  prompt: string,
  seed: number,
  modes: LoopModes,
  models: { mllm: Mllm; generator: ReturnType<typeof createGemsHttpGenerator>; cache: SimPrefixCache },
  skills: SkillLibrary,
): Promise<JobCost> {
  const cost: JobCost = { calls: 0, images: 0, inputTokens: 0, cachedInputTokens: 0, wallMs: 0, passed: 0, total: 0, allMet: false, iterations: 0 };
  const trajectory = createTrajectory(`bench-${seed}`, { prompt, skill: "auto", maxIterations: 5, seed }, new Date(), modes);
  const started = performance.now();
  const result: Trajectory = await runJob(trajectory, standaloneAgentDeps({ mllm: counted(models.mllm, cost, models.cache), generator: models.generator, skills }));
  cost.wallMs = performance.now() - started;
  if (result.status !== "done") throw new Error(`bench job ${seed} ended ${result.status}: ${result.error}`);
  cost.passed = result.best?.passed ?? 0;
  cost.total = result.best?.total ?? 0;
  cost.allMet = cost.passed === cost.total;
  cost.iterations = result.iterations.length;
  return cost;
}

function startSimServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "servers/sim/main.ts", "--port", "0", "--mllm-latency", String(MLLM_LATENCY_MS), "--generator-latency", String(GENERATOR_LATENCY_MS), "--quiet"],
    { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
      if (url) done({ url, child });
    });
    child.once("exit", (code) => fail(new Error(`the sim server exited (${code}) before listening`)));
  });
}

interface ModeSummary {
  label: string;
  jobs: number;
  calls: number;
  images: number;
  inputTokens: number;
  cachedInputTokens: number;
  wallMs: number;
  requirementRate: number;
  allMet: number;
  iterations: number;
}

function summarize(label: string, costs: readonly JobCost[]): ModeSummary {
  const mean = (pick: (c: JobCost) => number) => costs.reduce((sum, c) => sum + pick(c), 0) / costs.length;
  const passed = costs.reduce((sum, c) => sum + c.passed, 0);
  const total = costs.reduce((sum, c) => sum + c.total, 0);
  return {
    label,
    jobs: costs.length,
    calls: mean((c) => c.calls),
    images: mean((c) => c.images),
    inputTokens: mean((c) => c.inputTokens),
    cachedInputTokens: mean((c) => c.cachedInputTokens),
    wallMs: mean((c) => c.wallMs),
    requirementRate: total === 0 ? 1 : passed / total,
    allMet: costs.filter((c) => c.allMet).length / costs.length,
    iterations: mean((c) => c.iterations),
  };
}

export interface LoopModesReport {
  quiet: ModeSummary[];
  busy: ModeSummary[];
  seconds: number;
}

export async function measureLoopModes(prompts: readonly string[] = BENCH_PROMPTS): Promise<LoopModesReport> {
  const began = performance.now();
  const skills = await loadSkillLibrary(resolve(root, "skills"));
  const server = await startSimServer();
  try {
    const mllm = createOpenAiCompatibleMllm({ baseUrl: `${server.url}/v1`, model: "gems-sim", apiKey: "sim", timeoutMs: 60_000, maxRetries: 0 });
    const generator = createGemsHttpGenerator({ url: `${server.url}/generate`, timeoutMs: 60_000, maxRetries: 0 });

    // Quiet: for each prompt the three modes run at the same moment, a few prompts at a time.
    const quiet: JobCost[][] = MODES.map(() => []);
    const quietCaches = MODES.map(() => new SimPrefixCache());
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < prompts.length; index = next++) {
        const prompt = prompts[index] as string;
        const costs = await Promise.all(
          MODES.map((m, k) => runOne(prompt, 5000 + index, m.modes, { mllm, generator, cache: quietCaches[k]! }, skills)),
        );
        costs.forEach((cost, k) => quiet[k]!.push(cost));
      }
    };
    await Promise.all(Array.from({ length: PROMPTS_IN_FLIGHT }, worker));

    // Busy: BUSY_JOBS jobs per mode at once, every mode behind its own few MLLM slots.
    const busyPrompts = prompts.slice(0, BUSY_JOBS);
    const busy = await Promise.all(
      MODES.map((m) => {
        const slots = new Semaphore(BUSY_MLLM_SLOTS);
        const cache = new SimPrefixCache();
        return Promise.all(
          busyPrompts.map((prompt, index) => runOne(prompt, 5000 + index, m.modes, { mllm: limited(mllm, slots), generator, cache }, skills)),
        );
      }),
    );
    return {
      quiet: MODES.map((m, k) => summarize(m.label, quiet[k]!)),
      busy: MODES.map((m, k) => summarize(m.label, busy[k]!)),
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    server.child.kill("SIGTERM");
  }
}

const ratio = (value: number, base: number | undefined) => (base ? `${(value / base).toFixed(2)}×` : "n/a");

function table(rows: readonly ModeSummary[]): string {
  const base = rows[0];
  return [
    "| mode | jobs | MLLM calls / job | images to MLLM / job | input tokens / job (sim count) | of which cached | uncached input tokens / job | wall time / job | iterations / job | requirements met | all met |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.jobs} | ${r.calls.toFixed(1)} (${ratio(r.calls, base?.calls)}) | ${r.images.toFixed(1)} (${ratio(r.images, base?.images)}) | ` +
        `${Math.round(r.inputTokens)} (${ratio(r.inputTokens, base?.inputTokens)}) | ${((r.cachedInputTokens / Math.max(1, r.inputTokens)) * 100).toFixed(0)}% | ` +
        `${Math.round(r.inputTokens - r.cachedInputTokens)} (${ratio(r.inputTokens - r.cachedInputTokens, base ? base.inputTokens - base.cachedInputTokens : undefined)}) | ${(r.wallMs / 1000).toFixed(2)} s (${ratio(r.wallMs, base?.wallMs)}) | ` +
        `${r.iterations.toFixed(2)} | ${(r.requirementRate * 100).toFixed(1)}% | ${(r.allMet * 100).toFixed(1)}% |`,
    ),
  ].join("\n");
}

function verdict(rows: readonly ModeSummary[]): string {
  const [reference, , fast] = rows;
  if (!reference || !fast) return "";
  const images = fast.images / reference.images;
  const wall = fast.wallMs / reference.wallMs;
  const quality = Math.abs(fast.requirementRate - reference.requirementRate) * 100;
  const mark = (ok: boolean) => (ok ? "met" : "NOT met");
  return (
    `batch + fast vs reference: images ${images.toFixed(2)}× (target ≤ 0.35×, ${mark(images <= 0.35)}), ` +
    `wall time ${wall.toFixed(2)}× (target ≤ 0.85×, ${mark(wall <= 0.85)}), ` +
    `requirements met ${quality.toFixed(1)} points apart (target ≤ 2, ${mark(quality <= 2)})`
  );
}

export async function benchLoopModes(): Promise<string> {
  const report = await measureLoopModes();
  return [
    `## Loop modes: per-question vs batch vs batch + fast (\`loop-modes\`; sim server, MLLM ${MLLM_LATENCY_MS} ms, generator ${GENERATOR_LATENCY_MS} ms)`,
    "",
    `One job per mode at a time (the three modes at once on each prompt, ${PROMPTS_IN_FLIGHT} prompts in flight):`,
    "",
    table(report.quiet),
    "",
    verdict(report.quiet),
    "",
    `A busy deployment (${BUSY_JOBS} jobs per mode at once, each mode behind ${BUSY_MLLM_SLOTS} MLLM slots):`,
    "",
    table(report.busy),
    "",
    verdict(report.busy),
    "",
    `(${report.seconds.toFixed(1)} s in all${usageMismatches > 0 ? `; ${usageMismatches} replies whose usage disagreed with the sim's count` : ""})`,
  ].join("\n");
}
