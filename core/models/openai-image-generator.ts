import type { ImageGenerateParamsNonStreaming } from "openai/resources/images";
import { BackendError } from "../errors.ts";
import { rememberSecrets } from "../secrets.ts";
import { callBackend, hostOf, type RetryTuning } from "./backend-call.ts";
import { sniffImageType } from "../images/image-type.ts";
import { decodeBase64Image } from "./generator-http.ts";
import { DEFAULT_MAX_IMAGE_BYTES, downloadImage } from "./http-image.ts";
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
  /** Larger images (base64 or downloaded) are refused; default 64 MB. */
  maxImageBytes?: number;
  fetch?: typeof fetch;
  retry?: RetryTuning;
}

const DEFAULT_MODEL = "gpt-image-1";
const DEFAULT_TIMEOUT_MS = 180_000;
const DEFAULT_MAX_RETRIES = 2;

/**
 * An ImageGenerator over the OpenAI Images API. The API has no seed, so `request.seed` is
 * ignored; width and height become `size` and the server decides whether it supports it.
 * Servers answer `data[0].b64_json` or `data[0].url` (DALL·E by default, many self-hosted and
 * hosted ones always); a URL is downloaded under the same timeout, retries and size cap.
 */
export function createOpenAiImageGenerator(config: OpenAiImageGeneratorConfig): ImageGenerator {
  const baseUrl = config.baseUrl ?? OPENAI_BASE_URL;
  const model = config.model ?? DEFAULT_MODEL;
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  rememberSecrets(config.apiKey);
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
      const maxBytes = config.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
      const first = response.data?.[0];
      if (first?.b64_json) return decodeImage(first.b64_json, label, maxBytes);
      if (first?.url) {
        if (first.url.startsWith("data:")) return decodeImage(first.url, label, maxBytes);
        return downloadImage(first.url, {
          label,
          timeoutMs,
          maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
          retry: config.retry,
          signal: request.signal,
          secret: config.apiKey,
          maxBytes,
          fetch: config.fetch,
        });
      }
      throw new BackendError(`${label} answered without an image (neither data[0].b64_json nor data[0].url).`, "generator");
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

function decodeImage(b64: string, label: string, maxBytes: number): Uint8Array {
  // Base64 is 4 characters per 3 bytes; checking first avoids decoding a runaway answer.
  if ((b64.length * 3) / 4 > maxBytes) {
    throw new BackendError(`${label} sent an image larger than ${Math.round(maxBytes / 1024 / 1024)} MB; check its output size.`, "generator");
  }
  const bytes = decodeBase64Image(b64);
  if (sniffImageType(bytes) !== null) return bytes;
  throw new BackendError(
    `${label} returned something that is not a PNG, JPEG or WebP image (got base64 data, ${bytes.length} bytes).`,
    "generator",
  );
}
