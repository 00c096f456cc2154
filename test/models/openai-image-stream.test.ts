import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { createOpenAiImageGenerator } from "../../core/models/openai-image-generator.ts";
import type { ImageProgress } from "../../core/models/ports.ts";
import { imagesStreamReply } from "../fakes/openai-image-stream.ts";
import { imagesResponse, startFakeOpenAi, type FakeOpenAi } from "../fakes/openai-server.ts";
import { TINY_PNG, TINY_PNG_BASE64 } from "../fakes/png-fixture.ts";
import { rejectionOf } from "./rejection.ts";

let fake: FakeOpenAi | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const jpegB64 = async (shade: number): Promise<string> =>
  (await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: shade, g: 0, b: 0 } } }).jpeg().toBuffer()).toString("base64");

async function generatorFor(model: string, script: Parameters<typeof startFakeOpenAi>[0]) {
  fake = await startFakeOpenAi(script);
  return createOpenAiImageGenerator({ baseUrl: fake.url, apiKey: "sk-test-123456", model, timeoutMs: 5_000, maxRetries: 0 });
}

describe("OpenAI streamed partial images", () => {
  it("asks for a stream with partial images when someone listens, and turns partials into previews", async () => {
    const partials = [await jpegB64(40), await jpegB64(120)];
    const generator = await generatorFor("gpt-image-1", { images: (body) => (body.stream ? imagesStreamReply(partials, TINY_PNG_BASE64) : imagesResponse([TINY_PNG_BASE64])) });
    const reports: ImageProgress[] = [];
    const image = await generator.generate({ prompt: "a cat", onProgress: (p) => reports.push(p) });
    expect(image).toEqual(TINY_PNG);
    expect(fake!.requests[0]?.body).toMatchObject({ stream: true, partial_images: 2, model: "gpt-image-1" });
    expect(reports.map((r) => r.percent)).toEqual([33, 67]);
    expect(reports.map((r) => Buffer.from(r.preview!).toString("base64"))).toEqual(partials);
  });

  it("does not stream when nobody listens", async () => {
    const generator = await generatorFor("gpt-image-1", { images: () => imagesResponse([TINY_PNG_BASE64]) });
    await generator.generate({ prompt: "a cat" });
    expect(fake!.requests[0]?.body.stream).toBeUndefined();
  });

  it("does not ask DALL·E to stream, which it cannot", async () => {
    const generator = await generatorFor("dall-e-3", { images: () => imagesResponse([TINY_PNG_BASE64]) });
    const reports: ImageProgress[] = [];
    await generator.generate({ prompt: "a cat", onProgress: (p) => reports.push(p) });
    expect(fake!.requests[0]?.body.stream).toBeUndefined();
    expect(reports).toEqual([]);
  });

  it("fails in one line when the stream ends without the completed image", async () => {
    const generator = await generatorFor("gpt-image-1", { images: () => imagesStreamReply([TINY_PNG_BASE64], null) });
    const error = await rejectionOf(generator.generate({ prompt: "a cat", onProgress: () => {} }));
    expect(error.message).toMatch(/^The image generator at 127\.0\.0\.1:\d+ answered without an image \(neither data\[0\]\.b64_json nor data\[0\]\.url\)\.$/);
  });
});
