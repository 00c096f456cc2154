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

/**
 * An edit of an existing image: the generator changes what the instruction names and keeps the
 * rest. `prompt` still describes the whole picture, for servers that want one with the edit.
 */
export interface ImageEdit {
  /** PNG, JPEG or WebP bytes of the image to change. */
  image: Uint8Array;
  /** What to change, e.g. "Make the cube red. Move the cat to the left of the dog." */
  instruction: string;
}

export interface ImageRequest {
  prompt: string;
  /**
   * Reference images (PNG, JPEG or WebP) the picture should follow: its objects, layout, look.
   * Only sent to a generator whose `capabilities.references` is true.
   */
  images?: Uint8Array[];
  /** Edit this image instead of drawing a new one; only sent when `capabilities.edit` is true. */
  edit?: ImageEdit;
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

/** What a generator can take besides a prompt, declared so the loop knows without trying. */
export interface GeneratorCapabilities {
  /** Takes `ImageRequest.images` (reference images). */
  references: boolean;
  /** Takes `ImageRequest.edit` (changes an existing image). */
  edit: boolean;
}

/** A generator that takes text only; what a generator without `capabilities` is taken to be. */
export const TEXT_ONLY: Readonly<GeneratorCapabilities> = Object.freeze({ references: false, edit: false });

/** Turns a prompt into image bytes (PNG, JPEG or WebP, as the server sent them). */
export interface ImageGenerator {
  readonly name: string;
  /** Absent means text only (`TEXT_ONLY`). */
  readonly capabilities?: GeneratorCapabilities;
  generate(request: ImageRequest): Promise<Uint8Array>;
}
