import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProvenance } from "../../core/images/provenance.ts";
import { call, startStudio, type StudioHarness } from "./studio-harness.ts";

let harness: StudioHarness;

beforeAll(async () => {
  harness = await startStudio({ latencyMs: 5 });
});
afterAll(async () => {
  await harness?.close();
});

describe("downloading an image from the studio", () => {
  it("gives the iteration's image as a file, with its job id, iteration, prompt and models written in", async () => {
    const started = await call(harness.url, "POST", "/api/jobs", { prompt: "a red cube left of a blue sphere", iterations: 2, name: "Ada" });
    const jobId = started.body.jobId as string;
    await harness.finished(jobId);
    const status = await call(harness.url, "GET", `/api/jobs/${jobId}`);
    const iteration = status.body.job.trajectory.iterations[0];

    const response = await fetch(`${harness.url}/api/jobs/${jobId}/iterations/1/image`);
    const bytes = new Uint8Array(await response.arrayBuffer());

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="gems-${jobId}-1.png"`);
    expect(readProvenance(bytes)).toEqual({
      ok: true,
      contentType: "image/png",
      provenance: { jobId, iteration: "1", prompt: iteration.prompt, request: "a red cube left of a blue sphere", mllm: "sim", generator: "sim", surface: "web", sourceSha256: iteration.imageHash },
    });
    // The store's own copy, behind /images/<hash>, stays as the generator sent it.
    const stored = new Uint8Array(await (await fetch(`${harness.url}/images/${iteration.imageHash}.png`)).arrayBuffer());
    expect(readProvenance(stored)).toMatchObject({ ok: false, reason: "no-provenance" });
  });

  it("answers 404 with a message for an unknown job or an iteration without an image", async () => {
    const unknown = await fetch(`${harness.url}/api/jobs/nope/iterations/1/image`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("not-found");
    const started = await call(harness.url, "POST", "/api/jobs", { prompt: "a red cube", iterations: 1, name: "Ada" });
    await harness.finished(started.body.jobId as string);
    const missing = await fetch(`${harness.url}/api/jobs/${started.body.jobId as string}/iterations/7/image`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toBe(`Job ${started.body.jobId as string} has no image for iteration 7.`);
  });
});
