/**
 * The two outside systems GEMS depends on. Adapters implement these; the agent never sees a
 * URL, an SDK or a wire format.
 */

export type MllmPart = { type: "text"; text: string } | { type: "image"; png: Uint8Array };

export interface MllmMessage {
  role: "system" | "user" | "assistant";
  content: string | MllmPart[];
}

export interface MllmRequest {
  messages: MllmMessage[];
  /** Upper bound on the reply's length, in tokens. */
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
}

/** Token counts as the server reported them in `usage`; cached input tokens are a part of input. */
export interface MllmUsage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens the server served from its prefix cache (`prompt_tokens_details.cached_tokens`). */
  cachedInputTokens: number;
  /** Output tokens spent thinking, when the server counts them apart (`completion_tokens_details.reasoning_tokens`). */
  reasoningTokens: number | null;
}

export interface MllmReply {
  content: string;
  /** The model's reasoning, when the server returns it separately (`reasoning_content`/`reasoning`). */
  reasoning: string | null;
  /** Absent when the server sent no `usage` (some do not). */
  usage?: MllmUsage;
}

/** A multimodal chat model: text and images in, text (and maybe reasoning) out. */
export interface Mllm {
  /** Short name for logs and metrics, e.g. "sim" or "openai-compatible:qwen3-vl". */
  readonly name: string;
  chat(request: MllmRequest): Promise<MllmReply>;
}

/** A generator's report while it draws: how far along, and its newest partial image if it sends one. */
export interface ImageProgress {
  /** 0 to 100. */
  percent: number;
  /** PNG, JPEG or WebP bytes of the partial drawing, or null when the server sent only a percentage. */
  preview: Uint8Array | null;
}

export interface ImageRequest {
  prompt: string;
  seed?: number;
  width?: number;
  height?: number;
  signal?: AbortSignal;
  /**
   * Called as the generator reports progress, as often as the server does; the caller throttles.
   * A generator that cannot report progress never calls it.
   */
  onProgress?: (progress: ImageProgress) => void;
}

/** Turns a prompt into image bytes (PNG, JPEG or WebP, as the server sent them). */
export interface ImageGenerator {
  readonly name: string;
  generate(request: ImageRequest): Promise<Uint8Array>;
}
