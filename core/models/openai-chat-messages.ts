import type {
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import { InputError } from "../errors.ts";
import { sniffImageType } from "../images/image-type.ts";
import type { MllmMessage, MllmPart, MllmReply } from "./ports.ts";

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
 * reasoning in `reasoning_content`, OpenRouter and Ollama in `reasoning`; a server without a
 * reasoning parser leaves it inline as a leading `<think>…</think>` block.
 */
export function readReply(message: unknown): MllmReply {
  const fields = (message ?? {}) as { content?: unknown; reasoning_content?: unknown; reasoning?: unknown };
  const content = typeof fields.content === "string" ? fields.content : "";
  const reasoning = firstText(fields.reasoning_content, fields.reasoning);
  if (reasoning !== null) return { content, reasoning };
  const inline = /^\s*<think>([\s\S]*?)<\/think>\s*/.exec(content);
  if (!inline) return { content, reasoning: null };
  return { content: content.slice(inline[0].length), reasoning: inline[1]?.trim() || null };
}

function firstText(...values: unknown[]): string | null {
  for (const value of values) if (typeof value === "string" && value.length > 0) return value;
  return null;
}
