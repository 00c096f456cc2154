/**
 * Chat completions as each server family really answers them, for reasoning models and plain
 * ones, so the adapter is tested against the shapes teams meet, not only OpenAI's:
 *
 * | family      | where the thinking goes                                 | usage details                      |
 * |-------------|---------------------------------------------------------|------------------------------------|
 * | sglang      | `message.reasoning_content` (`--reasoning-parser qwen3`) | `prompt_tokens_details: null`      |
 * | vllm        | `message.reasoning` (recent vLLM; older builds `reasoning_content`, as sglang) | `prompt_tokens_details: null` |
 * | vllm-raw    | inline, no parser: the template opened `<think>`, so the content is `thought</think>answer` | as vllm |
 * | ollama      | `message.reasoning` on its OpenAI-compatible /v1        | only the three counts              |
 * | openai      | not returned; counted in `completion_tokens_details.reasoning_tokens` | cached and reasoning counts |
 * | think-tags  | inline `<think>…</think>answer` (llama.cpp without `--reasoning-format`) | only the three counts |
 *
 * Every family honours the token limit the way the servers do: thinking and answer share it,
 * and a reply cut off at the limit ends with `finish_reason: "length"` and whatever was written
 * so far (with a parser, an unfinished thought leaves `content` null).
 *
 * `startReasoningModel` wraps the simulated MLLM in such a server, so a reasoning model gives
 * the sim's answers after thinking for as many tokens as the script says.
 */
import { startLoopbackServer, type FakeReply, type RecordedRequest } from "./loopback-server.ts";
import { answer } from "../../servers/sim/sim-mllm.ts";
import { chatBody, toMllmMessages } from "../../servers/sim/openai-wire.ts";
import type { MllmMessage } from "../../core/models/ports.ts";

export const SERVER_FAMILIES = ["sglang", "vllm", "vllm-raw", "ollama", "openai", "think-tags"] as const;
export type ServerFamily = (typeof SERVER_FAMILIES)[number];

export interface ModelTurn {
  family: ServerFamily;
  answer: string;
  /** The model's thinking; empty for a model that answers at once. */
  thought: string;
  /** The request's `max_tokens` or `max_completion_tokens`; undefined means no limit. */
  maxTokens?: number;
  promptTokens?: number;
  model?: string;
}

/** One token per word: crude, but thinking and answer are counted the same way. */
export const countTokens = (text: string): number => (text.trim() === "" ? 0 : text.trim().split(/\s+/).length);
const firstTokens = (text: string, n: number): string => text.trim().split(/\s+/).slice(0, n).join(" ");

/** A chat completion as `family` sends it, cut off at `maxTokens` as a real server would. */
export function familyCompletion(turn: ModelTurn): FakeReply {
  const thoughtTokens = countTokens(turn.thought);
  const answerTokens = countTokens(turn.answer);
  const limit = turn.maxTokens ?? Number.POSITIVE_INFINITY;
  const isCutOff = thoughtTokens + answerTokens > limit;
  const thought = isCutOff && thoughtTokens >= limit ? firstTokens(turn.thought, limit) : turn.thought;
  const isThoughtFinished = !isCutOff || thoughtTokens < limit;
  const answerText = !isThoughtFinished ? null : isCutOff ? firstTokens(turn.answer, limit - thoughtTokens) : turn.answer;
  const completionTokens = Math.min(limit, thoughtTokens + answerTokens);
  const promptTokens = turn.promptTokens ?? 40;
  const finish = isCutOff ? "length" : "stop";
  const hasThought = thought.trim() !== "";

  const message = messageFor(turn.family, { thought, hasThought, isThoughtFinished, answerText });
  const counts = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const base = { id: `chatcmpl-${turn.family}-1`, object: "chat.completion", created: 1_735_689_600, model: turn.model ?? "reasoner" };
  switch (turn.family) {
    case "sglang":
      return {
        json: {
          ...base,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finish, matched_stop: isCutOff ? null : 151645 }],
          usage: { ...counts, prompt_tokens_details: null },
        },
      };
    case "vllm":
    case "vllm-raw":
      return {
        json: {
          ...base,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finish, stop_reason: null }],
          usage: { ...counts, prompt_tokens_details: null },
          prompt_logprobs: null,
          kv_transfer_params: null,
        },
      };
    case "ollama":
      return { json: { ...base, system_fingerprint: "fp_ollama", choices: [{ index: 0, message, finish_reason: finish }], usage: counts } };
    case "think-tags":
      return { json: { ...base, choices: [{ index: 0, message, finish_reason: finish }], usage: counts } };
    case "openai":
      return {
        json: {
          ...base,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
          usage: {
            ...counts,
            prompt_tokens_details: { cached_tokens: Math.floor(promptTokens / 2), audio_tokens: 0 },
            completion_tokens_details: { reasoning_tokens: Math.min(limit, thoughtTokens), audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
          },
          service_tier: "default",
          system_fingerprint: null,
        },
      };
  }
}

function messageFor(
  family: ServerFamily,
  parts: { thought: string; hasThought: boolean; isThoughtFinished: boolean; answerText: string | null },
): Record<string, unknown> {
  const { thought, hasThought, isThoughtFinished, answerText } = parts;
  const role = "assistant";
  switch (family) {
    case "sglang":
      return { role, content: answerText, reasoning_content: hasThought ? thought : null, tool_calls: null };
    case "vllm":
      return { role, content: answerText, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning: hasThought ? thought : null };
    case "vllm-raw": {
      // The chat template put "<think>" in the prompt, so the model's text starts inside the thought.
      const text = !hasThought ? (answerText ?? "") : isThoughtFinished ? `${thought}\n</think>\n\n${answerText ?? ""}` : thought;
      return { role, content: text, refusal: null, tool_calls: [] };
    }
    case "ollama":
      return { role, content: answerText ?? "", ...(hasThought ? { reasoning: thought } : {}) };
    case "think-tags": {
      const text = !hasThought ? (answerText ?? "") : isThoughtFinished ? `<think>\n${thought}\n</think>\n\n${answerText ?? ""}` : `<think>\n${thought}`;
      return { role, content: text };
    }
    case "openai":
      return { role, content: answerText ?? "", refusal: null, annotations: [] };
  }
}

/** The token limit a chat request asked for, whichever field it used. */
export function requestedLimit(body: { max_tokens?: unknown; max_completion_tokens?: unknown }): number | undefined {
  const limit = body.max_completion_tokens ?? body.max_tokens;
  return typeof limit === "number" ? limit : undefined;
}

/** Deterministic thinking lengths spread over 150 to 800 tokens, one per request index. */
export const thinkingFor = (index: number): number => 150 + ((index * 263) % 651);

export interface ReasoningModelOptions {
  family: ServerFamily;
  /** Tokens of thinking before the answer to the `index`th chat request (0 for none). */
  thinkingTokens: (index: number, messages: MllmMessage[]) => number;
  model?: string;
}

export interface ReasoningModel {
  /** The SDK's baseURL: http://127.0.0.1:<port>/v1 */
  url: string;
  requests: RecordedRequest[];
  /** Completion tokens the server reported, summed over every answer it gave. */
  completionTokens(): number;
  close(): Promise<void>;
}

/** A reasoning model that thinks, then answers exactly what the simulated MLLM would. */
export async function startReasoningModel(options: ReasoningModelOptions): Promise<ReasoningModel> {
  let index = 0;
  let completionTokens = 0;
  const server = await startLoopbackServer((request) => {
    if (request.method === "GET" && request.path === "/v1/models") {
      return { json: { object: "list", data: [{ id: options.model ?? "reasoner", object: "model", owned_by: options.family }] } };
    }
    if (request.method !== "POST" || request.path !== "/v1/chat/completions") return { status: 404, json: { detail: "Not Found" } };
    const body = chatBody.parse(request.body);
    const messages = toMllmMessages(body.messages);
    const n = Math.max(0, Math.floor(options.thinkingTokens(index++, messages)));
    const reply = familyCompletion({
      family: options.family,
      answer: answer(messages).content,
      thought: thoughtOf(n),
      maxTokens: requestedLimit(request.body),
      model: options.model,
    });
    completionTokens += (reply.json as { usage: { completion_tokens: number } }).usage.completion_tokens;
    return reply;
  });
  return { url: `${server.origin}/v1`, requests: server.requests, completionTokens: () => completionTokens, close: server.close };
}

/** `n` words of plausible deliberation that never read as a verdict or a prompt label. */
function thoughtOf(n: number): string {
  const words = "let me look closely at the image and weigh each detail against the request before answering".split(" ");
  return Array.from({ length: n }, (_, i) => words[i % words.length]).join(" ");
}

/**
 * vLLM's answer to a request with more images than `--limit-mm-per-prompt` allows: HTTP 400
 * with the engine's validation message ("At most N image(s) may be provided in one prompt.").
 */
export function vllmImageLimitError(maxImages: number): FakeReply {
  return {
    status: 400,
    json: {
      error: {
        message: `At most ${maxImages} image(s) may be provided in one prompt.`,
        type: "BadRequestError",
        param: null,
        code: 400,
      },
    },
  };
}

/** How many images a chat request carries, over all its messages. */
export function imagesIn(body: { messages?: Array<{ content?: unknown }> }): number {
  return (body.messages ?? []).reduce(
    (sum, message) => sum + (Array.isArray(message.content) ? message.content.filter((p: any) => p?.type === "image_url").length : 0),
    0,
  );
}
