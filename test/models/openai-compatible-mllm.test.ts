import { afterEach, describe, expect, it } from "vitest";
import { BackendError, CancelledError, InputError } from "../../core/errors.ts";
import { createOpenAiCompatibleMllm, type OpenAiCompatibleMllmConfig } from "../../core/models/openai-compatible-mllm.ts";
import type { MllmRequest } from "../../core/models/ports.ts";
import { startLoopbackServer } from "../fakes/loopback-server.ts";
import {
  chatCompletion,
  openAiError,
  rateLimited,
  startFakeOpenAi,
  type FakeOpenAi,
  type FakeOpenAiScript,
} from "../fakes/openai-server.ts";
import { TINY_PNG, TINY_PNG_BASE64 } from "../fakes/png-fixture.ts";
import { recordingSleep, rejectionOf } from "./rejection.ts";

const API_KEY = "sk-test-0123456789abcdef";
const ASK: MllmRequest = { messages: [{ role: "user", content: "Is there a red cube?" }] };

let server: FakeOpenAi | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function mllmAgainst(script: FakeOpenAiScript, config: Partial<OpenAiCompatibleMllmConfig> = {}) {
  server = await startFakeOpenAi(script);
  const { sleep, delays } = recordingSleep();
  const mllm = createOpenAiCompatibleMllm({
    baseUrl: server.url,
    model: "qwen3-vl",
    apiKey: API_KEY,
    timeoutMs: 200,
    maxRetries: 2,
    retry: { baseDelayMs: 1, maxDelayMs: 5, sleep },
    ...config,
  });
  return { mllm, delays, fake: server };
}

describe("openai-compatible MLLM: what is sent", () => {
  it("sends text and image parts as OpenAI content parts with the image as a PNG data URI", async () => {
    const { mllm, fake } = await mllmAgainst({});
    await mllm.chat({
      messages: [
        { role: "system", content: "You are a verifier." },
        { role: "user", content: [{ type: "text", text: "Is there a red cube?" }, { type: "image", png: TINY_PNG }] },
      ],
    });
    expect(fake.requests[0]?.body.messages).toEqual([
      { role: "system", content: "You are a verifier." },
      {
        role: "user",
        content: [
          { type: "text", text: "Is there a red cube?" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${TINY_PNG_BASE64}` } },
        ],
      },
    ]);
  });

  it("sends the model name, the key as a bearer token, max_tokens and temperature", async () => {
    const { mllm, fake } = await mllmAgainst({}, { thinkingTokens: 0 });
    await mllm.chat({ ...ASK, maxTokens: 64, temperature: 0.2 });
    const request = fake.requests[0];
    expect(request?.path).toBe("/v1/chat/completions");
    expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request?.body).toMatchObject({ model: "qwen3-vl", max_tokens: 64, temperature: 0.2 });
  });

  it("joins the text parts of a system message into one string", async () => {
    const { mllm, fake } = await mllmAgainst({});
    const parts = [{ type: "text" as const, text: "Rule one." }, { type: "text" as const, text: "Rule two." }];
    await mllm.chat({ messages: [{ role: "system", content: parts }, ASK.messages[0]!] });
    expect(fake.requests[0]?.body.messages[0]).toEqual({ role: "system", content: "Rule one.\n\nRule two." });
  });

  it("refuses an image in an assistant message without calling the server", async () => {
    const { mllm, fake } = await mllmAgainst({});
    const request: MllmRequest = { messages: [{ role: "assistant", content: [{ type: "image", png: TINY_PNG }] }] };
    expect(await rejectionOf(mllm.chat(request))).toBeInstanceOf(InputError);
    expect(fake.requests).toHaveLength(0);
  });

  it("is named after the adapter and the model", async () => {
    const { mllm } = await mllmAgainst({});
    expect(mllm.name).toBe("openai-compatible:qwen3-vl");
  });
});

describe("openai-compatible MLLM: what is read", () => {
  it("returns reasoning_content as the reasoning", async () => {
    const { mllm } = await mllmAgainst({ chat: () => chatCompletion("yes", { reasoning_content: "I see a cube." }) });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "yes", reasoning: "I see a cube." });
  });

  it("returns a reasoning field as the reasoning when reasoning_content is absent", async () => {
    const { mllm } = await mllmAgainst({ chat: () => chatCompletion("yes", { reasoning: "Red, cubic." }) });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "yes", reasoning: "Red, cubic." });
  });

  it("returns null reasoning when the server sends none", async () => {
    const { mllm } = await mllmAgainst({ chat: () => chatCompletion("yes") });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "yes", reasoning: null });
  });

  it("splits a leading <think> block off the content when the server has no reasoning parser", async () => {
    const { mllm } = await mllmAgainst({ chat: () => chatCompletion("<think>\nLooks red.\n</think>\n\nyes") });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "yes", reasoning: "Looks red." });
  });

  it("takes what precedes a lone </think> as the reasoning when the template opened the block", async () => {
    const { mllm } = await mllmAgainst({ chat: () => chatCompletion("The cube looks red.\n</think>\n\nYes") });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "Yes", reasoning: "The cube looks red." });
  });

  it("returns no answer, only the thought, for an unclosed <think> block", async () => {
    const { mllm } = await mllmAgainst({ chat: () => chatCompletion("<think>\nStill looking at the") });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "", reasoning: "Still looking at the" });
  });

  it("returns empty content when the server sends null content", async () => {
    const { mllm } = await mllmAgainst({ chat: () => chatCompletion(null) });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "", reasoning: null });
  });

  it("returns empty content when the server sends no choices", async () => {
    const { mllm } = await mllmAgainst({
      chat: () => ({ json: { id: "x", object: "chat.completion", created: 0, model: "m", choices: [] } }),
    });
    expect(await mllm.chat(ASK)).toMatchObject({ content: "", reasoning: null });
  });
});

describe("openai-compatible MLLM: failures", () => {
  it("returns the answer after one retry when a 500 is followed by a success", async () => {
    const { mllm, fake } = await mllmAgainst({
      chat: (_body, index) => (index === 0 ? openAiError(500, "The server had an error") : chatCompletion("yes")),
    });
    expect((await mllm.chat(ASK)).content).toBe("yes");
    expect(fake.requests).toHaveLength(2);
  });

  it("waits at least the Retry-After of a 429 before retrying", async () => {
    const { mllm, fake, delays } = await mllmAgainst({
      chat: (_body, index) => (index === 0 ? rateLimited(3) : chatCompletion("yes")),
    });
    expect((await mllm.chat(ASK)).content).toBe("yes");
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(3_000);
    expect(fake.requests).toHaveLength(2);
  });

  it("fails a 401 at once with a BackendError that never shows the key", async () => {
    const { mllm, fake } = await mllmAgainst({
      chat: () => openAiError(401, `Incorrect API key provided: ${API_KEY}.`, { code: "invalid_api_key" }),
    });
    const error = await rejectionOf(mllm.chat(ASK));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toBe(`The MLLM at ${new URL(fake.url).host} rejected the API key (401). Check GEMS_MLLM_API_KEY (or OPENAI_API_KEY).`);
    expect(error.message).not.toContain(API_KEY);
    expect(fake.requests).toHaveLength(1);
  });

  it("fails a 400 at once and passes on the server's message", async () => {
    const { mllm, fake } = await mllmAgainst({
      chat: () => openAiError(400, "Invalid image: the image is too large.", { param: "messages" }),
    });
    const error = await rejectionOf(mllm.chat(ASK));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toContain("rejected the request (400): Invalid image: the image is too large.");
    expect((error as BackendError).status).toBe(400);
    expect(fake.requests).toHaveLength(1);
  });

  it("passes on the message of a vLLM-style error body that lacks OpenAI's error wrapper", async () => {
    const { mllm } = await mllmAgainst({
      chat: () => ({ status: 400, json: { object: "error", message: "Model qwen3-vl does not support images.", type: "BadRequestError", code: 400 } }),
    });
    expect((await rejectionOf(mllm.chat(ASK))).message).toContain("Model qwen3-vl does not support images.");
  });

  it("explains a 404 as a wrong base URL or model name", async () => {
    const { mllm } = await mllmAgainst({ chat: () => openAiError(404, "The model `qwen3-vl` does not exist.", { code: "model_not_found" }) });
    expect((await rejectionOf(mllm.chat(ASK))).message).toMatch(/\(404\).*Check the base URL/);
  });

  it("does not retry a 429 that means the quota is used up", async () => {
    const { mllm, fake } = await mllmAgainst({
      chat: () => openAiError(429, "You exceeded your current quota.", { type: "insufficient_quota", code: "insufficient_quota" }),
    });
    expect((await rejectionOf(mllm.chat(ASK))).message).toContain("out of quota");
    expect(fake.requests).toHaveLength(1);
  });

  it("reports a persistent 500 as a BackendError naming the host after every attempt", async () => {
    const { mllm, fake } = await mllmAgainst({ chat: () => openAiError(500, "The server had an error") });
    const error = await rejectionOf(mllm.chat(ASK));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toBe(
      `The MLLM at ${new URL(fake.url).host} did not answer after 3 attempts: server error 500: The server had an error. Try again later.`,
    );
    expect(fake.requests).toHaveLength(3);
  });

  it("retries a server slower than the timeout, then reports it as a BackendError", async () => {
    const { mllm, fake } = await mllmAgainst({ chat: () => ({ delayMs: 2_000 }) }, { timeoutMs: 100, maxRetries: 1 });
    const error = await rejectionOf(mllm.chat(ASK));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toContain("did not answer after 2 attempts: no answer within 100 ms");
    expect(fake.requests).toHaveLength(2);
  });

  it("retries a refused connection, then reports it as a BackendError", async () => {
    const closed = await startLoopbackServer(() => ({}));
    await closed.close();
    const mllm = createOpenAiCompatibleMllm({
      baseUrl: `${closed.origin}/v1`,
      model: "m",
      maxRetries: 1,
      retry: recordingSleep(),
    });
    expect((await rejectionOf(mllm.chat(ASK))).message).toMatch(/after 2 attempts: could not connect \(ECONNREFUSED\)/);
  });

  it("rejects with CancelledError promptly, without retrying, when the caller aborts", async () => {
    const controller = new AbortController();
    // Abort once the request has arrived, so the test never depends on how fast it travels.
    const slowAndAbort = () => {
      controller.abort();
      return { delayMs: 5_000 };
    };
    const { mllm, fake } = await mllmAgainst({ chat: slowAndAbort }, { timeoutMs: 10_000 });
    const started = Date.now();
    expect(await rejectionOf(mllm.chat({ ...ASK, signal: controller.signal }))).toBeInstanceOf(CancelledError);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(fake.requests).toHaveLength(1);
  });

  it("sends nothing when the signal is already aborted", async () => {
    const { mllm, fake } = await mllmAgainst({});
    expect(await rejectionOf(mllm.chat({ ...ASK, signal: AbortSignal.abort() }))).toBeInstanceOf(CancelledError);
    expect(fake.requests).toHaveLength(0);
  });
});
