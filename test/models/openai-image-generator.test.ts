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
import { TINY_PNG, TINY_PNG_BASE64 } from "../fakes/png-fixture.ts";
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

  it("reports an answer without b64_json as a BackendError", async () => {
    const { generator } = await generatorAgainst({ images: () => ({ json: { created: 0, data: [{ url: "https://x/y.png" }] } }) });
    expect((await rejectionOf(generator.generate({ prompt: "a red cube" }))).message).toContain("without an image");
  });

  it("reports base64 that is not a PNG as a BackendError", async () => {
    const jpegStart = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]).toString("base64");
    const { generator } = await generatorAgainst({ images: () => imagesResponse([jpegStart]) });
    expect((await rejectionOf(generator.generate({ prompt: "a red cube" }))).message).toBe(
      "The image generator returned bytes that are not a PNG image (got base64 data, 6 bytes).",
    );
  });
});
