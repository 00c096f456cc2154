import { afterEach, describe, expect, it } from "vitest";
import { BackendError, CancelledError } from "../../core/errors.ts";
import { createGemsHttpGenerator, type GemsHttpGeneratorConfig } from "../../core/models/gems-http-generator.ts";
import {
  fastApiError,
  fastApiValidationError,
  pngReply,
  proxyGatewayTimeout,
  startFakeGemsGenerator,
  type FakeGemsGenerator,
  type FakeGenerateHandler,
} from "../fakes/gems-generator-server.ts";
import { JPEG_BYTES, TINY_PNG, WEBP_BYTES } from "../fakes/png-fixture.ts";
import { recordingSleep, rejectionOf } from "./rejection.ts";

let server: FakeGemsGenerator | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function generatorAgainst(handler?: FakeGenerateHandler, config: Partial<GemsHttpGeneratorConfig> = {}) {
  server = await startFakeGemsGenerator(handler);
  const { sleep, delays } = recordingSleep();
  const generator = createGemsHttpGenerator({
    url: server.url,
    timeoutMs: 200,
    maxRetries: 2,
    retry: { baseDelayMs: 1, maxDelayMs: 5, sleep },
    ...config,
  });
  return { generator, delays, fake: server };
}

describe("gems-http generator", () => {
  it("POSTs the prompt, seed and size in the query string and returns the PNG", async () => {
    const { generator, fake } = await generatorAgainst();
    const png = await generator.generate({ prompt: "a red cube & a \"blue\" ball", seed: 42, width: 512, height: 768 });
    expect(png).toEqual(TINY_PNG);
    const request = fake.requests[0];
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/generate");
    expect(Object.fromEntries(request?.query ?? [])).toEqual({
      prompt: "a red cube & a \"blue\" ball",
      seed: "42",
      width: "512",
      height: "768",
    });
  });

  it("leaves seed and size out of the query when the request has none", async () => {
    const { generator, fake } = await generatorAgainst();
    await generator.generate({ prompt: "a cat" });
    expect([...(fake.requests[0]?.query.keys() ?? [])]).toEqual(["prompt"]);
  });

  it("returns the PNG after one retry when a 500 is followed by a success", async () => {
    const { generator, fake } = await generatorAgainst((_call, index) =>
      index === 0 ? fastApiError(500, "CUDA out of memory") : pngReply(),
    );
    expect(await generator.generate({ prompt: "a cat" })).toEqual(TINY_PNG);
    expect(fake.requests).toHaveLength(2);
  });

  it("waits at least the Retry-After of a 429 before retrying", async () => {
    const { generator, delays } = await generatorAgainst((_call, index) =>
      index === 0 ? fastApiError(429, "busy", { "retry-after": "2" }) : pngReply(),
    );
    await generator.generate({ prompt: "a cat" });
    expect(delays[0]).toBeGreaterThanOrEqual(2_000);
  });

  it("retries a server slower than the timeout, then reports it as a BackendError naming the host", async () => {
    const { generator, fake } = await generatorAgainst(() => ({ delayMs: 2_000 }), { timeoutMs: 100, maxRetries: 1 });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toBe(
      `The image generator at ${new URL(fake.url).host} did not answer after 2 attempts: no answer within 100 ms. Try again later.`,
    );
    expect(fake.requests).toHaveLength(2);
  });

  it("reports bytes that are not an image as a specific BackendError without retrying", async () => {
    const { generator, fake } = await generatorAgainst(() => ({
      headers: { "content-type": "application/json" },
      body: '{"status":"ok"}',
    }));
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toBe(
      `The image generator at ${new URL(fake.url).host} returned something that is not a PNG, JPEG or WebP image (got application/json, 15 bytes).`,
    );
    expect(fake.requests).toHaveLength(1);
  });

  it("passes on FastAPI's detail for a 422 without retrying", async () => {
    const { generator, fake } = await generatorAgainst(() => fastApiError(422, "prompt must not be empty"));
    const error = await rejectionOf(generator.generate({ prompt: "" }));
    expect(error.message).toContain("rejected the request (422): prompt must not be empty");
    expect((error as BackendError).status).toBe(422);
    expect(fake.requests).toHaveLength(1);
  });

  it("rejects with CancelledError promptly, without retrying, when the caller aborts", async () => {
    const controller = new AbortController();
    // Abort once the request has arrived, so the test never depends on how fast it travels.
    const slowAndAbort = () => {
      controller.abort();
      return { delayMs: 5_000 };
    };
    const { generator, fake } = await generatorAgainst(slowAndAbort, { timeoutMs: 10_000 });
    const started = Date.now();
    expect(await rejectionOf(generator.generate({ prompt: "a cat", signal: controller.signal }))).toBeInstanceOf(
      CancelledError,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(fake.requests).toHaveLength(1);
  });

  it.each([
    ["JPEG", "image/jpeg", JPEG_BYTES],
    ["WebP", "image/webp", WEBP_BYTES],
    ["JPEG sent as octet-stream", "application/octet-stream", JPEG_BYTES],
  ])("accepts %s and returns the bytes as sent", async (_what, contentType, bytes) => {
    const { generator } = await generatorAgainst(() => ({ headers: { "content-type": contentType }, body: bytes }));
    expect(await generator.generate({ prompt: "a cat" })).toEqual(bytes);
  });

  it("names the missing field of FastAPI's 422 validation answer", async () => {
    const { generator } = await generatorAgainst(() => fastApiValidationError("prompt"));
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toMatch(/rejected the request \(422\): prompt: Field required\. Check the prompt/);
  });

  it("says the server took too long for a 504 with a FastAPI detail, after retrying", async () => {
    const { generator, fake } = await generatorAgainst(() => fastApiError(504, "Generation timed out after 300 s"));
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toBe(
      `The image generator at ${new URL(fake.url).host} did not answer after 3 attempts: took too long to draw the image (504): Generation timed out after 300 s. Try again later.`,
    );
  });

  it("reads the title of a proxy's HTML 504 page instead of quoting the markup", async () => {
    const { generator } = await generatorAgainst(() => proxyGatewayTimeout(), { maxRetries: 0 });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toContain("(504): 504 Gateway Time-out.");
    expect(error.message).not.toContain("<");
  });

  it("says a 503 means busy or loading, in one line", async () => {
    const { generator } = await generatorAgainst(() => fastApiError(503, "Model is loading"), { maxRetries: 0 });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toContain("busy or still loading its model (503): Model is loading");
    expect(error.message.split("\n")).toHaveLength(1);
  });

  it("refuses an answer larger than the size cap", async () => {
    const { generator } = await generatorAgainst(() => pngReply(new Uint8Array(10_000)), { maxImageBytes: 1000 });
    expect((await rejectionOf(generator.generate({ prompt: "a cat" }))).message).toMatch(/larger than/);
  });

  it("is named after the protocol and the host", async () => {
    const { generator, fake } = await generatorAgainst();
    expect(generator.name).toBe(`gems-http:${new URL(fake.url).host}`);
  });
});
