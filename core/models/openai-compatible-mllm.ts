import { OutOfTokensError } from "../errors.ts";
import { rememberSecrets } from "../secrets.ts";
import { callBackend, hostOf, type RetryTuning } from "./backend-call.ts";
import { addUsage, readReply, readUsage, toOpenAiMessages } from "./openai-chat-messages.ts";
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
  /**
   * Tokens added to every role's answer budget so a reasoning model can think before it
   * answers; default 4096. A model that answers at once stops early and spends none of it.
   */
  thinkingTokens?: number;
  /**
   * "per-role" (default) sends each role's budget plus `thinkingTokens` as the token limit;
   * "none" sends no limit, so the server's own ceiling (context length, num_predict) applies.
   */
  tokenLimit?: "per-role" | "none";
  fetch?: typeof fetch;
  retry?: RetryTuning;
}

const DEFAULT_TIMEOUT_MS = 180_000;
const DEFAULT_MAX_RETRIES = 3;
export const DEFAULT_THINKING_TOKENS = 4096;
/** A reply cut off at the limit is asked again once with this many times the budget. */
const LENGTH_RETRY_FACTOR = 4;

/** An Mllm over any OpenAI-compatible chat completions endpoint (OpenAI, sglang, vLLM, Ollama, OpenRouter). */
export function createOpenAiCompatibleMllm(config: OpenAiCompatibleMllmConfig): Mllm {
  const baseUrl = config.baseUrl ?? OPENAI_BASE_URL;
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  rememberSecrets(config.apiKey);
  const client = createOpenAiClient({ baseUrl, apiKey: config.apiKey, timeoutMs, fetch: config.fetch });
  const label = `The MLLM at ${hostOf(baseUrl)}`;
  // OpenAI's reasoning models reject `max_tokens`; most other servers only know it.
  const tokenLimitField = hostOf(baseUrl) === "api.openai.com" ? "max_completion_tokens" : "max_tokens";
  const thinkingTokens = config.thinkingTokens ?? DEFAULT_THINKING_TOKENS;

  /** One completion with the given limit (undefined: none sent). */
  const complete = async (request: MllmRequest, limit: number | undefined) => {
    const body = {
      model: config.model,
      messages: toOpenAiMessages(request.messages),
      ...(limit === undefined ? {} : { [tokenLimitField]: limit }),
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
    const choice = completion.choices?.[0];
    return {
      reply: readReply(choice?.message),
      usage: readUsage(completion.usage),
      isCutOff: choice?.finish_reason === "length",
    };
  };

  return {
    name: `openai-compatible:${config.model}`,
    async chat(request: MllmRequest): Promise<MllmReply> {
      const firstLimit =
        config.tokenLimit === "none" || request.maxTokens === undefined ? undefined : request.maxTokens + thinkingTokens;
      const first = await complete(request, firstLimit);
      if (!first.isCutOff) return { ...first.reply, ...usageField(first.usage) };
      // With no limit sent, the server's own ceiling stopped it; asking again cannot help.
      if (firstLimit === undefined) throw outOfTokens(label, null, null);
      const secondLimit = firstLimit * LENGTH_RETRY_FACTOR;
      const second = await complete(request, secondLimit);
      const usage = addUsage(first.usage, second.usage);
      if (!second.isCutOff) return { ...second.reply, ...usageField(usage) };
      throw outOfTokens(label, firstLimit, secondLimit);
    },
  };
}

const usageField = (usage: MllmReply["usage"]) => (usage ? { usage } : {});

function outOfTokens(label: string, firstLimit: number | null, secondLimit: number | null): OutOfTokensError {
  const limits =
    firstLimit === null ? "at the server's own limit" : `at ${firstLimit} tokens and again at ${secondLimit}`;
  return new OutOfTokensError(
    `${label} ran out of tokens before it finished answering (stopped ${limits}). ` +
      "Give it more room with GEMS_MLLM_THINKING_TOKENS, or raise the server's context length.",
    secondLimit,
  );
}
