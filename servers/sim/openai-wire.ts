/**
 * The OpenAI wire formats the sim server speaks: request bodies (validated with zod at the edge)
 * and response bodies shaped like the real ones, so the openai SDK and our adapters accept them.
 */
import { z } from "zod";
import type { MllmMessage, MllmPart, MllmReply } from "../../core/models/ports.ts";
import { estimateUsage } from "./sim-usage.ts";

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const imagePart = z.object({
  type: z.literal("image_url"),
  image_url: z.union([z.string(), z.object({ url: z.string(), detail: z.string().optional() })]),
});

export const chatBody = z.object({
  model: z.string().optional(),
  messages: z
    .array(
      z.object({
        role: z.enum(["system", "developer", "user", "assistant"]),
        content: z.union([z.string(), z.array(z.union([textPart, imagePart])), z.null()]),
      }),
    )
    .min(1),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  temperature: z.number().optional(),
});
export type ChatBody = z.infer<typeof chatBody>;

export const imagesBody = z.object({
  prompt: z.string().trim().min(1, "prompt must not be empty"),
  model: z.string().optional(),
  n: z.number().int().min(1).max(4).optional(),
  size: z
    .string()
    .regex(/^(?:auto|\d{2,4}x\d{2,4})$/, 'size must be "auto" or like "512x512"')
    .optional(),
  response_format: z.enum(["b64_json", "url"]).optional(),
  output_format: z.literal("png", 'the sim only makes PNGs; send output_format "png" or leave it out').optional(),
  /** Server-sent events: partial images, then the final one (OpenAI's image streaming). */
  stream: z.boolean().optional(),
  /** 0–3 partial images before the final one, as OpenAI allows; only with stream. */
  partial_images: z.number().int().min(0, "partial_images must be from 0 to 3").max(3, "partial_images must be from 0 to 3").optional(),
  /** Not in OpenAI's API; accepted so runs against the sim can be made repeatable. */
  seed: z.number().int().nonnegative().optional(),
});
export type ImagesBody = z.infer<typeof imagesBody>;

/** A client mistake, answered with 400 and OpenAI's error shape. */
export class WireError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** Converts chat messages to the port's messages; images must be data: URLs. */
export function toMllmMessages(messages: ChatBody["messages"]): MllmMessage[] {
  return messages.map((message) => {
    const role = message.role === "developer" ? "system" : message.role;
    if (typeof message.content === "string" || message.content === null) return { role, content: message.content ?? "" };
    const parts = message.content.map((part): MllmPart => {
      if (part.type === "text") return { type: "text", text: part.text };
      const url = typeof part.image_url === "string" ? part.image_url : part.image_url.url;
      return { type: "image", png: decodeDataUrl(url) };
    });
    // The GEMS prompts keep system prompts as strings; a content array there is flattened to text.
    if (role === "system") return { role, content: parts.map((p) => (p.type === "text" ? p.text : "")).join("\n") };
    return { role, content: parts };
  });
}

function decodeDataUrl(url: string): Uint8Array {
  const match = /^data:([\w/+.-]+)?(;base64)?,(.*)$/s.exec(url);
  if (!match || !match[2]) {
    throw new WireError("The sim server only accepts images as base64 data: URLs (data:image/png;base64,...).", 400, "invalid_image_url");
  }
  return new Uint8Array(Buffer.from(match[3]!, "base64"));
}

let completions = 0;

/** `usage` as OpenAI sends it, from the sim's own count (sim-usage.ts) unless the reply carries one. */
export function chatCompletion(body: ChatBody, reply: MllmReply, messages: readonly MllmMessage[] = toMllmMessages(body.messages)) {
  const usage = reply.usage ?? estimateUsage(messages, reply);
  completions++;
  return {
    id: `chatcmpl-sim-${Date.now().toString(36)}-${completions}`,
    object: "chat.completion" as const,
    created: Math.floor(Date.now() / 1000),
    model: body.model ?? "gems-sim",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant" as const,
          content: reply.content,
          refusal: null,
          ...(reply.reasoning !== null ? { reasoning_content: reply.reasoning } : {}),
        },
        logprobs: null,
        finish_reason: "stop" as const,
      },
    ],
    usage: {
      prompt_tokens: usage.inputTokens,
      completion_tokens: usage.outputTokens,
      total_tokens: usage.inputTokens + usage.outputTokens,
      prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
      ...(usage.reasoningTokens !== null ? { completion_tokens_details: { reasoning_tokens: usage.reasoningTokens } } : {}),
    },
  };
}

export function errorBody(message: string, type: string, code: string | null) {
  return { error: { message, type, param: null, code } };
}

/** One line naming the first problem zod found, e.g. "messages.0.role: Invalid option". */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "The request body is invalid.";
  const path = issue.path.join(".");
  return `Invalid request body: ${path ? `${path}: ` : ""}${issue.message}`;
}

/**
 * One event of OpenAI's image streaming, as the SSE `data:` of an event named by its `type`:
 * `image_generation.partial_image` (with its 0-based `partial_image_index`) for each partial,
 * then one `image_generation.completed` with the final image and the usage.
 */
export function imageStreamEvent(
  kind: "partial" | "completed",
  png: Uint8Array,
  details: { size: string; partialIndex?: number; prompt?: string },
): { event: string; data: Record<string, unknown> } {
  const common = {
    b64_json: Buffer.from(png).toString("base64"),
    created_at: Math.floor(Date.now() / 1000),
    size: details.size,
    quality: "auto",
    background: "opaque",
    output_format: "png",
  };
  if (kind === "partial") {
    const type = "image_generation.partial_image";
    return { event: type, data: { type, ...common, partial_image_index: details.partialIndex ?? 0 } };
  }
  const type = "image_generation.completed";
  // The sim's own count for the prompt (sim-usage.ts); the output is a fixed image count
  // (272, what gpt-image-1 counts for a low-quality square image), for the shape of the usage.
  const input = estimateUsage([{ role: "user", content: details.prompt ?? "" }], { content: "", reasoning: null }).inputTokens;
  const usage = { total_tokens: input + 272, input_tokens: input, output_tokens: 272, input_tokens_details: { text_tokens: input, image_tokens: 0 } };
  return { event: type, data: { type, ...common, usage } };
}
