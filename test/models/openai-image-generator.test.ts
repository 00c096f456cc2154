import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../../core/errors.ts";
import { createOpenAiImageGenerator, type OpenAiImageGeneratorConfig } from "../../core/models/openai-image-generator.ts";
import {
  imagesResponse,
  openAiError,
  startFakeOpenAi,
  type FakeOpenAi,
  type FakeOpenAiScript,
} from "../fakes/openai-server.ts";
import { JPEG_BYTES, TINY_PNG, TINY_PNG_BASE64, WEBP_BYTES } from "../fakes/png-fixture.ts";
import { startLoopbackServer, type LoopbackServer } from "../fakes/loopback-server.ts";
import { recordingSleep, rejectionOf } from "./rejection.ts";

let server: FakeOpenAi | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function generatorAgainst(script: FakeOpenAiScript, config: Partial<OpenAiImageGeneratorConfig> = {}) {
  server = await startFakeOpenAi(script);
  const generator = createOpenAiImageGenerator({
    baseUrl: server.url,
    apiKey: "sk-images-test",
    timeoutMs: 200,
    maxRetries: 2,
    retry: { baseDelayMs: 1, maxDelayMs: 5, sleep: recordingSleep().sleep },
    ...config,
  });
  return { generator, fake: server };
}

describe("openai image generator", () => {
  it("decodes data[0].b64_json into the PNG bytes", async () => {
    const { generator } = await generatorAgainst({});
    expect(await generator.generate({ prompt: "a red cube" })).toEqual(TINY_PNG);
  });

  it("asks gpt-image-1 for one PNG without response_format, which gpt-image models reject", async () => {
    const { generator, fake } = await generatorAgainst({});
    await generator.generate({ prompt: "a red cube", seed: 7 });
    const request = fake.requests[0];
    expect(request?.path).toBe("/v1/images/generations");
    expect(request?.body).toEqual({ model: "gpt-image-1", prompt: "a red cube", n: 1, output_format: "png" });
  });

  it("asks dall-e models for b64_json", async () => {
    const { generator, fake } = await generatorAgainst({}, { model: "dall-e-3" });
    await generator.generate({ prompt: "a red cube" });
    expect(fake.requests[0]?.body).toMatchObject({ model: "dall-e-3", response_format: "b64_json" });
  });

  it("sends width and height as the size, overriding the configured size", async () => {
    const { generator, fake } = await generatorAgainst({}, { size: "1024x1024" });
    await generator.generate({ prompt: "a red cube", width: 1536, height: 1024 });
    expect(fake.requests[0]?.body.size).toBe("1536x1024");
  });

  it("passes on the server's message for a content-policy 400 without retrying", async () => {
    const message = "Your request was rejected as a result of our safety system.";
    const { generator, fake } = await generatorAgainst({
      images: () => openAiError(400, message, { code: "moderation_blocked" }),
    });
    const error = await rejectionOf(generator.generate({ prompt: "something blocked" }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toBe(`The image generator at ${new URL(fake.url).host} rejected the request (400): ${message}`);
    expect(fake.requests).toHaveLength(1);
  });

  it("returns the PNG after one retry when a 503 is followed by a success", async () => {
    const { generator, fake } = await generatorAgainst({
      images: (_body, index) => (index === 0 ? openAiError(503, "Service unavailable") : imagesResponse([TINY_PNG_BASE64])),
    });
    expect(await generator.generate({ prompt: "a red cube" })).toEqual(TINY_PNG);
    expect(fake.requests).toHaveLength(2);
  });

  it("reports an answer with neither b64_json nor url as a BackendError", async () => {
    const { generator } = await generatorAgainst({ images: () => ({ json: { created: 0, data: [{ revised_prompt: "x" }] } }) });
    expect((await rejectionOf(generator.generate({ prompt: "a red cube" }))).message).toContain("without an image");
  });

  it("reports base64 that is no image as a BackendError", async () => {
    const { generator } = await generatorAgainst({ images: () => imagesResponse([Buffer.from("<html>oops</html>").toString("base64")]) });
    expect((await rejectionOf(generator.generate({ prompt: "a red cube" }))).message).toMatch(
      /returned something that is not a PNG, JPEG or WebP image \(got base64 data, 17 bytes\)/,
    );
  });

  it.each([
    ["JPEG", JPEG_BYTES],
    ["WebP", WEBP_BYTES],
  ])("accepts %s bytes as sent", async (_format, bytes) => {
    const { generator } = await generatorAgainst({ images: () => imagesResponse([Buffer.from(bytes).toString("base64")]) });
    expect(await generator.generate({ prompt: "a red cube" })).toEqual(bytes);
  });
});

describe("openai image generator: answers with a URL", () => {
  let files: LoopbackServer | undefined;
  afterEach(async () => {
    await files?.close();
    files = undefined;
  });

  it("downloads data[0].url, without sending the API key to the file host", async () => {
    files = await startLoopbackServer(() => ({ headers: { "content-type": "image/jpeg" }, body: JPEG_BYTES }));
    const { generator } = await generatorAgainst({ images: () => ({ json: { created: 0, data: [{ url: `${files!.origin}/out/1.jpg?sig=abc` }] } }) });
    expect(await generator.generate({ prompt: "a red cube" })).toEqual(JPEG_BYTES);
    expect(files.requests[0]?.path).toBe("/out/1.jpg");
    expect(files.requests[0]?.headers.authorization).toBeUndefined();
  });

  it("decodes a data: URL in data[0].url without any download", async () => {
    const { generator } = await generatorAgainst({
      images: () => ({ json: { created: 0, data: [{ url: `data:image/webp;base64,${Buffer.from(WEBP_BYTES).toString("base64")}` }] } }),
    });
    expect(await generator.generate({ prompt: "a red cube" })).toEqual(WEBP_BYTES);
  });

  it("retries a download that fails with a 503, without generating the image again", async () => {
    files = await startLoopbackServer(() =>
      files!.requests.length === 1 ? { status: 503, body: "Slow Down" } : { headers: { "content-type": "image/png" }, body: TINY_PNG },
    );
    const { generator, fake } = await generatorAgainst({ images: () => ({ json: { created: 0, data: [{ url: `${files!.origin}/a.png` }] } }) });
    expect(await generator.generate({ prompt: "a red cube" })).toEqual(TINY_PNG);
    expect(files.requests).toHaveLength(2);
    expect(fake.requests).toHaveLength(1);
  });

  it("gives up on a download slower than the timeout after the same number of attempts", async () => {
    files = await startLoopbackServer(() => ({ delayMs: 1_000, body: TINY_PNG }));
    const { generator } = await generatorAgainst({ images: () => ({ json: { created: 0, data: [{ url: `${files!.origin}/a.png` }] } }) });
    const error = await rejectionOf(generator.generate({ prompt: "a red cube" }));
    expect(error.message).toMatch(/did not answer after 3 attempts: no answer within 200 ms/);
    expect(files.requests).toHaveLength(3);
  });

  it("refuses a download larger than the size cap", async () => {
    files = await startLoopbackServer(() => ({ headers: { "content-type": "image/png" }, body: new Uint8Array(4096).fill(1) }));
    const { generator } = await generatorAgainst(
      { images: () => ({ json: { created: 0, data: [{ url: `${files!.origin}/big.png` }] } }) },
      { maxImageBytes: 1024 },
    );
    expect((await rejectionOf(generator.generate({ prompt: "a red cube" }))).message).toMatch(/larger than/);
  });
});
