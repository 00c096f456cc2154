import { describe, expect, it } from "vitest";
import { createInMemoryJobStore } from "../../core/jobs/job-store.ts";
import { alice, bob, gatedGenerator, makeService, recordSurface, submitted, thread } from "./job-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";

const SHINY = () => '{"questions": ["Is the cube shiny?"], "replaces": []}';

describe("feedback", () => {
  it("refuses empty feedback with a message that says what to write", async () => {
    const service = await makeService();
    await service.start();
    const jobId = submitted(await service.submit(RED_CUBE, alice, thread));

    expect(await service.addFeedback(jobId, bob, "   ")).toEqual({
      ok: false,
      reason: "input",
      message: "The feedback is empty. Say what the next image should change.",
    });
  });

  it("refuses 5,000 characters of feedback and names the limit", async () => {
    const service = await makeService();
    await service.start();
    const jobId = submitted(await service.submit(RED_CUBE, alice, thread));

    expect(await service.addFeedback(jobId, bob, "x".repeat(5000))).toEqual({
      ok: false,
      reason: "input",
      message: "The feedback is 5000 characters long; the limit is 2000. Keep it to the changes that matter most.",
    });
  });

  it("on a finished job goes into memory at once and adds its questions to the checklist", async () => {
    const { mllm, generator } = await wireModels({ feedback: SHINY });
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit(RED_CUBE, alice, thread));
    await surface.finished(jobId);

    const result = await service.addFeedback(jobId, bob, "make it shiny");

    expect(result).toEqual({ ok: true, isApplied: true, questions: [{ id: 3, question: "Is the cube shiny?", source: "feedback" }] });
    const status = service.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.feedback).toMatchObject([{ author: "Bob", text: "make it shiny", requirementIds: [3] }]);
    expect(status.job.trajectory.requirements?.map((r) => r.question)).toContain("Is the cube shiny?");
    expect(status.job.pendingFeedback).toBe(0);
    await surface.waitFor((e) => e.jobId === jobId && e.type === "feedback.added" && e.author === "Bob");
  });

  it("on a running job is stored before it is acknowledged, then checked by the verifier", async () => {
    const { mllm, generator } = await wireModels({ feedback: SHINY, verifier: redFrom(3) });
    const gate = gatedGenerator(generator.generator);
    const store = createInMemoryJobStore();
    const service = await makeService({ mllm: mllm.mllm, generator: gate.generator, store });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 3 }, alice, thread));
    await gate.arrived(1);

    const result = await service.addFeedback(jobId, bob, "make it shiny");

    expect(result).toEqual({ ok: true, isApplied: false, questions: [] });
    const stored = (await store.load()).records.find((r) => r.jobId === jobId);
    expect(stored?.pendingFeedback).toMatchObject([{ author: bob, text: "make it shiny" }]);

    gate.open();
    await surface.finished(jobId);
    const status = service.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.pendingFeedback).toBe(0);
    expect(status.job.trajectory.feedback).toMatchObject([{ author: "Bob", text: "make it shiny" }]);
    const shiny = status.job.trajectory.requirements?.find((r) => r.question === "Is the cube shiny?");
    expect(shiny).toBeDefined();
    const lastIteration = status.job.trajectory.iterations.at(-1);
    expect(lastIteration?.verdicts.map((v) => v.requirementId)).toContain(shiny?.id);
  });

  it("is refused from anyone but the requester when configured so", async () => {
    const service = await makeService({ limits: { feedbackRequesterOnly: true } });
    await service.start();
    const jobId = submitted(await service.submit(RED_CUBE, alice, thread));

    expect(await service.addFeedback(jobId, bob, "make it shiny")).toEqual({
      ok: false,
      reason: "forbidden",
      message: "Only Alice or an admin can give feedback on this job.",
    });
    expect((await service.addFeedback(jobId, alice, "make it shiny")).ok).toBe(true);
  });
});
