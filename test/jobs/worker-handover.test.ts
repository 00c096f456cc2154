/**
 * What a worker does when BullMQ hands it a job again: after its lock lapsed (an event loop
 * stalled under load), or after the worker that ended the job died before BullMQ heard of it.
 * The lapses are made on purpose by deleting the job's lock in Redis, as an expired lock is.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createJobQueue, enqueueRun, queueJobId } from "../../core/jobs/distributed/bullmq-queue.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";
import { onCleanup } from "../support/cleanup.ts";
import { TEST_DATABASE_URL } from "../support/postgres.ts";
import { TEST_REDIS_URL, testRedisLink } from "../support/redis.ts";
import { makeCluster, type Cluster } from "./distributed-harness.ts";
import type { Mllm } from "../../core/models/ports.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { HARD_PROMPT, alice, bob, createSimGenerator, gatedGenerator, recordSurface, submitted, thread } from "./job-harness.ts";

async function rawRedis(): Promise<Redis> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  await redis.connect();
  onCleanup(() => redis.quit().then(() => undefined));
  return redis;
}

async function storeOf(cluster: Cluster) {
  const db = await openDatabase(TEST_DATABASE_URL, { schema: cluster.schema, maxConnections: 2 });
  onCleanup(() => db.close());
  return createPostgresJobStore(db, { isShared: true, ownsDatabase: false });
}

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A surfaces process and a worker that ran one job to its end. */
async function doneJob(surfacesMllm?: Mllm) {
  const cluster = await makeCluster();
  const surfaces = await cluster.service("surfaces", surfacesMllm ? { mllm: surfacesMllm } : {});
  const worker = await cluster.service("worker");
  const seen = recordSurface(surfaces);
  await surfaces.start();
  await worker.start();
  const jobId = submitted(await surfaces.submit({ prompt: "a red cube", skill: "none", iterations: 1 }, alice, thread));
  await seen.finished(jobId);
  return { cluster, surfaces, jobId };
}

describe("a worker handed a job again", () => {
  it("runs it once when handed it twice more while its first run is still in a step", async () => {
    const cluster = await makeCluster();
    const gate = gatedGenerator(createSimGenerator());
    const surfaces = await cluster.service("surfaces");
    const worker = await cluster.service("worker", { generator: gate.generator, limits: { maxRunningJobs: 4 } });
    const seen = recordSurface(surfaces);
    await surfaces.start();
    await worker.start();
    const jobId = submitted(await surfaces.submit({ prompt: HARD_PROMPT, skill: "none", iterations: 2 }, alice, thread));
    await gate.arrived(1);

    // Two lapses while the first run waits for its image: the stalled check requeues the job
    // each time and the only worker takes it again, so three calls for one job are in flight.
    const redis = await rawRedis();
    const lock = `${cluster.prefix}:jobs:${queueJobId(jobId)}:lock`;
    let token = await redis.get(lock);
    for (let lapse = 0; lapse < 2; lapse++) {
      await redis.del(lock);
      const before = token;
      token = await until("the job to be taken again", async () => {
        const now = await redis.get(lock);
        return now !== null && now !== before ? now : undefined;
      });
    }
    gate.open();
    const end = await seen.finished(jobId);

    expect(end.type).toBe("job.done");
    const events = seen.of(jobId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const started = events.flatMap((e) => (e.type === "iteration.started" ? [e.n] : []));
    expect(started).toEqual([1, 2]);
    const status = surfaces.status(jobId);
    expect(status.ok && status.job.trajectory.iterations.map((it) => it.n)).toEqual([1, 2]);
    expect(events.filter((e) => e.type === "job.done")).toHaveLength(1);
  });

  it("applies feedback left pending on a job that was already done when it claimed it", async () => {
    const { cluster, jobId } = await doneJob();

    // As when the worker that ended the job died (or lost it) before applying feedback stored
    // just then: the row is pending, and BullMQ hands the job to a worker again.
    const store = await storeOf(cluster);
    const text = "make the cube twice as large";
    await store.addPending(jobId, { author: bob, text, receivedAt: new Date().toISOString() });
    const link = await testRedisLink(cluster.prefix);
    const queue = createJobQueue(link);
    onCleanup(async () => {
      await queue.close();
      await link.close();
    });
    await enqueueRun(queue, jobId, 1);

    const applied = await until("the feedback to be applied", async () => {
      const record = await store.get(jobId);
      return record && record.pendingFeedback.length === 0 ? record : undefined;
    });
    expect(applied.trajectory.feedback.map((f) => f.text)).toEqual([text]);
    expect(applied.trajectory.status).toBe("done");
    expect(applied.events.filter((e) => e.type === "feedback.added")).toHaveLength(1);
  });

  it("leaves no unstored feedback in the surfaces' copy when a worker claimed the done job while it was being applied", async () => {
    // The surfaces process runs no job: its model calls are the feedback it applies itself.
    let release = (): void => undefined;
    let arrived = (): void => undefined;
    const called = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const sim = createSimMllm({ latencyMs: 1 });
    const held: Mllm = {
      name: sim.name,
      async chat(request) {
        arrived();
        await released;
        return sim.chat(request);
      },
    };
    const { cluster, surfaces, jobId } = await doneJob(held);

    const text = "make the cube twice as large";
    const giving = surfaces.addFeedback(jobId, bob, text);
    await called;
    // A worker handed the job again claims it now: the surfaces' write of the feedback is refused.
    const rival = await storeOf(cluster);
    expect(await rival.claim(jobId, "rival-worker/1")).toBeDefined();
    release();
    expect(await giving).toMatchObject({ ok: true, isApplied: false });

    const status = surfaces.status(jobId);
    expect(status.ok && status.job.trajectory.feedback.map((f) => f.text)).toEqual([]);
    const listed = surfaces.list().find((job) => job.jobId === jobId);
    expect(listed?.pendingFeedback).toBe(1);
    const events = surfaces.events(jobId);
    expect(events.ok && events.events.filter((e) => e.type === "feedback.added")).toEqual([]);
  });

  it("a worker whose finish was refused leaves the stop flag of the run that took the job over", async () => {
    const cluster = await makeCluster();
    const gate = gatedGenerator(createSimGenerator());
    const surfaces = await cluster.service("surfaces");
    const worker = await cluster.service("worker", { generator: gate.generator });
    await surfaces.start();
    await worker.start();
    const jobId = submitted(await surfaces.submit({ prompt: HARD_PROMPT, skill: "none", iterations: 2 }, alice, thread));
    await gate.arrived(1);

    // Another worker takes the job over, and a stop is asked for its run. The first worker hears
    // the stop too: its run ends "cancelled" in memory, but the write of that end is refused.
    const rival = await storeOf(cluster);
    expect(await rival.claim(jobId, "rival-worker/1")).toBeDefined();
    const redis = await rawRedis();
    const stopFlag = `${cluster.prefix}:stop:${jobId}`;
    await redis.set(stopFlag, JSON.stringify({ kind: "cancel" }), "EX", 600);
    await redis.publish(`${cluster.prefix}:control`, JSON.stringify({ type: "stop", jobId }));

    // The first worker is done with the job once BullMQ removed it (removeOnComplete).
    const link = await testRedisLink(cluster.prefix);
    onCleanup(() => link.close());
    const queue = createJobQueue(link);
    onCleanup(() => queue.close());
    await until("the first worker to end its run", async () => ((await queue.getJob(queueJobId(jobId))) ? undefined : true));
    expect(await redis.get(stopFlag)).not.toBeNull();
    expect((await rival.get(jobId))?.trajectory.status).toBe("running");
  });
});
