import type {
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import { InputError } from "../errors.ts";
import { sniffImageType } from "../images/image-type.ts";
import type { MllmMessage, MllmPart, MllmReply, MllmUsage } from "./ports.ts";

/** Our messages in the OpenAI chat format; images travel inline as data URIs of their own type. */
export function toOpenAiMessages(messages: MllmMessage[]): ChatCompletionMessageParam[] {
  return messages.map((message) => {
    const { role, content } = message;
    if (typeof content === "string") return { role, content };
    if (role === "user") return { role, content: content.map(toUserPart) };
    // Older Ollama and llama.cpp builds accept only a string for system and assistant turns.
    return { role, content: joinText(role, content) };
  });
}

function toUserPart(part: MllmPart): ChatCompletionContentPart {
  if (part.type === "text") return { type: "text", text: part.text };
  // Generators may send JPEG or WebP: the data URI names what the bytes are.
  const type = sniffImageType(part.png) ?? "image/png";
  return { type: "image_url", image_url: { url: `data:${type};base64,${Buffer.from(part.png).toString("base64")}` } };
}

function joinText(role: MllmMessage["role"], parts: MllmPart[]): string {
  return parts
    .map((part) => {
      if (part.type === "text") return part.text;
      throw new InputError(`A ${role} message cannot carry an image; put images in a user message.`);
    })
    .join("\n\n");
}

/**
 * Content and reasoning from an untyped completion message. sglang, vLLM and DeepSeek put the
 * reasoning in `reasoning_content`, newer vLLM, OpenRouter and Ollama in `reasoning`. A server
 * without a reasoning parser leaves it inline: a `<think>…</think>` block, or only the closing
 * `</think>` when the chat template already opened the block in the prompt (Qwen3 thinking
 * models, DeepSeek-R1), or an unclosed `<think>` when the model was cut off mid-thought.
 */
export function readReply(message: unknown): Omit<MllmReply, "usage"> {
  const fields = (message ?? {}) as { content?: unknown; reasoning_content?: unknown; reasoning?: unknown };
  const raw = typeof fields.content === "string" ? fields.content : "";
  const separate = firstText(fields.reasoning_content, fields.reasoning);
  const inline = splitInlineThinking(raw);
  return { content: inline.content, reasoning: separate ?? inline.reasoning };
}

function splitInlineThinking(text: string): { content: string; reasoning: string | null } {
  const close = text.indexOf("</think>");
  if (close >= 0) {
    // Either "<think>…</think>answer" or, when the template opened the block, "…</think>answer".
    const thought = text.slice(0, close).replace(/^\s*<think>/, "").trim();
    return { content: text.slice(close + "</think>".length).trimStart(), reasoning: thought || null };
  }
  const open = /^\s*<think>/.exec(text);
  // Cut off while thinking: there is no answer yet, only the start of a thought.
  if (open) return { content: "", reasoning: text.slice(open[0].length).trim() || null };
  return { content: text, reasoning: null };
}

/** Token counts from a completion's `usage`; undefined when the server sent none. */
export function readUsage(usage: unknown): MllmUsage | undefined {
  if (!usage || typeof usage !== "object") return undefined;
  const fields = usage as {
    prompt_tokens?: unknown;
    completion_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
    completion_tokens_details?: { reasoning_tokens?: unknown } | null;
  };
  if (typeof fields.prompt_tokens !== "number" || typeof fields.completion_tokens !== "number") return undefined;
  const cached = fields.prompt_tokens_details?.cached_tokens;
  const reasoning = fields.completion_tokens_details?.reasoning_tokens;
  return {
    inputTokens: fields.prompt_tokens,
    outputTokens: fields.completion_tokens,
    cachedInputTokens: typeof cached === "number" ? cached : 0,
    reasoningTokens: typeof reasoning === "number" ? reasoning : null,
  };
}

/** The sum of two calls' usage, for a reply that took a retry; unknown stays unknown. */
export function addUsage(a: MllmUsage | undefined, b: MllmUsage | undefined): MllmUsage | undefined {
  if (!a || !b) return a ?? b;
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    reasoningTokens: a.reasoningTokens === null && b.reasoningTokens === null ? null : (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0),
  };
}

function firstText(...values: unknown[]): string | null {
  for (const value of values) if (typeof value === "string" && value.trim().length > 0) return value.trim();
  return null;
}
