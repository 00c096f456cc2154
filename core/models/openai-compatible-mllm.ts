import { callBackend, hostOf, type RetryTuning } from "./backend-call.ts";
import { readReply, toOpenAiMessages } from "./openai-chat-messages.ts";
import { createOpenAiClient, OPENAI_BASE_URL } from "./openai-client.ts";
import { classifyOpenAiError } from "./openai-errors.ts";
import type { Mllm, MllmReply, MllmRequest } from "./ports.ts";

export interface OpenAiCompatibleMllmConfig {
  /** Ends in /v1 for most servers, e.g. "http://localhost:30000/v1"; default OpenAI's. */
  baseUrl?: string;
  model: string;
  apiKey?: string;
  /** Per attempt; reasoning models can think for minutes. */
  timeoutMs?: number;
  /** Retries after the first attempt. */
  maxRetries?: number;
  fetch?: typeof fetch;
  retry?: RetryTuning;
}

const DEFAULT_TIMEOUT_MS = 180_000;
const DEFAULT_MAX_RETRIES = 3;

/** An Mllm over any OpenAI-compatible chat completions endpoint (OpenAI, sglang, vLLM, Ollama, OpenRouter). */
export function createOpenAiCompatibleMllm(config: OpenAiCompatibleMllmConfig): Mllm {
  const baseUrl = config.baseUrl ?? OPENAI_BASE_URL;
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = createOpenAiClient({ baseUrl, apiKey: config.apiKey, timeoutMs, fetch: config.fetch });
  const label = `The MLLM at ${hostOf(baseUrl)}`;
  // OpenAI's reasoning models reject `max_tokens`; most other servers only know it.
  const tokenLimitField = hostOf(baseUrl) === "api.openai.com" ? "max_completion_tokens" : "max_tokens";

  return {
    name: `openai-compatible:${config.model}`,
    async chat(request: MllmRequest): Promise<MllmReply> {
      const body = {
        model: config.model,
        messages: toOpenAiMessages(request.messages),
        ...(request.maxTokens === undefined ? {} : { [tokenLimitField]: request.maxTokens }),
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      };
      const completion = await callBackend(
        {
          backend: "mllm",
          label,
          timeoutMs,
          maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
          retry: config.retry,
          signal: request.signal,
          secret: config.apiKey,
          classify: (error) => classifyOpenAiError(error, { label, backend: "mllm", apiKey: config.apiKey }),
        },
        (signal) => client.chat.completions.create(body, { signal }),
      );
      // Some servers answer an empty `choices` on a filtered or failed turn; the agent handles "".
      return readReply(completion.choices?.[0]?.message);
    },
  };
}
