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

export interface MllmReply {
  content: string;
  /** The model's reasoning, when the server returns it separately (`reasoning_content`/`reasoning`). */
  reasoning: string | null;
}

/** A multimodal chat model: text and images in, text (and maybe reasoning) out. */
export interface Mllm {
  /** Short name for logs and metrics, e.g. "sim" or "openai-compatible:qwen3-vl". */
  readonly name: string;
  chat(request: MllmRequest): Promise<MllmReply>;
}

export interface ImageRequest {
  prompt: string;
  seed?: number;
  width?: number;
  height?: number;
  signal?: AbortSignal;
}

/** Turns a prompt into PNG bytes. */
export interface ImageGenerator {
  readonly name: string;
  generate(request: ImageRequest): Promise<Uint8Array>;
}
