/**
 * The quota check over the day's jobs only: in one process through the day index (jobs on the
 * real service, models as loopback servers), and scaled out through the jobs table (real
 * PostgreSQL), whose query must read that person's or channel's rows of the day by index.
 */
import { describe, expect, it } from "vitest";
import { createDayIndex, createQuotaCheck, type DayUsage } from "../../core/jobs/usage-quota.ts";
import { createPostgresDayUsage } from "../../core/jobs/postgres/usage-query.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import { NO_PRICES, type Quotas, type UsageSource } from "../../core/jobs/usage-ledger.ts";
import { createTrajectory, type Trajectory } from "../../core/memory/trajectory.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import type { JobRecord, Person, SurfaceRef } from "../../core/jobs/types.ts";
import { alice, bob, makeService, recordSurface, submitted } from "./job-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";
import { testDatabase } from "../support/postgres.ts";

const MODELS = { mllm: "fake-vl", generator: "gems-http" };
const channel1: SurfaceRef = { surface: "test", channelId: "c1" };
const channel2: SurfaceRef = { surface: "test", channelId: "c2" };

async function indexedService(quotas: Quotas) {
  // "Is the cube red?" never passes, so every job runs each iteration it is given.
  const { mllm, generator } = await wireModels({ verifier: redFrom(1_000) });
  let usage: DayUsage | undefined;
  const service = await makeService({
    mllm: mllm.mllm,
    generator: generator.generator,
    quota: createQuotaCheck({ quotas, prices: NO_PRICES, usage: (day, owner) => usage!(day, owner) }),
  });
  const index = createDayIndex(service, { models: MODELS, prices: NO_PRICES });
  usage = index.usage;
  const jobs = index.track(service);
  const surface = recordSurface(service);
  await service.start();
  const run = async (person: Person, ref: SurfaceRef, iterations: number) => {
    const jobId = submitted(await jobs.submit({ ...RED_CUBE, iterations }, person, ref));
    return (await surface.finished(jobId)) as Extract<JobEvent, { type: "job.done" }>;
  };
  return { service, jobs, run, generator };
}

describe("the quota check in one process (day index)", () => {
  it("counts a job submitted after the index was built, stops the job that reaches the quota, then refuses", async () => {
    const { jobs, run, generator } = await indexedService({ personDaily: { kind: "images", images: 3 }, channelDaily: null });
    // The first submit's check builds the index (no jobs yet); this job is added by track().
    expect(await run(alice, channel1, 2)).toMatchObject({ reason: "max-iterations" });
    const stopped = await run(alice, channel2, 3);
    expect(stopped).toMatchObject({ type: "job.done", reason: "quota", best: { n: 1, image: { hash: expect.any(String) } } });
    expect(stopped.message).toMatch(/^You have used 3 of 3 images today \(UTC\)/);
    expect(generator.server.sent.images).toBe(3);
    expect(await jobs.submit(RED_CUBE, alice, channel1)).toMatchObject({ ok: false, reason: "quota" });
    expect(await jobs.submit(RED_CUBE, bob, channel1)).toMatchObject({ ok: true });
  });

  it("counts a channel's jobs by the channel a job was moved to", async () => {
    const { jobs, run } = await indexedService({ personDaily: null, channelDaily: { kind: "images", images: 2 } });
    const end = await run(alice, channel1, 2);
    expect(await jobs.setSurfaceRef(end.jobId, { ...channel2, threadId: "t9" })).toMatchObject({ ok: true });
    // Channel 1 has nothing left on it; channel 2 now holds Alice's two images.
    expect(await jobs.submit(RED_CUBE, bob, channel1)).toMatchObject({ ok: true });
    expect(await jobs.submit(RED_CUBE, bob, channel2)).toMatchObject({ ok: false, reason: "quota", message: expect.stringMatching(/^This channel has used 2 of 2 images/) });
  });

  it("reads only the person's jobs of today: every stored job once, then none of the others", async () => {
    const today = new Date("2030-03-10T15:00:00Z");
    const jobsOf: Array<{ id: string; person: Person; at: string; images: number }> = [];
    for (let i = 0; i < 200; i++) jobsOf.push({ id: `old-${i}`, person: i % 2 ? alice : bob, at: `2030-03-0${1 + (i % 9)}T12:00:00.000Z`, images: 1 });
    for (let i = 0; i < 30; i++) jobsOf.push({ id: `bob-${i}`, person: bob, at: `2030-03-10T0${i % 10}:00:00.000Z`, images: 1 });
    jobsOf.push({ id: "alice-1", person: alice, at: "2030-03-10T09:00:00.000Z", images: 2 }, { id: "alice-2", person: alice, at: "2030-03-10T10:00:00.000Z", images: 1 });
    const trajectoryOf = (job: (typeof jobsOf)[number]): Trajectory => {
      const t = createTrajectory(job.id, { prompt: "p", skill: "none", maxIterations: 3 }, new Date(job.at));
      t.iterations = Array.from({ length: job.images }, (_, k) => ({
        n: k + 1, prompt: "p", thought: null, imageHash: "f".repeat(64), verdicts: [], passed: 0, total: 1, isVerified: true, experience: null, startedAt: job.at,
      }));
      return t;
    };
    const reads = { list: 0, status: [] as string[] };
    const newestFirst = [...jobsOf].sort((a, b) => b.at.localeCompare(a.at));
    const source: UsageSource = {
      list: () => {
        reads.list++;
        return newestFirst.map((j) => ({ jobId: j.id, createdAt: j.at }));
      },
      status: (jobId) => {
        reads.status.push(jobId);
        const job = jobsOf.find((j) => j.id === jobId)!;
        return { ok: true, job: { jobId, requester: job.person, surfaceRef: channel1, createdAt: job.at, trajectory: trajectoryOf(job) } };
      },
    };
    const index = createDayIndex(source, { models: MODELS, prices: NO_PRICES, now: () => today });

    const first = await index.usage("2030-03-10", { personId: alice.id });
    expect(first.map((u) => [u.jobId, u.images]).sort()).toEqual([["alice-1", 2], ["alice-2", 1]]);
    // Building the index read today's 32 jobs once, walking the list only until yesterday.
    expect(reads.list).toBe(1);
    expect(reads.status).toHaveLength(32 + 2);
    reads.status.length = 0;
    for (let check = 0; check < 5; check++) await index.usage("2030-03-10", { personId: alice.id });
    expect(reads.list).toBe(1);
    expect(reads.status).toHaveLength(5 * 2);
    expect(new Set(reads.status)).toEqual(new Set(["alice-1", "alice-2"]));
  });
});

function recordOf(jobId: string, person: Person, surfaceRef: SurfaceRef, createdAt: string, images: number, calls: number): JobRecord {
  const trajectory = createTrajectory(jobId, { prompt: "p", skill: "none", maxIterations: 3 }, new Date(createdAt));
  trajectory.iterations = Array.from({ length: images + 1 }, (_, k) => ({
    n: k + 1, prompt: "p", thought: null, imageHash: k < images ? "e".repeat(64) : null, verdicts: [], passed: 0, total: 1, isVerified: k < images, experience: null, startedAt: createdAt,
  }));
  trajectory.usage = [{ n: 1, role: "verifier", calls, images: calls, reportedCalls: calls, inputTokens: 100 * calls, cachedInputTokens: 0, outputTokens: 10 * calls }];
  return { version: 1, jobId, requester: person, surfaceRef, trajectory, events: [], cursors: {}, pendingFeedback: [], votes: [], finishedAt: null };
}

describe("the quota check scaled out (jobs table)", () => {
  it("reads the day's jobs of one person or one channel, with their images and tokens", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    await store.put(recordOf("j1", alice, channel1, "2030-03-10T01:00:00.000Z", 2, 3));
    await store.put(recordOf("j2", alice, channel2, "2030-03-10T23:59:59.000Z", 1, 1));
    await store.put(recordOf("j3", alice, channel1, "2030-03-09T23:59:59.000Z", 5, 5));
    await store.put(recordOf("j4", bob, channel1, "2030-03-10T12:00:00.000Z", 4, 2));
    await store.put(recordOf("j5", bob, { surface: "web" }, "2030-03-10T12:00:00.000Z", 1, 1));
    const usage = createPostgresDayUsage(db, { models: MODELS, prices: NO_PRICES });

    const ofAlice = await usage("2030-03-10", { personId: alice.id });
    expect(ofAlice.map((u) => [u.jobId, u.images, u.calls, u.inputTokens]).sort()).toEqual([
      ["j1", 2, 3, 300],
      ["j2", 1, 1, 100],
    ]);
    const ofChannel = await usage("2030-03-10", { channel: "test:c1" });
    expect(ofChannel.map((u) => [u.jobId, u.personId]).sort()).toEqual([
      ["j1", alice.id],
      ["j4", bob.id],
    ]);
    expect(await usage("2030-03-11", { personId: alice.id })).toEqual([]);
  });

  it("prefers the process's own view of a job when it is ahead of the stored row", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    await store.put(recordOf("j1", alice, channel1, "2030-03-10T01:00:00.000Z", 1, 1));
    const ahead = recordOf("j1", alice, channel1, "2030-03-10T01:00:00.000Z", 3, 4);
    const local: Pick<UsageSource, "status"> = {
      status: (jobId) =>
        jobId === "j1"
          ? { ok: true, job: { jobId, requester: alice, surfaceRef: channel1, createdAt: ahead.trajectory.createdAt, trajectory: ahead.trajectory } }
          : { ok: false, reason: "not-found", message: "no" },
    };
    const check = createQuotaCheck({
      quotas: { personDaily: { kind: "images", images: 3 }, channelDaily: null },
      prices: NO_PRICES,
      usage: createPostgresDayUsage(db, { models: MODELS, prices: NO_PRICES, local }),
      now: () => new Date("2030-03-10T20:00:00Z"),
    });
    expect(await check(alice, channel1)).toMatch(/^You have used 3 of 3 images today \(UTC\)/);
  });

  it("uses the day indexes of migration 4 for both queries", async () => {
    const db = await testDatabase();
    const plans = await db.transaction(async (client) => {
      // A table this small would be read whole; forbid that so the plan shows whether an index fits.
      await client.query("SET LOCAL enable_seqscan = off");
      const explain = async (where: string) =>
        (await client.query<{ "QUERY PLAN": string }>(`EXPLAIN SELECT job_id FROM ${db.table("jobs")} WHERE ${where}`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
      return [
        await explain(`requester->>'id' = 'test:alice' AND left(trajectory->>'createdAt', 10) = '2030-03-10'`),
        await explain(`surface_ref->>'surface' = 'test' AND coalesce(surface_ref->>'channelId', surface_ref->>'channel') = 'c1' AND left(trajectory->>'createdAt', 10) = '2030-03-10'`),
      ];
    });
    expect(plans[0]).toContain("jobs_requester_day");
    expect(plans[1]).toContain("jobs_channel_day");
  });
});
