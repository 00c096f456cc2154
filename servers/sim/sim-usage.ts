/**
 * The sim MLLM's own token count, reported as `usage` in process and on its HTTP wire so that
 * benchmarks can compare what each loop mode would send a real server. It is an estimate with
 * fixed rules, not a tokenizer:
 * - text: one token per 4 characters, rounded up per message part (the rule of thumb OpenAI
 *   gives for English);
 * - images: IMAGE_TOKENS each, whatever their size (what OpenAI counts for a 512×512 image at
 *   high detail: 85 + 4 tiles × 170 = 765);
 * - cached input tokens: what a prefix cache in the manner of vLLM's automatic prefix caching
 *   would reuse. The request is cut into blocks (64 characters of a text part, i.e. 16 tokens, or
 *   one whole image); a block is served from the cache when it and every block before it were
 *   sent before, to the same sim. So the order of a prompt decides what is cached, as on a real
 *   server, and a prompt whose changing part comes first gets nothing.
 */
import { createHash } from "node:crypto";
import type { MllmMessage, MllmReply, MllmUsage } from "../../core/models/ports.ts";

export const IMAGE_TOKENS = 765;
const BLOCK_CHARS = 64;
/** Block hashes remembered, oldest forgotten first; about 100 MB of prompts at most. */
const CACHE_BLOCKS = 100_000;

const textTokens = (text: string): number => Math.ceil(text.length / 4);

/** The blocks of a request as [key, tokens], in the order the server reads them. */
function blocks(messages: readonly MllmMessage[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const addText = (text: string) => {
    for (let at = 0; at < text.length; at += BLOCK_CHARS) {
      const block = text.slice(at, at + BLOCK_CHARS);
      out.push([`t${block}`, textTokens(block)]);
    }
  };
  for (const message of messages) {
    out.push([`r${message.role}`, 0]);
    if (typeof message.content === "string") {
      addText(message.content);
      continue;
    }
    for (const part of message.content) {
      if (part.type === "text") addText(part.text);
      else out.push([`i${createHash("sha256").update(part.png).digest("hex")}`, IMAGE_TOKENS]);
    }
  }
  return out;
}

/** Remembers the block chains of earlier requests; one per sim model instance. */
export class SimPrefixCache {
  readonly #seen = new Map<string, true>();

  /** Tokens of `messages` that earlier requests already covered; then remembers this one too. */
  cachedTokens(messages: readonly MllmMessage[]): number {
    let chain = "";
    let cached = 0;
    let isHit = true;
    for (const [key, tokens] of blocks(messages)) {
      chain = createHash("sha256").update(chain).update(key).digest("hex");
      if (isHit && this.#seen.has(chain)) {
        cached += tokens;
        // Refresh, so a prefix in use is the last to be forgotten.
        this.#seen.delete(chain);
      } else {
        isHit = false;
      }
      this.#seen.set(chain, true);
    }
    while (this.#seen.size > CACHE_BLOCKS) this.#seen.delete(this.#seen.keys().next().value as string);
    return cached;
  }
}

export function estimateUsage(
  messages: readonly MllmMessage[],
  reply: Pick<MllmReply, "content" | "reasoning">,
  cache?: SimPrefixCache,
): MllmUsage {
  let inputTokens = 0;
  for (const message of messages) {
    if (typeof message.content === "string") {
      inputTokens += textTokens(message.content);
      continue;
    }
    for (const part of message.content) inputTokens += part.type === "image" ? IMAGE_TOKENS : textTokens(part.text);
  }
  const reasoningTokens = reply.reasoning === null ? null : textTokens(reply.reasoning);
  return {
    inputTokens,
    outputTokens: textTokens(reply.content) + (reasoningTokens ?? 0),
    cachedInputTokens: cache ? cache.cachedTokens(messages) : 0,
    reasoningTokens,
  };
}
