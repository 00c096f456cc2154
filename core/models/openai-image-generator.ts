import type { ImageGenerateParamsNonStreaming } from "openai/resources/images";
import { BackendError } from "../errors.ts";
import { callBackend, hostOf, type RetryTuning } from "./backend-call.ts";
import { hasPngSignature } from "./image-bytes.ts";
import { createOpenAiClient, OPENAI_BASE_URL } from "./openai-client.ts";
import { classifyOpenAiError } from "./openai-errors.ts";
import { canStreamImages, generateStreamed } from "./openai-image-stream.ts";
import type { ImageGenerator, ImageRequest } from "./ports.ts";

export interface OpenAiImageGeneratorConfig {
  baseUrl?: string;
  /** Default "gpt-image-1". */
  model?: string;
  apiKey?: string;
  /** Per attempt; gpt-image-1 at high quality can take over a minute. */
  timeoutMs?: number;
  /** Retries after the first attempt. */
  maxRetries?: number;
  /** Used when a request gives no width and height, e.g. "1024x1024". */
  size?: string;
  fetch?: typeof fetch;
  retry?: RetryTuning;
}

const DEFAULT_MODEL = "gpt-image-1";
const DEFAULT_TIMEOUT_MS = 180_000;
const DEFAULT_MAX_RETRIES = 2;

/**
 * An ImageGenerator over the OpenAI Images API. The API has no seed, so `request.seed` is
 * ignored; width and height become `size` and the server decides whether it supports it.
 */
export function createOpenAiImageGenerator(config: OpenAiImageGeneratorConfig): ImageGenerator {
  const baseUrl = config.baseUrl ?? OPENAI_BASE_URL;
  const model = config.model ?? DEFAULT_MODEL;
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = createOpenAiClient({ baseUrl, apiKey: config.apiKey, timeoutMs, fetch: config.fetch });
  const label = `The image generator at ${hostOf(baseUrl)}`;

  return {
    name: `openai:${model}`,
    async generate(request: ImageRequest): Promise<Uint8Array> {
      const body = imageParams(model, request, config.size);
      const response = await callBackend(
        {
          backend: "generator",
          label,
          timeoutMs,
          maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
          retry: config.retry,
          signal: request.signal,
          secret: config.apiKey,
          classify: (error) => classifyOpenAiError(error, { label, backend: "generator", apiKey: config.apiKey }),
        },
        (signal) =>
          request.onProgress && canStreamImages(model)
            ? generateStreamed(client, body, signal, request.onProgress)
            : client.images.generate(body, { signal }),
      );
      return decodePng(response.data?.[0]?.b64_json, label);
    },
  };
}

function imageParams(
  model: string,
  request: ImageRequest,
  defaultSize: string | undefined,
): ImageGenerateParamsNonStreaming {
  const size = request.width && request.height ? `${request.width}x${request.height}` : defaultSize;
  // DALL·E answers with a URL unless told otherwise; gpt-image models always send base64 and
  // reject `response_format`, but do accept `output_format`.
  const format = model.startsWith("dall-e")
    ? { response_format: "b64_json" as const }
    : model.startsWith("gpt-image")
      ? { output_format: "png" as const }
      : {};
  return { model, prompt: request.prompt, n: 1, ...(size ? { size } : {}), ...format };
}

function decodePng(b64: string | undefined, label: string): Uint8Array {
  if (!b64) {
    throw new BackendError(`${label} answered without an image (no data[0].b64_json).`, "generator");
  }
  const bytes = new Uint8Array(Buffer.from(b64, "base64"));
  if (hasPngSignature(bytes)) return bytes;
  throw new BackendError(
    `The image generator returned bytes that are not a PNG image (got base64 data, ${bytes.length} bytes).`,
    "generator",
  );
}
