import { describe, expect, it } from "vitest";
import { admin, alice, bob, gatedGenerator, makeService, recordSurface, submitted, thread } from "./job-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";

/** A job on the wire fakes whose generator is held at the gate; the verifier never passes "red". */
async function heldJob(options: { iterations?: number; maxRunningJobs?: number } = {}) {
  const { mllm, generator } = await wireModels({ verifier: redFrom(99) });
  const gate = gatedGenerator(generator.generator);
  const service = await makeService({ mllm: mllm.mllm, generator: gate.generator, limits: { maxRunningJobs: options.maxRunningJobs ?? 4 } });
  const surface = recordSurface(service);
  await service.start();
  const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: options.iterations ?? 5 }, alice, thread));
  return { service, surface, gate, jobId, mllm };
}

/** Lets the first attempt through and holds the second at the generator. */
async function holdAtSecondAttempt(gate: ReturnType<typeof gatedGenerator>): Promise<void> {
  await gate.arrived(1);
  gate.releaseWaiting();
  await gate.arrived(2);
}

describe("stopping a job", () => {
  it("refuses someone else and names who can", async () => {
    const { service, jobId } = await heldJob();

    expect(await service.cancel(jobId, bob)).toEqual({ ok: false, reason: "forbidden", message: "Only Alice or an admin can stop this job." });
    expect(service.status(jobId)).toMatchObject({ ok: true, job: { status: "running" } });
  });

  it("lets the requester stop a running job, which keeps its best image so far", async () => {
    const { service, surface, gate, jobId } = await heldJob();
    await holdAtSecondAttempt(gate);

    const result = await service.cancel(jobId, alice);

    expect(result).toMatchObject({ ok: true, best: { n: 1, passed: 1, total: 2 } });
    const cancelled = await surface.finished(jobId);
    expect(cancelled).toMatchObject({ type: "job.cancelled", best: { n: 1, passed: 1, total: 2 } });
    expect(service.status(jobId)).toMatchObject({ ok: true, job: { status: "cancelled", stopReason: "stopped" } });
  });

  it("lets an admin stop someone else's waiting job before it starts", async () => {
    const { service, surface } = await heldJob({ maxRunningJobs: 1 });
    const waiting = submitted(await service.submit(RED_CUBE, alice, thread));

    const result = await service.cancel(waiting, admin);

    expect(result).toEqual({ ok: true, best: null });
    expect(service.status(waiting)).toMatchObject({ ok: true, job: { status: "cancelled", position: null } });
    expect(service.metrics().queued).toBe(0);
    expect((await surface.finished(waiting)).type).toBe("job.cancelled");
    expect(surface.of(waiting).map((e) => e.type)).not.toContain("job.started");
  });

  it("refuses to stop a job that has finished", async () => {
    const { service, surface, gate, jobId } = await heldJob({ iterations: 1 });
    gate.open();
    await surface.finished(jobId);

    expect(await service.cancel(jobId, alice)).toEqual({ ok: false, reason: "conflict", message: "This job has already finished." });
  });
});

describe("picking a result", () => {
  it("ends a running job with the chosen image and the reason picked", async () => {
    const { service, surface, gate, jobId } = await heldJob();
    await holdAtSecondAttempt(gate);

    const result = await service.pick(jobId, 1, alice);

    expect(result).toMatchObject({ ok: true, best: { n: 1 } });
    const end = await surface.finished(jobId);
    expect(end).toMatchObject({ type: "job.done", reason: "picked", best: { n: 1 } });
    expect(surface.of(jobId).map((e) => e.type)).not.toContain("job.cancelled");
    expect(service.status(jobId)).toMatchObject({ ok: true, job: { status: "done", stopReason: "picked", best: { n: 1 } } });
  });

  it("replaces the result of a finished job", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(2) });
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 3 }, alice, thread));
    await surface.finished(jobId);
    expect(service.status(jobId)).toMatchObject({ ok: true, job: { stopReason: "all-passed", best: { n: 2 } } });

    const result = await service.pick(jobId, 1, admin);

    expect(result).toMatchObject({ ok: true, best: { n: 1, passed: 1, total: 2 } });
    expect(service.status(jobId)).toMatchObject({ ok: true, job: { status: "done", stopReason: "picked", best: { n: 1 } } });
    await surface.waitFor((e) => e.jobId === jobId && e.type === "job.done" && e.reason === "picked");
  });

  it("refuses an iteration that has no image and lists those that do", async () => {
    const { service, gate, jobId } = await heldJob();
    await holdAtSecondAttempt(gate);

    expect(await service.pick(jobId, 7, alice)).toEqual({ ok: false, reason: "input", message: "Iteration 7 has no image. Pick one of: 1." });
    expect(await service.pick(jobId, 1, bob)).toEqual({ ok: false, reason: "forbidden", message: "Only Alice or an admin can pick the result of this job." });
  });
});

describe("continuing a job", () => {
  it("refuses a job that is still running", async () => {
    const { service, jobId } = await heldJob();

    expect(await service.continue(jobId, 2, alice)).toEqual({
      ok: false,
      reason: "conflict",
      message: "This job is still running. Wait for it to finish, or stop it first.",
    });
  });

  it("runs more iterations of a finished job from its memory, with the same checklist", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(3) });
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 1 }, alice, thread));
    const firstEnd = await surface.finished(jobId);
    const before = service.status(jobId);
    if (!before.ok) throw new Error(before.message);
    expect(before.job).toMatchObject({ status: "done", stopReason: "max-iterations", iterations: 1 });

    const result = await service.continue(jobId, 2, alice);
    expect(result).toEqual({ ok: true, position: 0 });
    const secondEnd = await surface.waitFor((e) => e.jobId === jobId && e.seq > firstEnd.seq && e.type === "job.done");

    const after = service.status(jobId);
    if (!after.ok) throw new Error(after.message);
    expect(secondEnd).toMatchObject({ reason: "all-passed", best: { n: 3 } });
    expect(after.job.trajectory.iterations).toHaveLength(3);
    // The fact anchors of the first attempt are reused, not redone; only its experience is new.
    const { experience: _, ...firstAnchors } = before.job.trajectory.iterations[0] ?? {};
    expect(after.job.trajectory.iterations[0]).toMatchObject(firstAnchors);
    expect(generator.calls).toHaveLength(3);
    expect(after.job.trajectory.requirements).toEqual(before.job.trajectory.requirements);
    expect(mllm.callsOf("decomposer")).toHaveLength(1);
    expect(mllm.callsOf("refiner")[0]?.attempts).toEqual([1]);
    // Continuing is not a restart: surfaces announce "resumed" only after an interruption.
    expect(surface.of(jobId).filter((e) => e.type === "job.started").map((e) => e.type === "job.started" && e.resumed)).toEqual([false, false]);
  });

  it("asks for feedback first when the last image already passed everything", async () => {
    const { mllm, generator } = await wireModels();
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 2 }, alice, thread));
    await surface.finished(jobId);

    expect(await service.continue(jobId, 2, alice)).toEqual({
      ok: false,
      reason: "input",
      message: "Every requirement already passed on iteration 1. Add feedback saying what to change, then continue.",
    });
  });

  it("refuses someone else, and more than ten extra iterations", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(99) });
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 1 }, alice, thread));
    await surface.finished(jobId);

    expect(await service.continue(jobId, 2, bob)).toMatchObject({ ok: false, message: "Only Alice or an admin can continue this job." });
    expect(await service.continue(jobId, 11, alice)).toMatchObject({ ok: false, message: "Continue with 1 to 10 more iterations (got 11)." });
  });
});

describe("unknown jobs", () => {
  it("every action on an unknown job id says there is no such job", async () => {
    const service = await makeService();
    await service.start();
    const expected = { ok: false, reason: "not-found", message: "There is no job nope. It may have finished long ago and been cleaned up." };

    expect(service.status("nope")).toEqual(expected);
    expect(service.events("nope")).toEqual(expected);
    expect(await service.cancel("nope", alice)).toEqual(expected);
    expect(await service.pick("nope", 1, alice)).toEqual(expected);
    expect(await service.continue("nope", 1, alice)).toEqual(expected);
    expect(await service.addFeedback("nope", alice, "make it blue")).toEqual(expected);
  });
});
