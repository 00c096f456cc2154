import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { preferenceText, TEAM_AUTHOR } from "../../core/jobs/votes.ts";
import { admin, alice, bob, carol, gatedGenerator, makeService, recordSurface, sqliteStore, submitted, tempDir, thread } from "./job-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";
import { makeCluster } from "./distributed-harness.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import { createPostgresImageStore } from "../../core/memory/postgres/image-store.ts";
import { TINY_PNG } from "../fakes/png-fixture.ts";
import { testDatabase } from "../support/postgres.ts";

function statusOf(service: JobService, jobId: string) {
  const status = service.status(jobId);
  if (!status.ok) throw new Error(status.message);
  return status.job;
}

const doneOf = (events: JobEvent[]) => {
  const done = events.find((e) => e.type === "job.done");
  if (done?.type !== "job.done") throw new Error("the job did not finish");
  return done;
};

/** A three-iteration job on the wire models whose image only passes everything on attempt 3. */
async function heldJob(limits: Parameters<typeof makeService>[0] = {}) {
  const { mllm, generator } = await wireModels({ verifier: redFrom(3) });
  const gate = gatedGenerator(generator.generator);
  const service = await makeService({ mllm: mllm.mllm, generator: gate.generator, ...limits });
  const surface = recordSurface(service);
  await service.start();
  const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 3 }, alice, thread));
  await gate.arrived(1);
  gate.releaseWaiting();
  await gate.arrived(2);
  await surface.waitFor((e) => e.jobId === jobId && e.type === "verified" && e.n === 1);
  return { service, surface, gate, jobId, mllm };
}

describe("team votes", () => {
  it("keeps one vote per person per iteration, the last one counting", async () => {
    const { service, gate, jobId, surface } = await heldJob();

    await service.vote(jobId, bob, 1, "up");
    await service.vote(jobId, bob, 1, "down");
    const result = await service.vote(jobId, carol, 1, "down");

    expect(result).toEqual({ ok: true, votes: [{ n: 1, up: 0, down: 2 }] });
    gate.open();
    await surface.finished(jobId);
  });

  it("removing a 👍 reaction clears only a 👍, not a 👎 given after it", async () => {
    const { service, gate, jobId, surface } = await heldJob();

    await service.vote(jobId, bob, 1, "up");
    expect(await service.vote(jobId, bob, 1, "remove-up")).toEqual({ ok: true, votes: [] });
    await service.vote(jobId, bob, 1, "down");
    expect(await service.vote(jobId, bob, 1, "remove-up")).toEqual({ ok: true, votes: [{ n: 1, up: 0, down: 1 }] });
    gate.open();
    await surface.finished(jobId);
  });

  it("refuses a vote on an iteration without an image, naming the ones that have one", async () => {
    const { service, gate, jobId, surface } = await heldJob();

    expect(await service.vote(jobId, bob, 7, "up")).toEqual({
      ok: false,
      reason: "input",
      message: "Iteration 7 has no image to vote on. Vote on one of: 1.",
    });
    expect(await service.vote(jobId, bob, 1, "sideways" as never)).toMatchObject({ ok: false, reason: "input" });
    expect(await service.vote("nope", bob, 1, "up")).toMatchObject({ ok: false, reason: "not-found" });
    gate.open();
    await surface.finished(jobId);
  });

  it("shows the votes in job.done and, by default, keeps the image that passed most as the result", async () => {
    const { service, gate, jobId, surface } = await heldJob();
    await service.vote(jobId, bob, 1, "up");
    await service.vote(jobId, carol, 1, "up");
    gate.open();
    await surface.finished(jobId);

    const done = doneOf(surface.of(jobId));
    expect(done.votes).toEqual([{ n: 1, up: 2, down: 0 }]);
    expect(done.best?.n).toBe(3);
    expect(done.isChosenByVotes).toBeUndefined();
    expect(statusOf(service, jobId).votes).toEqual([{ n: 1, up: 2, down: 0 }]);
  });

  it("with GEMS_RESULT_BY=votes makes the most voted image the result", async () => {
    const { service, gate, jobId, surface } = await heldJob({ limits: { resultBy: "votes" } });
    await service.vote(jobId, bob, 1, "up");
    gate.open();
    await surface.finished(jobId);

    const done = doneOf(surface.of(jobId));
    expect(done).toMatchObject({ reason: "all-passed", isChosenByVotes: true, best: { n: 1 } });
    expect(statusOf(service, jobId).best?.n).toBe(1);
  });

  it("with GEMS_RESULT_BY=votes, a vote after the end changes the counts (votes.changed) but not the result chosen at the end", async () => {
    const { service, gate, jobId, surface } = await heldJob({ limits: { resultBy: "votes" } });
    await service.vote(jobId, bob, 1, "up");
    gate.open();
    await surface.finished(jobId);
    expect(doneOf(surface.of(jobId))).toMatchObject({ isChosenByVotes: true, best: { n: 1 } });

    await service.vote(jobId, carol, 3, "up");
    await service.vote(jobId, admin, 3, "up");
    const change = await surface.waitFor((e) => e.jobId === jobId && e.type === "votes.changed");

    expect(change).toMatchObject({ votes: [{ n: 1, up: 1, down: 0 }, { n: 3, up: 2, down: 0 }] });
    expect(statusOf(service, jobId).best?.n).toBe(1);
    expect(surface.of(jobId).filter((e) => e.type === "job.done")).toHaveLength(1);
  });

  it("writes 'the team preferred iteration k' into memory for the next attempt, without new questions", async () => {
    const { service, gate, jobId, surface, mllm } = await heldJob();
    await service.vote(jobId, bob, 1, "up");
    gate.open();
    await surface.finished(jobId);

    const job = statusOf(service, jobId);
    expect(job.trajectory.feedback).toEqual([
      expect.objectContaining({ author: TEAM_AUTHOR, text: preferenceText(1), requirementIds: [], retiredRequirementIds: [] }),
    ]);
    expect(mllm.callsOf("feedback")).toHaveLength(0);
    const lastRefine = mllm.callsOf("refiner").at(-1);
    expect(lastRefine?.text).toContain("The team preferred iteration 1");
    expect(job.pendingFeedback).toBe(0);
  });

  it("writes no preference when the votes tie", async () => {
    const { service, gate, jobId, surface } = await heldJob();
    await service.vote(jobId, bob, 1, "up");
    await service.vote(jobId, carol, 1, "down");
    gate.open();
    await surface.finished(jobId);

    expect(statusOf(service, jobId).trajectory.feedback).toEqual([]);
  });

  it("notes the preference of a finished job when it is continued ('Refine more')", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(9) });
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 2 }, alice, thread));
    await surface.finished(jobId);
    await service.vote(jobId, bob, 2, "up");
    expect(statusOf(service, jobId).trajectory.feedback).toEqual([]);

    expect(await service.continue(jobId, 1, alice)).toMatchObject({ ok: true });
    await surface.waitFor((e) => e.jobId === jobId && e.type === "job.done" && e.seq > doneOf(surface.of(jobId)).seq);

    const job = statusOf(service, jobId);
    expect(job.trajectory.feedback.map((f) => f.text)).toEqual([preferenceText(2)]);
    expect(mllm.callsOf("refiner").at(-1)?.text).toContain("The team preferred iteration 2");
  });

  it("keeps votes across a restart", async () => {
    const dir = await tempDir();
    const first = await makeService({ store: await sqliteStore(dir), isManual: true });
    const surface = recordSurface(first);
    await first.start();
    const jobId = submitted(await first.submit({ ...RED_CUBE, iterations: 1 }, alice, thread));
    await surface.finished(jobId);
    await first.vote(jobId, bob, 1, "up");
    await first.vote(jobId, carol, 1, "down");
    await first.vote(jobId, alice, 1, "up");
    await first.close();

    const second = await makeService({ store: await sqliteStore(dir) });
    await second.start();
    expect(statusOf(second, jobId).votes).toEqual([{ n: 1, up: 2, down: 1 }]);
    expect(await second.vote(jobId, carol, 1, "up")).toEqual({ ok: true, votes: [{ n: 1, up: 3, down: 0 }] });
  });
});

describe("team votes when scaled out", () => {
  /** A surfaces process and a worker on one schema; the worker holds iteration 2 until told. */
  async function heldCluster(workerLimits: Partial<JobLimits> = {}) {
    const { mllm, generator } = await wireModels({ verifier: redFrom(3) });
    const gate = gatedGenerator(generator.generator);
    const cluster = await makeCluster();
    const surfaces = await cluster.service("surfaces");
    const worker = await cluster.service("worker", { mllm: mllm.mllm, generator: gate.generator, limits: workerLimits });
    const surface = recordSurface(surfaces);
    await surfaces.start();
    await worker.start();
    const jobId = submitted(await surfaces.submit({ ...RED_CUBE, iterations: 3 }, alice, thread));
    await gate.arrived(1);
    gate.releaseWaiting();
    await gate.arrived(2);
    await surface.waitFor((e) => e.jobId === jobId && e.type === "verified" && e.n === 1);
    return { cluster, surfaces, worker, surface, gate, jobId, mllm };
  }

  it("a vote cast through the surfaces process makes the most voted image the worker's result, and shows in job.done", async () => {
    const { surfaces, surface, gate, jobId } = await heldCluster({ resultBy: "votes" });

    await surfaces.vote(jobId, bob, 1, "down");
    expect(await surfaces.vote(jobId, bob, 1, "up")).toEqual({ ok: true, votes: [{ n: 1, up: 1, down: 0 }] });
    expect(await surfaces.vote(jobId, carol, 1, "up")).toEqual({ ok: true, votes: [{ n: 1, up: 2, down: 0 }] });
    expect(await surfaces.vote(jobId, carol, 1, "remove-down")).toEqual({ ok: true, votes: [{ n: 1, up: 2, down: 0 }] });
    gate.open();
    await surface.finished(jobId);

    const done = doneOf(surface.of(jobId));
    expect(done).toMatchObject({ reason: "all-passed", isChosenByVotes: true, best: { n: 1 }, votes: [{ n: 1, up: 2, down: 0 }] });
    expect(statusOf(surfaces, jobId).votes).toEqual([{ n: 1, up: 2, down: 0 }]);
    expect(statusOf(surfaces, jobId).best?.n).toBe(1);
  });

  it("votes from two surfaces processes add up, are stored, and a third process reads them", async () => {
    const cluster = await makeCluster();
    const first = await cluster.service("all");
    const second = await cluster.service("surfaces");
    const surface = recordSurface(first);
    await first.start();
    await second.start();
    const jobId = submitted(await first.submit({ ...RED_CUBE, iterations: 1 }, alice, thread));
    await surface.finished(jobId);

    await first.vote(jobId, bob, 1, "up");
    expect(await second.vote(jobId, carol, 1, "down")).toEqual({ ok: true, votes: [{ n: 1, up: 1, down: 1 }] });
    expect(await second.vote(jobId, bob, 7, "up")).toEqual({ ok: false, reason: "input", message: "Iteration 7 has no image to vote on. Vote on one of: 1." });
    expect(await second.vote(jobId, bob, 1, "sideways" as never)).toMatchObject({ ok: false, reason: "input" });
    expect(await second.vote("nope", bob, 1, "up")).toMatchObject({ ok: false, reason: "not-found" });

    const third = await cluster.service("surfaces");
    await third.start();
    expect(statusOf(third, jobId).votes).toEqual([{ n: 1, up: 1, down: 1 }]);
  });

  it("a finished job continued from another process writes the team's preference into memory", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(9) });
    const cluster = await makeCluster();
    const worker = await cluster.service("worker", { mllm: mllm.mllm, generator: generator.generator });
    const voters = await cluster.service("surfaces");
    const other = await cluster.service("surfaces");
    const surface = recordSurface(voters);
    await worker.start();
    await voters.start();
    await other.start();
    const jobId = submitted(await voters.submit({ ...RED_CUBE, iterations: 2 }, alice, thread));
    await surface.finished(jobId);
    await voters.vote(jobId, bob, 2, "up");

    expect(await other.continue(jobId, 1, alice)).toMatchObject({ ok: true });
    await surface.waitFor((e) => e.jobId === jobId && e.type === "job.done" && e.seq > doneOf(surface.of(jobId)).seq);

    const feedback = statusOf(voters, jobId).trajectory.feedback;
    expect(feedback).toEqual([expect.objectContaining({ author: TEAM_AUTHOR, text: preferenceText(2), requirementIds: [] })]);
    expect(mllm.callsOf("feedback")).toHaveLength(0);
    expect(mllm.callsOf("refiner").at(-1)?.text).toContain("The team preferred iteration 2");
  });

  it("feedback with an image, given to the surfaces process, reaches the memory of the job on the worker", async () => {
    const { cluster, surfaces, surface, gate, jobId } = await heldCluster();
    const images = createPostgresImageStore(await testDatabase({ schema: cluster.schema }));
    const hash = await images.put(TINY_PNG);

    expect(await surfaces.addFeedback(jobId, bob, "like this one", [hash])).toMatchObject({ ok: true, isApplied: false });
    gate.open();
    await surface.finished(jobId);

    const feedback = statusOf(surfaces, jobId).trajectory.feedback;
    expect(feedback).toEqual([expect.objectContaining({ text: "like this one", imageHashes: [hash] })]);
    expect(statusOf(surfaces, jobId).pendingFeedback).toBe(0);
  });
});
