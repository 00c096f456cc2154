import { describe, expect, it } from "vitest";
import { alice, bob, carol, createSimGenerator, makeService, recordSurface, submitted, thread } from "./job-harness.ts";

describe("model call metrics", () => {
  it("time each call once it holds its slot, by model and role, without the wait for the slot", async () => {
    // One generator slot, three jobs at once: the second and third image calls wait ≥ 600 ms
    // for the slot, which a timer started before the wait would count (≥ 1.2 s for those two).
    // The margin between a call's own ~600 ms and the 1 s bucket absorbs a busy machine.
    const service = await makeService({
      generator: createSimGenerator({ latencyMs: 600 }),
      limits: { maxRunningJobs: 3, generatorConcurrency: 1 },
    });
    const surface = recordSurface(service);
    await service.start();
    const jobIds = [];
    for (const person of [alice, bob, carol]) {
      jobIds.push(submitted(await service.submit({ prompt: "a red cube", skill: "none", iterations: 1 }, person, thread)));
    }
    await Promise.all(jobIds.map((jobId) => surface.finished(jobId)));

    const { modelCalls, modelCallBucketsSeconds } = service.metrics();
    const images = modelCalls.find((series) => series.model === "generator");
    expect(images).toMatchObject({ role: "generator", count: 3, failures: 0 });
    expect(images!.sumSeconds).toBeGreaterThanOrEqual(3 * 0.6);
    // Every call took ~600 ms plus rendering; any wait for the slot would push two past 1 s.
    expect(images!.buckets[modelCallBucketsSeconds.indexOf(1)]).toBe(3);
    expect(modelCalls.filter((series) => series.model === "mllm").map((series) => series.role).sort()).toEqual(["decomposer", "verifier"]);
    const decomposer = modelCalls.find((series) => series.role === "decomposer");
    expect(decomposer?.count).toBe(3);
    // Buckets are cumulative.
    for (const series of modelCalls) expect(series.buckets).toEqual([...series.buckets].sort((a, b) => a - b));
  });
});
