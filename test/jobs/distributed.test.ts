import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import { HARD_PROMPT, admin, alice, bob, carol, createSimGenerator, gatedGenerator, recordSurface, submitted, thread } from "./job-harness.ts";
import { makeCluster } from "./distributed-harness.ts";
import { deletePrefix } from "../support/redis.ts";

const terminal = (e: JobEvent): boolean => e.type === "job.done" || e.type === "job.failed" || e.type === "job.cancelled";

function expectEachSeqOnce(events: JobEvent[], jobId: string): void {
  const seqs = events.filter((e) => e.jobId === jobId).map((e) => e.seq);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
}

/** A surfaces process and a worker whose generator is gated, with Alice's job held at its first image. */
async function jobHeldOnWorker(iterations: number) {
  const cluster = await makeCluster();
  const gate = gatedGenerator(createSimGenerator());
  const surfaces = await cluster.service("surfaces");
  const worker = await cluster.service("worker", { generator: gate.generator });
  const seen = recordSurface(surfaces);
  await surfaces.start();
  await worker.start();
  const jobId = submitted(await surfaces.submit({ prompt: HARD_PROMPT, skill: "none", iterations }, alice, thread));
  await gate.arrived(1);
  return { gate, surfaces, seen, jobId };
}

describe("the distributed job service", () => {
  it("runs jobs submitted to a surfaces process on a separate worker, delivering each event once in order", async () => {
    const cluster = await makeCluster();
    const surfaces = await cluster.service("surfaces");
    const worker = await cluster.service("worker");
    const seen = recordSurface(surfaces);
    await surfaces.start();
    await worker.start();

    const jobs = [
      submitted(await surfaces.submit({ prompt: "a red cube", skill: "none", iterations: 2 }, alice, thread)),
      submitted(await surfaces.submit({ prompt: "a blue sphere", skill: "none", iterations: 2 }, bob, thread)),
      submitted(await surfaces.submit({ prompt: "a green cone", skill: "none", iterations: 2 }, carol, thread)),
    ];
    await Promise.all(jobs.map((jobId) => seen.finished(jobId)));

    for (const jobId of jobs) {
      expectEachSeqOnce(seen.events, jobId);
      const status = surfaces.status(jobId);
      expect(status.ok && status.job.status).toBe("done");
      const stored = surfaces.events(jobId);
      expect(stored.ok && stored.events).toEqual(seen.of(jobId));
    }
  });

  it("puts jobs back in the queue when Redis comes back empty, and runs every one once", async () => {
    const cluster = await makeCluster();
    const surfaces = await cluster.service("surfaces", { requeueIntervalMs: 300 });
    const gate = gatedGenerator(createSimGenerator());
    const worker = await cluster.service("worker", { generator: gate.generator, limits: { maxRunningJobs: 1 } });
    const seen = recordSurface(surfaces);
    await surfaces.start();
    await worker.start();
    const jobs = [];
    for (const person of [alice, bob, carol]) jobs.push(submitted(await surfaces.submit({ prompt: "a red cube", skill: "none", iterations: 2 }, person, thread)));
    // One job runs (held at the generator), two wait in the queue.
    await gate.arrived(1);

    // What the deployment keeps in Redis is gone, as after a restart without persistence.
    await deletePrefix(cluster.prefix);
    gate.open();
    await Promise.all(jobs.map((jobId) => seen.finished(jobId)));
    for (const jobId of jobs) {
      expectEachSeqOnce(seen.events, jobId);
      const status = surfaces.status(jobId);
      expect(status.ok && status.job.status).toBe("done");
      expect(status.ok && status.job.trajectory.iterations.map((it) => it.n)).toEqual(status.ok ? status.job.trajectory.iterations.map((_, i) => i + 1) : []);
    }
  });

  it("refuses a submit before start with the starting message", async () => {
    const cluster = await makeCluster();
    const surfaces = await cluster.service("surfaces");
    expect(await surfaces.submit({ prompt: "a red cube" }, alice, thread)).toEqual({
      ok: false,
      reason: "unavailable",
      message: "GEMS Bot is starting. Try again in a few seconds.",
    });
  });

  it("holds the per-person queue limit across two surfaces processes", async () => {
    const cluster = await makeCluster();
    const first = await cluster.service("surfaces", { limits: { maxQueuedPerPerson: 2 } });
    const second = await cluster.service("surfaces", { limits: { maxQueuedPerPerson: 2 } });
    await first.start();
    await second.start();

    const results = [
      await first.submit({ prompt: "a red cube" }, alice, thread),
      await second.submit({ prompt: "a red cube" }, alice, thread),
      await first.submit({ prompt: "a red cube" }, alice, thread),
    ];

    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    expect(results[2]).toMatchObject({ reason: "queue-full" });
  });

  it("holds the hourly rate across processes", async () => {
    const cluster = await makeCluster();
    const limits = { rateLimitPerHour: 1, maxQueuedPerPerson: 5 };
    const first = await cluster.service("surfaces", { limits });
    const second = await cluster.service("surfaces", { limits });
    await first.start();
    await second.start();
    expect((await first.submit({ prompt: "a red cube" }, alice, thread)).ok).toBe(true);
    const refused = await second.submit({ prompt: "a red cube" }, alice, thread);
    expect(refused).toMatchObject({ ok: false, reason: "rate-limited", message: expect.stringContaining("Try again in 60 minutes") });
  });

  it("stops a job running on a worker, from the surfaces process", async () => {
    const { surfaces, seen, jobId } = await jobHeldOnWorker(3);

    const stopped = await surfaces.cancel(jobId, admin);

    expect(stopped).toMatchObject({ ok: true });
    const end = await seen.finished(jobId);
    expect(end.type).toBe("job.cancelled");
    expectEachSeqOnce(seen.events, jobId);
  });

  it("stops a queued job that no worker has taken", async () => {
    const cluster = await makeCluster();
    const surfaces = await cluster.service("surfaces");
    const seen = recordSurface(surfaces);
    await surfaces.start();
    const jobId = submitted(await surfaces.submit({ prompt: "a red cube" }, alice, thread));

    expect(await surfaces.cancel(jobId, alice)).toEqual({ ok: true, best: null });
    expect((await seen.finished(jobId)).type).toBe("job.cancelled");
    // The queue no longer holds it: a worker started now finds nothing to run.
    const worker = await cluster.service("worker");
    await worker.start();
    expect((await surfaces.submit({ prompt: "a red cube" }, alice, thread)).ok).toBe(true);
  });

  it("feedback given to a job running on a worker reaches its memory", async () => {
    const { gate, surfaces, seen, jobId } = await jobHeldOnWorker(2);

    const given = await surfaces.addFeedback(jobId, bob, "make the ring much bigger");
    gate.open();
    await seen.finished(jobId);

    expect(given).toMatchObject({ ok: true, isApplied: false });
    const status = surfaces.status(jobId);
    expect(status.ok && status.job.trajectory.feedback.map((f) => f.text)).toEqual(["make the ring much bigger"]);
    expect(seen.of(jobId).filter((e) => e.type === "feedback.added")).toHaveLength(1);
  });

  it("another worker resumes a job whose worker died, repeating no iteration", async () => {
    const cluster = await makeCluster();
    const surfaces = await cluster.service("surfaces");
    const doomed = await cluster.service("worker", { isManual: true, generator: createSimGenerator({ latencyMs: 30 }) });
    const seen = recordSurface(surfaces);
    await surfaces.start();
    await doomed.start();
    const jobId = submitted(await surfaces.submit({ prompt: HARD_PROMPT, skill: "none", iterations: 3 }, alice, thread));
    await seen.waitFor((e) => e.jobId === jobId && e.type === "verified" && e.n === 1);
    // Dropped without drain(): nothing more is written and the queue lock is not released.
    await doomed.close();

    const rescuer = await cluster.service("worker");
    await rescuer.start();
    const end = await seen.finished(jobId);

    expect(end.type).toBe("job.done");
    expectEachSeqOnce(seen.events, jobId);
    const started = seen.of(jobId).flatMap((e) => (e.type === "iteration.started" ? [e.n] : []));
    expect(started).toEqual(started.map((_, i) => i + 1));
    expect(seen.of(jobId).some((e) => e.type === "job.started" && e.resumed)).toBe(true);
  });

  it("role all runs and delivers in one process", async () => {
    const cluster = await makeCluster();
    const all = await cluster.service("all");
    const seen = recordSurface(all);
    await all.start();
    const jobId = submitted(await all.submit({ prompt: "a red cube", skill: "none", iterations: 2 }, alice, thread));
    const end = await seen.finished(jobId);
    expect(terminal(end)).toBe(true);
    expectEachSeqOnce(seen.events, jobId);
  });
});
