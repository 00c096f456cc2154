import { join } from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { createDiskImageStore } from "../../core/memory/image-store.ts";
import { SQLITE_FILE_NAME } from "../../core/memory/sqlite-keyv.ts";
import {
  HARD_PROMPT,
  alice,
  bob,
  createSimGenerator,
  createSimMllm,
  fakeClock,
  gatedGenerator,
  killMidRunAndResume,
  makeService,
  recordSurface,
  sqliteStore,
  submitted,
  tempDir,
  thread,
  type ServiceSetup,
} from "./job-harness.ts";

/** A service on SQLite and disk images in `dir`, as `gems serve` would run it. */
async function serviceOn(dir: string, setup: ServiceSetup = {}): Promise<JobService> {
  return makeService({
    store: await sqliteStore(dir),
    images: createDiskImageStore(join(dir, "images")),
    ...setup,
  });
}

/** Writes a row behind the service's back, as a crash, a bad migration or a hand edit would. */
async function writeRawRow(dir: string, jobId: string, value: string): Promise<void> {
  const raw = new KeyvSqlite({ uri: `sqlite://${join(dir, SQLITE_FILE_NAME)}` });
  try {
    await raw.query("UPDATE keyv SET value = ? WHERE key = ?", value, `jobs:job:${jobId}`);
    const rows = (await raw.query("SELECT value FROM keyv WHERE key = ?", `jobs:job:${jobId}`)) as unknown[];
    expect(rows).toEqual([{ value }]);
  } finally {
    await raw.close();
  }
}

const bySeq = (events: JobEvent[]): Map<number, JobEvent> => new Map(events.map((e) => [e.seq, e]));

describe("restarting", () => {
  it("resumes jobs killed mid-run without repeating an iteration, losing feedback or renumbering events", async () => {
    const dir = await tempDir();
    const { jobA, jobB, before, after, resumed: second, report } = await killMidRunAndResume((setup) => serviceOn(dir, setup));

    expect(report).toMatchObject({ loaded: 2, resumed: 2, corrupt: [] });
    for (const jobId of [jobA, jobB]) {
      const stored = second.events(jobId);
      if (!stored.ok) throw new Error(stored.message);
      const log = stored.events;
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
      // Everything a surface saw, across both runs, is the stored log: same seq, same event.
      const seen = bySeq([...before.of(jobId), ...after.of(jobId)]);
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual(log.map((e) => e.seq));
      for (const event of [...before.of(jobId), ...after.of(jobId)]) expect(event).toEqual(log[event.seq - 1]);
      // No iteration ran twice.
      const started = log.filter((e) => e.type === "iteration.started").map((e) => (e.type === "iteration.started" ? e.n : 0));
      expect(started).toEqual(started.map((_, i) => i + 1));
      const status = second.status(jobId);
      if (!status.ok) throw new Error(status.message);
      expect(status.job.trajectory.iterations.map((it) => it.n)).toEqual(started);
    }
    expect(after.of(jobA)).toContainEqual(expect.objectContaining({ type: "job.started", resumed: true }));
    const statusA = second.status(jobA);
    expect(statusA.ok && statusA.job.trajectory.feedback.map((f) => f.text)).toEqual(["make the ring much bigger"]);
  });

  it("keeps the loop modes a job started with when a restart brings other settings", async () => {
    const dir = await tempDir();
    const first = await serviceOn(dir, {
      mllm: createSimMllm({ latencyMs: 2 }),
      generator: createSimGenerator({ latencyMs: 5 }),
      isManual: true,
      modes: { verify: "batch", loop: "fast" },
    });
    const before = recordSurface(first);
    await first.start();
    const jobId = submitted(await first.submit({ prompt: HARD_PROMPT, skill: "none", iterations: 3 }, alice, thread));
    await before.waitFor((e) => e.jobId === jobId && e.type === "verified" && e.n === 1);
    await first.close();

    // The restarted service runs new jobs in the reference loop; this one carries on as it began.
    const second = await serviceOn(dir);
    const after = recordSurface(second);
    await second.start();
    await after.finished(jobId);
    const status = second.status(jobId);
    if (!status.ok) throw new Error(status.message);
    const t = status.job.trajectory;
    expect(t.modes).toEqual({ verify: "batch", loop: "fast" });
    expect(t.iterations.length).toBeGreaterThan(1);
    expect(new Set(t.usage.map((u) => u.role))).toEqual(new Set(["decomposer", "batch-verifier", "fast-refiner"]));
    expect(before.of(jobId)).toContainEqual(expect.objectContaining({ type: "plan.done", modes: { verify: "batch", loop: "fast" } }));
  });

  it("skips and reports a corrupt row while the other jobs load and new ones run", async () => {
    const dir = await tempDir();
    const first = await serviceOn(dir, { isManual: true });
    const surface = recordSurface(first);
    await first.start();
    const broken = submitted(await first.submit({ prompt: "a red cube" }, alice, thread));
    const healthy = submitted(await first.submit({ prompt: "a blue sphere" }, bob, thread));
    await Promise.all([surface.finished(broken), surface.finished(healthy)]);
    await first.drain();
    await first.close();
    await writeRawRow(dir, broken, "{this is not json");

    const second = await serviceOn(dir);
    const after = recordSurface(second);
    const report = await second.start();

    expect(report.loaded).toBe(1);
    expect(report.corrupt).toEqual([{ jobId: broken, problem: expect.stringMatching(new RegExp(`^The stored record for job ${broken} is corrupt: not valid JSON`)) }]);
    expect(second.corruptJobs()).toEqual(report.corrupt);
    expect(second.status(broken)).toMatchObject({ ok: false, reason: "corrupt", message: expect.stringMatching(new RegExp(`^Job ${broken} cannot be read: `)) });
    expect(second.status(healthy)).toMatchObject({ ok: true, job: { status: "done" } });
    const fresh = submitted(await second.submit({ prompt: "a green cone" }, alice, thread));
    expect((await after.finished(fresh)).type).toBe("job.done");
  });

  it("reports a row whose JSON does not have a job's shape, naming the field", async () => {
    const dir = await tempDir();
    const first = await serviceOn(dir, { isManual: true });
    const surface = recordSurface(first);
    await first.start();
    const jobId = submitted(await first.submit({ prompt: "a red cube" }, alice, thread));
    await surface.finished(jobId);
    await first.drain();
    await first.close();
    await writeRawRow(dir, jobId, JSON.stringify({ value: { version: 1, jobId, requester: { id: "x" } }, expires: null }));

    const second = await serviceOn(dir);
    const report = await second.start();

    expect(report.corrupt).toEqual([{ jobId, problem: `The stored record for job ${jobId} is corrupt: requester.name: Invalid input: expected string, received undefined` }]);
  });
});

describe("delivery cursors", () => {
  it("after a clean stop, a surface is handed only the events it has not accepted", async () => {
    const dir = await tempDir();
    const first = await serviceOn(dir, { isManual: true });
    const before = recordSurface(first);
    await first.start();
    const old = submitted(await first.submit({ prompt: "a red cube" }, alice, thread));
    await before.finished(old);
    await first.drain();
    await first.close();

    const second = await serviceOn(dir);
    const after = recordSurface(second);
    await second.start();
    const fresh = submitted(await second.submit({ prompt: "a blue sphere" }, alice, thread));
    await after.finished(fresh);

    expect(after.of(old)).toEqual([]);
    expect(second.status(old)).toMatchObject({ ok: true, job: { status: "done" } });
  });
});

describe("draining", () => {
  it("finishes the step in progress, stores it, takes no new work and resumes later from there", async () => {
    const dir = await tempDir();
    const gate = gatedGenerator(createSimGenerator());
    const first = await serviceOn(dir, { generator: gate.generator, isManual: true });
    const surface = recordSurface(first);
    await first.start();
    const jobId = submitted(await first.submit({ prompt: HARD_PROMPT, skill: "none", iterations: 2 }, alice, thread));
    await gate.arrived(1);

    const drained = first.drain();
    const refused = await first.submit({ prompt: "a cat" }, bob, thread);
    gate.releaseWaiting();
    await drained;

    expect(refused).toEqual({ ok: false, reason: "unavailable", message: "GEMS Bot is restarting. Try again in a minute." });
    expect(gate.calls).toBe(1);
    const stored = first.events(jobId);
    if (!stored.ok) throw new Error(stored.message);
    expect(stored.events.at(-1)).toMatchObject({ type: "image.ready", n: 1 });
    expect(surface.of(jobId).at(-1)).toMatchObject({ type: "image.ready", n: 1 });
    expect(first.status(jobId)).toMatchObject({ ok: true, job: { status: "running" } });
    await first.close();

    const secondGenerator = gatedGenerator(createSimGenerator());
    secondGenerator.open();
    const second = await serviceOn(dir, { generator: secondGenerator.generator });
    const after = recordSurface(second);
    await second.start();
    await after.finished(jobId);

    expect(after.of(jobId)[0]).toMatchObject({ type: "job.started", resumed: true, seq: stored.events.length + 1 });
    const all = second.events(jobId);
    if (!all.ok) throw new Error(all.message);
    expect(all.events.filter((e) => e.type === "image.ready").map((e) => (e.type === "image.ready" ? e.n : 0))).toEqual([1, 2]);
    expect(secondGenerator.calls).toBe(1);
  });
});

describe("delivering events", () => {
  it("hands a surface that threw the same event again, in order, while the job and other surfaces go on", async () => {
    const clock = fakeClock();
    const service = await makeService({ sleep: clock.sleep, now: clock.now });
    const steady = recordSurface(service);
    let hasThrown = false;
    const flaky = recordSurface(service, "web", {
      isAllJobs: true,
      before: (event) => {
        if (event.seq === 3 && !hasThrown) {
          hasThrown = true;
          throw new Error("Discord answered 503");
        }
      },
    });
    await service.start();
    const jobId = submitted(await service.submit({ prompt: "a red cube" }, alice, thread));
    const end = await steady.finished(jobId);
    await flaky.waitFor((e) => e.seq === end.seq);

    expect(hasThrown).toBe(true);
    expect(flaky.of(jobId).map((e) => e.seq)).toEqual(steady.of(jobId).map((e) => e.seq));
    expect(steady.of(jobId).map((e) => e.seq)).toEqual(steady.of(jobId).map((_, i) => i + 1));
    expect(clock.sleeps).toContain(1_000);
  });

  it("gives a surface that subscribes late the whole history of its jobs", async () => {
    const service = await makeService();
    const early = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ prompt: "a red cube" }, alice, thread));
    const end = await early.finished(jobId);

    const late = recordSurface(service, "test-late", { isAllJobs: true });
    await late.waitFor((e) => e.seq === end.seq);

    expect(late.of(jobId)).toEqual(early.of(jobId));
  });
});
