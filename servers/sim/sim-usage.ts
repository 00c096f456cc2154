/**
 * The sim MLLM's own token count, reported as `usage` in process and on its HTTP wire so that
 * benchmarks can compare what each loop mode would send a real server. It is an estimate with
 * fixed rules, not a tokenizer:
 * - text: one token per 4 characters, rounded up per message part (the rule of thumb OpenAI
 *   gives for English);
 * - images: IMAGE_TOKENS each, whatever their size (what OpenAI counts for a 512×512 image at
 *   high detail: 85 + 4 tiles × 170 = 765);
 * - the sim has no prefix cache, so cached input tokens are always 0.
 */
import type { MllmMessage, MllmReply, MllmUsage } from "../../core/models/ports.ts";

export const IMAGE_TOKENS = 765;

const textTokens = (text: string): number => Math.ceil(text.length / 4);

export function estimateUsage(messages: readonly MllmMessage[], reply: Pick<MllmReply, "content" | "reasoning">): MllmUsage {
  let inputTokens = 0;
  for (const message of messages) {
    if (typeof message.content === "string") {
      inputTokens += textTokens(message.content);
      continue;
    }
    for (const part of message.content) inputTokens += part.type === "image" ? IMAGE_TOKENS : textTokens(part.text);
  }
  const reasoningTokens = reply.reasoning === null ? null : textTokens(reply.reasoning);
  return { inputTokens, outputTokens: textTokens(reply.content) + (reasoningTokens ?? 0), cachedInputTokens: 0, reasoningTokens };
}
