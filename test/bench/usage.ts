/**
 * What the usage ledger costs: a quota check (person and channel, both on) reads every job of
 * the day through the job service, so it grows with the day's jobs. Timed against the same
 * service with 20 and with 200 finished jobs, and against one `service.list()`, alternating in
 * one loop; medians. The check runs once at submit and once before each iteration.
 */
import { createJobService } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore } from "../../core/jobs/job-store.ts";
import { createUsageLedger, NO_PRICES, type Quotas } from "../../core/jobs/usage-ledger.ts";
import { createDayIndex, createQuotaCheck } from "../../core/jobs/usage-quota.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { silentLogger } from "../../core/logger.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { testLimits } from "../support/limits.ts";
import { resolve } from "node:path";

const ROUNDS = 200;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function serviceWith(jobs: number): Promise<JobService> {
  const service = createJobService({
    mllm: createSimMllm(),
    generator: createSimGenerator({ partialImages: 0 }),
    skills: await loadSkillLibrary(resolve(import.meta.dirname, "../../skills")),
    images: createInMemoryImageStore(),
    store: createInMemoryJobStore(),
    logger: silentLogger,
    limits: testLimits({ maxQueuedPerPerson: 1000, rateLimitPerHour: 0, maxRunningJobs: 8 }),
  });
  let finished = 0;
  const done = new Promise<void>((resolveDone) =>
    service.subscribe("bench", (event) => {
      if ((event.type === "job.done" || event.type === "job.failed") && ++finished === jobs) resolveDone();
    }),
  );
  await service.start();
  for (let i = 0; i < jobs; i++) {
    const person = { id: `bench:${i % 10}`, name: `P${i % 10}` };
    const result = await service.submit({ prompt: "a red cube left of a blue sphere", skill: "none", iterations: 2 }, person, { surface: "bench", channelId: "c1" });
    if (!result.ok) throw new Error(result.message);
  }
  await done;
  return service;
}

export async function benchUsage(): Promise<string> {
  const [small, large] = [await serviceWith(20), await serviceWith(200)];
  const limit = { kind: "images", images: 1_000_000 } as const;
  const both = { personDaily: limit, channelDaily: limit };
  const models = { mllm: "sim", generator: "sim" };
  const ledgerOf = (jobs: JobService) => createUsageLedger({ jobs, models, quotas: both });
  // What bots/server.ts runs in one process: the check over the day index (usage-quota.ts).
  const indexedOf = (jobs: JobService, quotas: Quotas) => createQuotaCheck({ quotas, prices: NO_PRICES, usage: createDayIndex(jobs, { models, prices: NO_PRICES }).usage });
  const [smallLedger, largeLedger] = [ledgerOf(small), ledgerOf(large)];
  const [smallIndexed, largeIndexed, largePersonOnly] = [indexedOf(small, both), indexedOf(large, both), indexedOf(large, { personDaily: limit, channelDaily: null })];
  const person = { id: "bench:1", name: "P1" };
  const ref = { surface: "bench", channelId: "c1" };
  const times = { small: [] as number[], large: [] as number[], list: [] as number[], smallIndexed: [] as number[], largeIndexed: [] as number[], personOnly: [] as number[] };
  const timed = async (into: number[], check: () => unknown): Promise<void> => {
    const t = performance.now();
    if ((await check()) !== null) throw new Error("unexpected quota");
    into.push(performance.now() - t);
  };
  for (let i = 0; i < ROUNDS; i++) {
    await timed(times.small, () => smallLedger.quotaProblem(person, ref));
    await timed(times.large, () => largeLedger.quotaProblem(person, ref));
    await timed(times.smallIndexed, () => smallIndexed(person, ref));
    await timed(times.largeIndexed, () => largeIndexed(person, ref));
    await timed(times.personOnly, () => largePersonOnly(person, ref));
    const t = performance.now();
    large.list();
    times.list.push(performance.now() - t);
  }
  await small.close();
  await large.close();
  const [s, l, list, si, li, po] = [times.small, times.large, times.list, times.smallIndexed, times.largeIndexed, times.personOnly].map(median) as [number, number, number, number, number, number];
  return [
    "## Usage ledger: the quota check (`usage`)",
    "",
    "| measurement (median of 200, alternating) | ms | ratio |",
    "|---|---|---|",
    `| ledger.quotaProblem, 20 jobs today | ${s.toFixed(3)} | 1 |`,
    `| ledger.quotaProblem, 200 jobs today | ${l.toFixed(3)} | ${(l / s).toFixed(1)}× the 20-job check |`,
    `| \`service.list()\`, 200 jobs | ${list.toFixed(3)} | the check is ${(l / list).toFixed(1)}× one list |`,
    `| day index check, 20 jobs today | ${si.toFixed(3)} | ${(si / s).toFixed(2)}× the ledger's |`,
    `| day index check, 200 jobs today | ${li.toFixed(3)} | ${(li / l).toFixed(2)}× the ledger's |`,
    `| day index check, person quota only, 200 jobs today (20 of them the person's) | ${po.toFixed(3)} | ${(po / l).toFixed(2)}× the ledger's |`,
  ].join("\n");
}
