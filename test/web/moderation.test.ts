import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createModerationStep } from "../../core/moderation/moderator.ts";
import { createWordListModerator } from "../../core/moderation/word-list.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { call, startStudio, type StudioHarness } from "./studio-harness.ts";

const BLOCKED = "zorblax";
let harness: StudioHarness;
let generatorCalls = 0;

beforeAll(async () => {
  const inner = createSimGenerator({ latencyMs: 0, width: 256, height: 256, partialImages: 0 });
  const generator: ImageGenerator = { ...inner, name: inner.name, generate: (request) => ((generatorCalls += 1), inner.generate(request)) };
  harness = await startStudio({ generator, moderation: createModerationStep([createWordListModerator([BLOCKED])], "closed", silentLogger) });
});
afterAll(() => harness?.close());

describe("moderation in the studio", () => {
  it("a blocked prompt is a 422 moderation error to the caller, and no job exists", async () => {
    const answer = await call(harness.url, "POST", "/api/jobs", { prompt: `a ${BLOCKED}`, name: "Ada" });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toMatchObject({ code: "moderation" });
    expect(answer.body.error.message).toContain("did not pass the content filter");
    expect(harness.jobs.list()).toEqual([]);
    expect(generatorCalls).toBe(0);
  });

  it("a blocked feedback is a 422 and never reaches the job's memory", async () => {
    const created = await call(harness.url, "POST", "/api/jobs", { prompt: "a red cube", iterations: 1, name: "Ada" });
    expect(created.status).toBe(201);
    const jobId = created.body.jobId as string;
    await harness.finished(jobId);
    const calls = generatorCalls;
    const answer = await call(harness.url, "POST", `/api/jobs/${jobId}/feedback`, { text: `add a ${BLOCKED}`, name: "Ada" });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe("moderation");
    const status = harness.jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.feedback).toEqual([]);
    expect(status.job.pendingFeedback).toBe(0);
    expect(generatorCalls).toBe(calls);
  });
});
