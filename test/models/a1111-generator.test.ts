import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../../core/errors.ts";
import { readImageInfo } from "../../core/images/sharp-images.ts";
import { createA1111Generator, type A1111GeneratorConfig } from "../../core/models/a1111-generator.ts";
import type { ImageProgress } from "../../core/models/ports.ts";
import { a1111Error, startFakeA1111, type FakeA1111, type FakeA1111Options } from "../fakes/a1111-server.ts";
import { recordingSleep, rejectionOf } from "./rejection.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";

let fake: FakeA1111 | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function against(options: FakeA1111Options = {}, config: Partial<A1111GeneratorConfig> = {}) {
  fake = await startFakeA1111(options);
  const { sleep, delays } = recordingSleep();
  const generator = createA1111Generator({
    url: fake.url,
    timeoutMs: 5_000,
    maxRetries: 2,
    progressIntervalMs: 5,
    retry: { baseDelayMs: 1, maxDelayMs: 5, sleep },
    ...config,
  });
  return { generator, delays, fake };
}

describe("AUTOMATIC1111 generator", () => {
  it("sends prompt, negative prompt, steps, size and seed to txt2img and returns the image", async () => {
    const { generator, fake } = await against({}, { steps: 3, negativePrompt: "blurry, text" });
    const image = await generator.generate({ prompt: "a red cube", seed: 42, width: 512, height: 768 });
    expect(await readImageInfo(image)).toMatchObject({ contentType: "image/png", width: 16 });
    expect(fake.txt2img[0]).toMatchObject({
      prompt: "a red cube",
      negative_prompt: "blurry, text",
      steps: 3,
      width: 512,
      height: 768,
      seed: 42,
    });
  });

  it("asks for a random seed (-1) when the request has none, and uses the configured size", async () => {
    const { generator, fake } = await against({}, { size: { width: 832, height: 1216 } });
    await generator.generate({ prompt: "a cat" });
    expect(fake.txt2img[0]).toMatchObject({ seed: -1, width: 832, height: 1216 });
    expect(fake.txt2img[0].steps).toBeUndefined();
  });

  it("reports progress and the server's JPEG preview while the image is drawn", async () => {
    const { generator, fake } = await against({ stepMs: 25, defaultSteps: 6 });
    const reports: ImageProgress[] = [];
    await generator.generate({ prompt: "a cat", onProgress: (progress) => reports.push(progress) });
    expect(reports.length).toBeGreaterThan(1);
    const percents = reports.map((report) => report.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.every((p) => p >= 0 && p <= 100)).toBe(true);
    const withPreview = reports.filter((report) => report.preview !== null);
    expect(withPreview.length).toBeGreaterThan(0);
    expect((await readImageInfo(withPreview[0]!.preview!)).contentType).toBe("image/jpeg");
    expect(fake.requests.some((r) => r.path === "/sdapi/v1/progress" && r.query.get("skip_current_image") === "false")).toBe(true);
  });

  it("never polls progress when nobody listens", async () => {
    const { generator, fake } = await against({ stepMs: 10 });
    await generator.generate({ prompt: "a cat" });
    expect(fake.requests.filter((r) => r.path === "/sdapi/v1/progress")).toHaveLength(0);
  });

  it("retries a 500 the way A1111 reports CUDA running out of memory, then succeeds", async () => {
    const { generator, delays, fake } = await against({
      fail: (_body, index) => (index === 0 ? a1111Error(500, "OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB") : undefined),
    });
    await generator.generate({ prompt: "a cat" });
    expect(fake.txt2img).toHaveLength(2);
    expect(delays).toHaveLength(1);
  });

  it("gives one line with the server's words when every attempt fails", async () => {
    const { generator } = await against({
      fail: () => a1111Error(500, "OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"),
    });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toMatch(/^The AUTOMATIC1111 server at 127\.0\.0\.1:\d+ did not answer after 3 attempts: server error 500: OutOfMemoryError: CUDA out of memory/);
    expect(error.message).not.toContain("\n");
  });

  it("words a 503 as a server still loading its model, as for the GEMS server", async () => {
    const { generator, fake } = await against({ fail: () => ({ status: 503, json: { detail: "Model is loading" } }) });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toMatch(/did not answer after 3 attempts: busy or still loading its model \(503\)/);
    expect(fake.txt2img).toHaveLength(3);
  });

  it("does not retry a 404 for an unknown model, and quotes it", async () => {
    const { generator, fake } = await against({ fail: () => a1111Error(404, "HTTPException", "404: Model not found", "Model not found") });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toMatch(/no such endpoint \(404\): HTTPException: Model not found/);
    expect(fake.txt2img).toHaveLength(1);
  });

  it("reports FastAPI validation errors field by field", async () => {
    const { generator } = await against({
      fail: () => ({ status: 422, json: { detail: [{ loc: ["body", "width"], msg: "value is not a valid integer", type: "type_error.integer" }] } }),
    });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toContain("rejected the request (422): body.width: value is not a valid integer");
  });

  it("refuses an answer whose image is not an image", async () => {
    const { generator } = await against({ fail: () => ({ json: { images: [Buffer.from("<html>").toString("base64")], parameters: {}, info: "{}" } }) });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toMatch(/sent an image that is not a PNG, JPEG or WebP image/);
  });

  it("edits through img2img: the image as init_images base64, a low denoising strength, the instruction first", async () => {
    const { generator, fake } = await against();
    const source = await createSimGenerator({ width: 64, height: 64 }).generate({ prompt: "a red cube", seed: 1 });
    await generator.generate({ prompt: "a red cube, a blue sphere", seed: 3, edit: { image: source, instruction: "add a blue sphere" } });
    expect(fake.txt2img).toHaveLength(0);
    expect(fake.img2img[0]).toMatchObject({ prompt: "add a blue sphere, a red cube, a blue sphere", denoising_strength: 0.5, seed: 3 });
    expect(Buffer.from(fake.img2img[0].init_images[0], "base64")).toEqual(Buffer.from(source));
  });

  it("draws from a reference through img2img at A1111's default strength", async () => {
    const { generator, fake } = await against({}, { referenceStrength: 0.6 });
    const reference = await createSimGenerator({ width: 64, height: 64 }).generate({ prompt: "a cat", seed: 1 });
    await generator.generate({ prompt: "a cat on a sofa", images: [reference] });
    expect(fake.img2img[0]).toMatchObject({ prompt: "a cat on a sofa", denoising_strength: 0.6 });
    expect(fake.img2img[0].init_images).toHaveLength(1);
  });

  it("reports the server's answer to an image it cannot decode, as A1111 words it", async () => {
    const { generator } = await against({}, { maxRetries: 0 });
    const error = await rejectionOf(generator.generate({ prompt: "x", images: [new TextEncoder().encode("not an image")] }));
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toContain("Invalid encoded image");
  });
});
