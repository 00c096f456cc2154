/**
 * One job-service measurement per process, so that timings and peak RSS are not skewed by
 * whatever ran before. The models are the sim server in another process, reached through the
 * real adapters, as a deployment reaches its model servers: their CPU time is theirs, not the
 * service's. Prints a single JSON line. Started by jobs.ts:
 *   node --import tsx test/bench/jobs-child.ts <one-job|burst|rss> <dataDir> <simServerUrl>
 */
import { join } from "node:path";
import { createJobService } from "../../core/jobs/job-service.ts";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import type { JobService, Person } from "../../core/jobs/types.ts";
import { createDiskImageStore } from "../../core/memory/image-store.ts";
import { silentLogger } from "../../core/logger.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import { createGemsHttpGenerator } from "../../core/models/gems-http-generator.ts";
import type { ImageGenerator, Mllm } from "../../core/models/ports.ts";
import { BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { childProcessLimits } from "../support/limits.ts";

export const GENERATOR_CAPACITY = 4;

const [suite, dataDir, simUrl] = process.argv.slice(2);
if (!suite || !dataDir || !simUrl) {
  process.stderr.write("jobs-child: usage: jobs-child.ts <one-job|burst|rss> <dataDir> <simServerUrl>\n");
  process.exit(2);
}

/** When each model call started and ended, as the service saw it. */
const calls: Array<{ kind: "mllm" | "generator"; start: number; end: number }> = [];

function timedMllm(mllm: Mllm): Mllm {
  return {
    name: mllm.name,
    async chat(request) {
      const start = performance.now();
      try {
        return await mllm.chat(request);
      } finally {
        calls.push({ kind: "mllm", start, end: performance.now() });
      }
    },
  };
}

function timedGenerator(generator: ImageGenerator): ImageGenerator {
  return {
    name: generator.name,
    async generate(request) {
      const start = performance.now();
      try {
        return await generator.generate(request);
      } finally {
        calls.push({ kind: "generator", start, end: performance.now() });
      }
    },
  };
}

/** Total time during which at least one model call was in flight: a lone job's critical path. */
function busyTimeMs(from: number): number {
  const spans = calls.filter((c) => c.start >= from).sort((a, b) => a.start - b.start);
  let busy = 0;
  let coveredUntil = -Infinity;
  for (const span of spans) {
    if (span.end <= coveredUntil) continue;
    busy += span.end - Math.max(span.start, coveredUntil);
    coveredUntil = span.end;
  }
  return busy;
}

async function createService(limits: Partial<JobLimits>): Promise<JobService> {
  const service = createJobService({
    mllm: timedMllm(createOpenAiCompatibleMllm({ baseUrl: `${simUrl}/v1`, model: "gems-sim", apiKey: "sim" })),
    generator: timedGenerator(createGemsHttpGenerator({ url: `${simUrl}/generate` })),
    skills: await loadSkillLibrary(join(import.meta.dirname, "../../skills")),
    images: createDiskImageStore(join(dataDir as string, "images")),
    store: await openSqliteJobStore(dataDir as string),
    logger: silentLogger,
    limits: {
      ...childProcessLimits({ maxRunningJobs: 16, generatorConcurrency: GENERATOR_CAPACITY, maxQueuedPerPerson: 1000, defaultIterations: 5 }),
      ...limits,
    },
  });
  await service.start();
  return service;
}

interface Timeline {
  submittedAt: Map<string, number>;
  startedAt: Map<string, number>;
  doneAt: Map<string, number>;
  allDone: Promise<void>;
}

/** Submits `jobs` (prompt, person) in order and records when each is submitted, starts and ends. */
async function runAll(service: JobService, jobs: Array<{ prompt: string; person: Person }>): Promise<Timeline> {
  const timeline: Timeline = { submittedAt: new Map(), startedAt: new Map(), doneAt: new Map(), allDone: Promise.resolve() };
  let resolveAll!: () => void;
  timeline.allDone = new Promise((resolve) => (resolveAll = resolve));
  service.subscribe("bench", (event) => {
    const at = performance.now();
    if (event.type === "job.started") timeline.startedAt.set(event.jobId, at);
    if (event.type === "job.done" || event.type === "job.failed" || event.type === "job.cancelled") {
      timeline.doneAt.set(event.jobId, at);
      if (timeline.doneAt.size === jobs.length) resolveAll();
    }
  });
  for (const job of jobs) {
    const at = performance.now();
    const result = await service.submit({ prompt: job.prompt, skill: "none" }, job.person, { surface: "bench" });
    if (!result.ok) throw new Error(`submit refused: ${result.message}`);
    timeline.submittedAt.set(result.jobId, at);
  }
  await timeline.allDone;
  return timeline;
}

const person = (i: number): Person => ({ id: `bench:${i}`, name: `Person ${i}` });

/** Each prompt gets a fresh service, so nothing queued or cached carries over between jobs. */
async function oneJob(): Promise<unknown> {
  const ratios: number[] = [];
  for (const prompt of BENCH_PROMPTS.slice(0, 8)) {
    const service = await createService({});
    const timeline = await runAll(service, [{ prompt, person: person(1) }]);
    const [jobId, submitted] = [...timeline.submittedAt][0] as [string, number];
    ratios.push(((timeline.doneAt.get(jobId) as number) - submitted) / busyTimeMs(submitted));
    await service.drain();
    await service.close();
  }
  return { ratios };
}

async function burst(): Promise<unknown> {
  const service = await createService({});
  // 12 people, 5 jobs each, submitted person by person: the worst order for fairness.
  const jobs = Array.from({ length: 60 }, (_, i) => ({
    prompt: BENCH_PROMPTS[i % BENCH_PROMPTS.length] as string,
    person: person(Math.floor(i / 5) + 1),
  }));
  const started = performance.now();
  const timeline = await runAll(service, jobs);
  const makespan = Math.max(...timeline.doneAt.values()) - started;
  const generatorSpans = calls.filter((c) => c.kind === "generator");
  const generatorCalls = generatorSpans.length;
  // No schedule can finish before the generator has done all its work at full capacity.
  const lowerBound = generatorSpans.reduce((sum, c) => sum + (c.end - c.start), 0) / GENERATOR_CAPACITY;
  const waits = [...timeline.submittedAt].map(([jobId, at]) => (timeline.startedAt.get(jobId) as number) - at);
  const firstJobWaits = jobs
    .map((job, i) => ({ job, i }))
    .filter(({ i }) => i % 5 === 0)
    .map(({ i }) => waits[i] as number);
  const averageWait = waits.reduce((a, b) => a + b, 0) / waits.length;
  await service.drain();
  await service.close();
  return {
    jobs: jobs.length,
    generatorCalls,
    makespanMs: makespan,
    lowerBoundMs: lowerBound,
    averageWaitMs: averageWait,
    maxFirstJobWaitMs: Math.max(...firstJobWaits),
  };
}

async function rss(): Promise<unknown> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const service = await createService({});
  const jobs = Array.from({ length: 200 }, (_, i) => ({ prompt: BENCH_PROMPTS[i % BENCH_PROMPTS.length] as string, person: person((i % 40) + 1) }));
  await runAll(service, jobs);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  await service.drain();
  await service.close();
  return { jobs: jobs.length, baselineRssMb: baseline / 2 ** 20, peakRssMb: peak / 2 ** 20 };
}

const suites: Record<string, () => Promise<unknown>> = { "one-job": oneJob, burst, rss };
const run = suites[suite];
if (!run) {
  process.stderr.write(`jobs-child: unknown suite ${suite}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await run())}\n`);
process.exit(0);
