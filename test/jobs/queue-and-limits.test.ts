import { describe, expect, it } from "vitest";
import type { JobRecord } from "../../core/jobs/types.ts";
import { createInMemoryJobStore, type JobStore } from "../../core/jobs/job-store.ts";
import {
  HARD_PROMPT,
  alice,
  bob,
  carol,
  countingGenerator,
  countingMllm,
  createSimGenerator,
  createSimMllm,
  fakeClock,
  gatedGenerator,
  makeService,
  recordSurface,
  submitted,
  thread,
} from "./job-harness.ts";

describe("submitting jobs", () => {
  it("refuses a job submitted before start with a starting message, and takes it after start", async () => {
    const service = await makeService();

    const early = await service.submit({ prompt: "a red cube" }, alice, thread);
    await service.start();
    const later = await service.submit({ prompt: "a red cube" }, alice, thread);

    expect(early).toEqual({ ok: false, reason: "unavailable", message: "GEMS Bot is starting. Try again in a few seconds." });
    expect(later.ok).toBe(true);
  });

  it("answers with a job id and position before the job has run", async () => {
    const gate = gatedGenerator(createSimGenerator());
    const service = await makeService({ generator: gate.generator });
    await service.start();

    const result = await service.submit({ prompt: "a red cube" }, alice, thread);

    expect(result).toEqual({ ok: true, jobId: expect.any(String), position: 0 });
    const status = service.status(submitted(result));
    expect(status.ok && status.job.trajectory.iterations.every((it) => it.imageHash === null)).toBe(true);
    expect(status.ok && status.job.surfaceRef).toEqual(thread);
  });

  it("numbers the jobs waiting behind full slots 1, 2, 3", async () => {
    const gate = gatedGenerator(createSimGenerator());
    const service = await makeService({ generator: gate.generator, limits: { maxRunningJobs: 1 } });
    await service.start();

    const positions = [];
    for (let i = 0; i < 4; i++) {
      const result = await service.submit({ prompt: `job ${i}` }, alice, thread);
      positions.push(result.ok ? result.position : -1);
    }

    expect(positions).toEqual([0, 1, 2, 3]);
  });

  it("lets another person's job move ahead of a person's second waiting job", async () => {
    const gate = gatedGenerator(createSimGenerator());
    const service = await makeService({ generator: gate.generator, limits: { maxRunningJobs: 1 } });
    await service.start();

    await service.submit({ prompt: "alice one" }, alice, thread);
    const aliceTwo = submitted(await service.submit({ prompt: "alice two" }, alice, thread));
    const bobOne = await service.submit({ prompt: "bob one" }, bob, thread);

    expect(bobOne).toMatchObject({ ok: true, position: 1 });
    const status = service.status(aliceTwo);
    expect(status.ok && status.job.position).toBe(2);
  });

  it("starts one person's single job before most of another person's ten", async () => {
    const service = await makeService({ limits: { maxRunningJobs: 1 } });
    const surface = recordSurface(service);
    await service.start();

    const aliceJobs = [];
    for (let i = 0; i < 10; i++) aliceJobs.push(submitted(await service.submit({ prompt: `a red cube number ${i}` }, alice, thread)));
    const bobJob = submitted(await service.submit({ prompt: "a blue sphere" }, bob, thread));
    await Promise.all([...aliceJobs, bobJob].map((jobId) => surface.finished(jobId)));

    const startOrder = surface.events.filter((e) => e.type === "job.started").map((e) => e.jobId);
    expect(startOrder.indexOf(bobJob)).toBe(1);
  });

  it("refuses a job when the person already has the most jobs waiting", async () => {
    const gate = gatedGenerator(createSimGenerator());
    const service = await makeService({ generator: gate.generator, limits: { maxRunningJobs: 1, maxQueuedPerPerson: 2 } });
    await service.start();

    for (let i = 0; i < 3; i++) submitted(await service.submit({ prompt: `job ${i}` }, alice, thread));
    const refused = await service.submit({ prompt: "one too many" }, alice, thread);
    const other = await service.submit({ prompt: "someone else" }, bob, thread);

    expect(refused).toEqual({
      ok: false,
      reason: "queue-full",
      message: "You already have 2 jobs waiting; the limit is 2. Wait for one to start, or stop one.",
    });
    expect(other.ok).toBe(true);
  });

  it("refuses a person over the hourly rate until the oldest job leaves the window", async () => {
    const clock = fakeClock();
    const gate = gatedGenerator(createSimGenerator());
    const service = await makeService({ generator: gate.generator, now: clock.now, limits: { rateLimitPerHour: 2 } });
    await service.start();

    submitted(await service.submit({ prompt: "first" }, alice, thread));
    clock.advance(20 * 60_000);
    submitted(await service.submit({ prompt: "second" }, alice, thread));
    const refused = await service.submit({ prompt: "third" }, alice, thread);
    clock.advance(30 * 60_000);
    const stillRefused = await service.submit({ prompt: "third" }, alice, thread);
    const otherPerson = await service.submit({ prompt: "bob's" }, bob, thread);
    clock.advance(10 * 60_000 + 1);
    const allowed = await service.submit({ prompt: "third" }, alice, thread);

    expect(refused).toEqual({
      ok: false,
      reason: "rate-limited",
      message: "You have started 2 jobs in the last hour, the limit. Try again in 40 minutes.",
    });
    expect(stillRefused).toMatchObject({ ok: false, message: expect.stringContaining("Try again in 10 minutes.") });
    expect(otherPerson.ok).toBe(true);
    expect(allowed.ok).toBe(true);
  });

  it("refuses an empty prompt, an unknown skill and too many iterations with the validator's words", async () => {
    const service = await makeService();
    await service.start();

    expect(await service.submit({ prompt: "  " }, alice, thread)).toMatchObject({ ok: false, reason: "input", message: expect.stringMatching(/^The prompt is empty/) });
    expect(await service.submit({ prompt: "a cat", skill: "origami" }, alice, thread)).toMatchObject({ ok: false, message: expect.stringMatching(/^Unknown skill "origami"/) });
    expect(await service.submit({ prompt: "a cat", iterations: 11 }, alice, thread)).toMatchObject({
      ok: false,
      message: "Iterations must be a whole number from 1 to 10 (got 11).",
    });
  });
});

describe("shared limits", () => {
  it("never has more jobs running or model calls in flight than configured", async () => {
    const mllm = countingMllm(createSimMllm({ latencyMs: 5 }));
    const generator = countingGenerator(createSimGenerator({ latencyMs: 15 }));
    // Counts running jobs from what is stored: a job's "running" write lands before its slot is
    // taken and its final write before the slot is given back.
    const inner = createInMemoryJobStore();
    const lastStatus = new Map<string, string>();
    let peakRunning = 0;
    const store: JobStore = {
      ...inner,
      put(record: JobRecord) {
        lastStatus.set(record.jobId, record.trajectory.status);
        peakRunning = Math.max(peakRunning, [...lastStatus.values()].filter((s) => s === "running").length);
        return inner.put(record);
      },
    };
    const service = await makeService({
      mllm: mllm.mllm,
      generator: generator.generator,
      store,
      limits: { maxRunningJobs: 3, generatorConcurrency: 2, mllmConcurrency: 3, defaultIterations: 2 },
    });
    const surface = recordSurface(service);
    await service.start();

    const jobIds = [];
    for (const person of [alice, bob, carol]) {
      for (let i = 0; i < 3; i++) jobIds.push(submitted(await service.submit({ prompt: `${HARD_PROMPT} ${i}` }, person, thread)));
    }
    await Promise.all(jobIds.map((jobId) => surface.finished(jobId)));

    expect(generator.counter.peak).toBe(2);
    expect(mllm.counter.peak).toBe(3);
    expect(peakRunning).toBe(3);
    expect(service.metrics()).toMatchObject({ queued: 0, generatorInFlight: 0, mllmInFlight: 0 });
  });
});
