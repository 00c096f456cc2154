/**
 * What the daily quota check costs as the server runs it in one process (core/jobs/service-quota.ts:
 * createQuotaCheck over createDayIndex): asked at submit and before each iteration, it reads the
 * jobs that count today, so it grows with those and not with the day's other jobs. Timed against
 * the same service with 20 and with 200 finished jobs, beside one `service.list()` and the
 * ledger's walk of the same jobs (what `/gems usage` reads), alternating in one loop; medians.
 */
import { createJobService } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore } from "../../core/jobs/job-store.ts";
import { createUsageLedger, NO_PRICES, startOfUtcDay, type Quotas } from "../../core/jobs/usage-ledger.ts";
import { createServiceQuota } from "../../core/jobs/service-quota.ts";
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
  // Bound after the jobs ran: each day index is filled from list() on its first check, as after a restart.
  const checkOf = (jobs: JobService, quotas: Quotas) => {
    const quota = createServiceQuota({ quotas, prices: NO_PRICES, models });
    quota.bind(jobs);
    return quota.check;
  };
  const [smallBoth, largeBoth, largePersonOnly] = [checkOf(small, both), checkOf(large, both), checkOf(large, { personDaily: limit, channelDaily: null })];
  const largeLedger = createUsageLedger({ jobs: large, models });
  const person = { id: "bench:1", name: "P1" };
  const ref = { surface: "bench", channelId: "c1" };
  const since = startOfUtcDay(new Date());
  const times = { small: [] as number[], large: [] as number[], personOnly: [] as number[], list: [] as number[], walk: [] as number[] };
  const timed = async (into: number[], check: () => unknown): Promise<void> => {
    const t = performance.now();
    if ((await check()) !== null) throw new Error("unexpected quota");
    into.push(performance.now() - t);
  };
  for (let i = 0; i < ROUNDS; i++) {
    await timed(times.small, () => smallBoth(person, ref));
    await timed(times.large, () => largeBoth(person, ref));
    await timed(times.personOnly, () => largePersonOnly(person, ref));
    let t = performance.now();
    large.list();
    times.list.push(performance.now() - t);
    t = performance.now();
    largeLedger.jobs({ since, personId: person.id });
    largeLedger.jobs({ since, channel: "bench:c1" });
    times.walk.push(performance.now() - t);
  }
  await small.close();
  await large.close();
  const [s, l, po, list, walk] = [times.small, times.large, times.personOnly, times.list, times.walk].map(median) as [number, number, number, number, number];
  return [
    "## Usage ledger: the quota check (`usage`)",
    "",
    "| measurement (median of 200, alternating) | ms | ratio |",
    "|---|---|---|",
    `| quota check, person and channel quotas, 20 jobs today | ${s.toFixed(3)} | 1 |`,
    `| quota check, person and channel quotas, 200 jobs today | ${l.toFixed(3)} | ${(l / s).toFixed(1)}× the 20-job check |`,
    `| quota check, person quota only, 200 jobs today (20 of them the person's) | ${po.toFixed(3)} | ${(po / s).toFixed(2)}× the 20-job check |`,
    `| \`service.list()\`, 200 jobs | ${list.toFixed(3)} | the 200-job check is ${(l / list).toFixed(1)}× one list |`,
    `| ledger walk of the person's and the channel's jobs of today, 200 jobs | ${walk.toFixed(3)} | the 200-job check is ${(l / walk).toFixed(2)}× this walk |`,
  ].join("\n");
}
