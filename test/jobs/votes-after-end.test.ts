/**
 * Votes cast after a job ended reach its final message: the service commits one `votes.changed`
 * per burst of votes (core/jobs/voting.ts), in one process and scaled out, also after a restart.
 */
import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { makeCluster } from "./distributed-harness.ts";
import { admin, alice, bob, carol, makeService, recordSurface, sqliteStore, submitted, tempDir, thread, type RecordingSurface } from "./job-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";

const changesOf = (surface: RecordingSurface, jobId: string) =>
  surface.of(jobId).flatMap((e) => (e.type === "votes.changed" ? [e] : []));

/** Waits for the job's `count`-th votes.changed and returns it. */
async function nthChange(surface: RecordingSurface, jobId: string, count: number): Promise<Extract<JobEvent, { type: "votes.changed" }>> {
  await surface.waitFor((e) => e.jobId === jobId && e.type === "votes.changed" && changesOf(surface, jobId).length >= count);
  return changesOf(surface, jobId)[count - 1]!;
}

async function finishedJob(service: JobService, surface: RecordingSurface, iterations = 1): Promise<string> {
  const jobId = submitted(await service.submit({ ...RED_CUBE, iterations }, alice, thread));
  await surface.finished(jobId);
  return jobId;
}

/** Three votes at once, then one more: one event with the burst's counts, then one with the later. */
async function expectOneChangePerBurst(voters: JobService, surface: RecordingSurface, jobId: string): Promise<JobEvent> {
  await voters.vote(jobId, bob, 1, "up");
  await voters.vote(jobId, carol, 1, "up");
  await voters.vote(jobId, admin, 1, "down");
  const first = await nthChange(surface, jobId, 1);
  expect(first.votes).toEqual([{ n: 1, up: 2, down: 1 }]);

  await voters.vote(jobId, carol, 1, "clear");
  const second = await nthChange(surface, jobId, 2);
  expect(second.votes).toEqual([{ n: 1, up: 1, down: 1 }]);
  // Delivered in order: a third event from the first burst would have come before the second.
  expect(changesOf(surface, jobId)).toHaveLength(2);
  expect(second.seq).toBe(first.seq + 1);
  return second;
}

describe("votes after the job ended, in one process", () => {
  it("a burst of votes after job.done becomes one votes.changed with the counts after the burst, and a later vote one more", async () => {
    const service = await makeService();
    const surface = recordSurface(service);
    await service.start();
    await expectOneChangePerBurst(service, surface, await finishedJob(service, surface));
  });

  it("a burst cut short by a restart is shown when the job service starts again", async () => {
    const dir = await tempDir();
    const first = await makeService({ store: await sqliteStore(dir), isManual: true });
    const firstSurface = recordSurface(first);
    await first.start();
    const jobId = await finishedJob(first, firstSurface);
    await first.vote(jobId, bob, 1, "up");
    await first.vote(jobId, carol, 1, "down");
    // Stored at once; the event waits for the burst to settle, which this close cuts short.
    await first.close();
    expect(changesOf(firstSurface, jobId)).toEqual([]);

    const second = await makeService({ store: await sqliteStore(dir) });
    const surface = recordSurface(second);
    await second.start();
    const change = await nthChange(surface, jobId, 1);
    expect(change.votes).toEqual([{ n: 1, up: 1, down: 1 }]);

    await second.vote(jobId, admin, 1, "up");
    expect((await nthChange(surface, jobId, 2)).votes).toEqual([{ n: 1, up: 2, down: 1 }]);
    expect(changesOf(surface, jobId)).toHaveLength(2);
  });

  it("a job continued after votes.changed ends with a job.done that carries the votes, as before", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(9) });
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator });
    const surface = recordSurface(service);
    await service.start();
    const jobId = await finishedJob(service, surface);
    await service.vote(jobId, bob, 1, "up");
    await nthChange(surface, jobId, 1);

    expect(await service.continue(jobId, 1, alice)).toMatchObject({ ok: true });
    const secondDone = await surface.waitFor((e) => e.jobId === jobId && e.type === "job.done" && e.seq > (changesOf(surface, jobId)[0]?.seq ?? 0));
    expect(secondDone).toMatchObject({ votes: [{ n: 1, up: 1, down: 0 }] });
  });
});

describe("votes after the job ended, scaled out", () => {
  it("a vote recorded in one surfaces process reaches another process's surface as one votes.changed per burst", async () => {
    const cluster = await makeCluster();
    const runner = await cluster.service("all");
    const voters = await cluster.service("surfaces");
    const surface = recordSurface(runner);
    await runner.start();
    await voters.start();
    const jobId = await finishedJob(runner, surface);

    const last = await expectOneChangePerBurst(voters, surface, jobId);
    const status = voters.status(jobId);
    expect(status.ok && status.job.lastSeq).toBe(last.seq);
  });

  it("a burst whose surfaces process stopped before showing it is shown by the next surfaces process to start", async () => {
    const cluster = await makeCluster();
    const runner = await cluster.service("all");
    const surface = recordSurface(runner);
    await runner.start();
    const jobId = await finishedJob(runner, surface);
    const voters = await cluster.service("surfaces", { isManual: true });
    await voters.start();
    await voters.vote(jobId, bob, 1, "down");
    await voters.close();

    const next = await cluster.service("surfaces");
    await next.start();
    expect((await nthChange(surface, jobId, 1)).votes).toEqual([{ n: 1, up: 0, down: 1 }]);
  });
});
