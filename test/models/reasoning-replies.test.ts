import { afterEach, describe, expect, it } from "vitest";
import { OutOfTokensError } from "../../core/errors.ts";
import { createOpenAiCompatibleMllm, type OpenAiCompatibleMllmConfig } from "../../core/models/openai-compatible-mllm.ts";
import type { MllmRequest } from "../../core/models/ports.ts";
import { familyCompletion, requestedLimit, SERVER_FAMILIES, type ServerFamily } from "../fakes/model-servers.ts";
import { startFakeOpenAi, type FakeOpenAi } from "../fakes/openai-server.ts";
import { rejectionOf } from "./rejection.ts";

const ASK: MllmRequest = { messages: [{ role: "user", content: "Is there a red cube?" }], maxTokens: 20 };
const THOUGHT = Array.from({ length: 300 }, (_, i) => `step${i}`).join(" ");

let server: FakeOpenAi | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server of `family` whose model thinks THOUGHT (300 tokens) and then answers `answer`. */
async function reasoner(family: ServerFamily, config: Partial<OpenAiCompatibleMllmConfig> = {}, answer = "Yes, the cube is red.") {
  server = await startFakeOpenAi({
    chat: (body) => familyCompletion({ family, answer, thought: THOUGHT, maxTokens: requestedLimit(body) }),
  });
  const mllm = createOpenAiCompatibleMllm({ baseUrl: server.url, model: "reasoner", timeoutMs: 2_000, maxRetries: 0, ...config });
  return { mllm, fake: server };
}

describe.each(SERVER_FAMILIES)("a reasoning model on %s", (family) => {
  it("answers within the default budget, with the thinking kept apart from the answer", async () => {
    const { mllm, fake } = await reasoner(family);
    const reply = await mllm.chat(ASK);
    expect(reply.content).toBe("Yes, the cube is red.");
    // OpenAI never returns the thinking itself, only its token count.
    expect(reply.reasoning).toBe(family === "openai" ? null : THOUGHT);
    expect(fake.requests).toHaveLength(1);
    expect(reply.usage?.outputTokens).toBe(305);
  });

  it("asks once more with four times the budget when the first answer is cut off at the limit", async () => {
    const { mllm, fake } = await reasoner(family, { thinkingTokens: 100 });
    const reply = await mllm.chat(ASK);
    expect(reply.content).toBe("Yes, the cube is red.");
    expect(fake.requests.map((r) => requestedLimit(r.body))).toEqual([120, 480]);
    // Both calls were paid for.
    expect(reply.usage?.outputTokens).toBe(120 + 305);
  });

  it("fails with 'ran out of tokens' when the larger budget is cut off too, instead of returning an empty answer", async () => {
    const { mllm, fake } = await reasoner(family, { thinkingTokens: 10 });
    const error = await rejectionOf(mllm.chat(ASK));
    expect(error).toBeInstanceOf(OutOfTokensError);
    expect(error.message).toMatch(/ran out of tokens/);
    expect(error.message).toContain("GEMS_MLLM_THINKING_TOKENS");
    expect(fake.requests).toHaveLength(2);
  });
});

describe("token budgets", () => {
  it("adds the thinking allowance to the role's answer budget", async () => {
    const { mllm, fake } = await reasoner("vllm", { thinkingTokens: 1000 });
    await mllm.chat({ ...ASK, maxTokens: 200 });
    expect(requestedLimit(fake.requests[0]?.body)).toBe(1200);
  });

  it("sends no token limit at all when told the server may decide", async () => {
    const { mllm, fake } = await reasoner("sglang", { tokenLimit: "none" });
    await mllm.chat(ASK);
    expect(fake.requests[0]?.body).not.toHaveProperty("max_tokens");
    expect(fake.requests[0]?.body).not.toHaveProperty("max_completion_tokens");
  });

  it("does not retry a reply cut off at the server's own ceiling when no limit was sent", async () => {
    server = await startFakeOpenAi({ chat: () => familyCompletion({ family: "vllm", answer: "Yes", thought: THOUGHT, maxTokens: 50 }) });
    const mllm = createOpenAiCompatibleMllm({ baseUrl: server.url, model: "m", tokenLimit: "none", maxRetries: 0 });
    const error = await rejectionOf(mllm.chat(ASK));
    expect(error).toBeInstanceOf(OutOfTokensError);
    expect(error.message).toContain("the server's own limit");
    expect(server.requests).toHaveLength(1);
  });
});

describe("usage", () => {
  it("reads cached input tokens and reasoning tokens from OpenAI's usage details", async () => {
    const { mllm } = await reasoner("openai");
    const reply = await mllm.chat(ASK);
    expect(reply.usage).toEqual({ inputTokens: 40, outputTokens: 305, cachedInputTokens: 20, reasoningTokens: 300 });
  });

  it("reports reasoning tokens as unknown when the server does not count them apart", async () => {
    const { mllm } = await reasoner("ollama");
    const reply = await mllm.chat(ASK);
    expect(reply.usage).toEqual({ inputTokens: 40, outputTokens: 305, cachedInputTokens: 0, reasoningTokens: null });
  });

  it("leaves usage out when the server sends none", async () => {
    server = await startFakeOpenAi({
      chat: () => ({ json: { id: "x", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "Yes" }, finish_reason: "stop" }] } }),
    });
    const mllm = createOpenAiCompatibleMllm({ baseUrl: server.url, model: "m" });
    expect((await mllm.chat(ASK)).usage).toBeUndefined();
  });
});
