import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { TINY_PNG } from "../fakes/png-fixture.ts";
import { recordingGenerator } from "../support/recording-generator.ts";
import { call, startStudio, type StudioHarness } from "./studio-harness.ts";

let studio: StudioHarness;
const { generator: recording, requests } = recordingGenerator(createSimGenerator({ width: 128, height: 128, partialImages: 0 }));

beforeAll(async () => {
  studio = await startStudio({ generator: recording });
});
afterAll(async () => {
  await studio?.close();
});

async function upload(bytes: Uint8Array, type = "image/png") {
  const response = await fetch(`${studio.url}/api/images`, { method: "POST", headers: { "content-type": type }, body: bytes });
  return { status: response.status, body: (await response.json()) as any };
}

describe("reference images in the studio", () => {
  it("an uploaded image starts a job as its reference: the generator gets it and the event stream names it", async () => {
    const reference = await createSimGenerator({ width: 128, height: 128 }).generate({ prompt: "a purple heart left of an orange car", seed: 1 });
    const uploaded = await upload(reference);
    expect(uploaded.status).toBe(201);
    const started = await call(studio.url, "POST", "/api/jobs", { prompt: "a red cube", iterations: 2, name: "Ada", images: [uploaded.body.hash], refine: "edit" });
    expect(started.status).toBe(201);
    const jobId = started.body.jobId as string;
    await studio.finished(jobId);
    expect(requests.find((r) => r.images !== undefined)?.images).toEqual([reference]);
    const shown = await studio.waitForEvent((e) => e.jobId === jobId && e.type === "references");
    expect(shown).toMatchObject({ images: [{ hash: uploaded.body.hash }], isUsedByGenerator: true });
    const status = await call(studio.url, "GET", `/api/jobs/${jobId}`);
    expect(status.body.job.trajectory.modes.refine).toBe("edit");
    // The reference is served like any stored image.
    expect((await fetch(`${studio.url}/images/${uploaded.body.hash}.png`)).status).toBe(200);
  });

  it("feedback may carry uploaded images", async () => {
    const started = await call(studio.url, "POST", "/api/jobs", { prompt: "a red cube", iterations: 1, name: "Ada" });
    await studio.finished(started.body.jobId);
    const uploaded = await upload(TINY_PNG);
    const answer = await call(studio.url, "POST", `/api/jobs/${started.body.jobId}/feedback`, { text: "like this", name: "Ada", images: [uploaded.body.hash] });
    expect(answer.status).toBe(200);
    const added = await studio.waitForEvent((e) => e.jobId === started.body.jobId && e.type === "feedback.added");
    expect(added.type === "feedback.added" && added.images).toEqual([{ hash: uploaded.body.hash }]);
  });

  it("refuses a non-image, a 30 MB image, twenty images and an unknown hash, each with its own answer, and queues nothing", async () => {
    const before = studio.jobs.list().length;
    // As the page sends every file: plain bytes, the type told from them.
    const text = await upload(new TextEncoder().encode("not an image"), "application/octet-stream");
    expect(text).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining("is not a PNG, JPEG or WebP image") } } });
    const huge = await upload(new Uint8Array(30 * 1024 * 1024));
    expect(huge).toMatchObject({ status: 413, body: { error: { message: expect.stringContaining("is 30 MB; reference images may be at most 20 MB") } } });
    const one = await upload(TINY_PNG);
    const twenty = await call(studio.url, "POST", "/api/jobs", { prompt: "a red cube", name: "Ada", images: Array.from({ length: 20 }, () => one.body.hash) });
    expect(twenty).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining("20 images were sent; the limit is 4") } } });
    const unknown = await call(studio.url, "POST", "/api/jobs", { prompt: "a red cube", name: "Ada", images: ["f".repeat(64)] });
    expect(unknown).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining("is not an uploaded image") } } });
    const mode = await call(studio.url, "POST", "/api/jobs", { prompt: "a red cube", name: "Ada", refine: "inpaint" });
    expect(mode.status).toBe(400);
    expect(studio.jobs.list()).toHaveLength(before);
  });
});
