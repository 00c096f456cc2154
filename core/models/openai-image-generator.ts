import { toFile } from "openai";
import type { ImageEditParamsNonStreaming, ImageGenerateParamsNonStreaming } from "openai/resources/images";
import { BackendError } from "../errors.ts";
import { rememberSecrets } from "../secrets.ts";
import { callBackend, hostOf, type RetryTuning } from "./backend-call.ts";
import { sniffImageType } from "../images/image-type.ts";
import { decodeBase64Image } from "./generator-http.ts";
import { DEFAULT_MAX_IMAGE_BYTES, downloadImage } from "./http-image.ts";
import { createOpenAiClient, OPENAI_BASE_URL } from "./openai-client.ts";
import { classifyOpenAiError } from "./openai-errors.ts";
import { canStreamImages, generateStreamed } from "./openai-image-stream.ts";
import type { GeneratorCapabilities, ImageGenerator, ImageRequest } from "./ports.ts";

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

  const capabilities = openAiImageCapabilities(model);
  return {
    name: `openai:${model}`,
    capabilities,
    async generate(request: ImageRequest): Promise<Uint8Array> {
      const inputs = [
        ...(request.edit && capabilities.edit ? [request.edit.image] : []),
        ...(capabilities.references ? (request.images ?? []) : []),
      ];
      const body = imageParams(model, request, config.size);
      // With images the call goes to /images/edits (multipart), which is how the API takes
      // reference images too: the first image is the one changed, the rest guide it.
      const edit = inputs.length > 0 ? await editParams(body, inputs, request.edit && capabilities.edit ? request.edit.instruction : request.prompt) : null;
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
          edit
            ? client.images.edit(edit, { signal })
            : request.onProgress && canStreamImages(model)
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

/**
 * What the model takes, from the OpenAI image guide: gpt-image models edit and take several
 * input images (up to 16); dall-e-2 edits one square PNG and takes no references; dall-e-3 has
 * no edits. Other servers speaking this API (the sim among them) are taken to follow gpt-image.
 */
export function openAiImageCapabilities(model: string): GeneratorCapabilities {
  if (model.startsWith("dall-e-3")) return { references: false, edit: false };
  if (model.startsWith("dall-e-2")) return { references: false, edit: true };
  return { references: true, edit: true };
}

/** `images.edit` parameters: the generation's, with the images as files and the given prompt. */
async function editParams(body: ImageGenerateParamsNonStreaming, images: readonly Uint8Array[], prompt: string): Promise<ImageEditParamsNonStreaming> {
  const files = await Promise.all(
    images.map((bytes, i) => {
      const type = sniffImageType(bytes) ?? "image/png";
      return toFile(bytes, `image-${i + 1}.${type === "image/jpeg" ? "jpg" : type.slice("image/".length)}`, { type });
    }),
  );
  const { model, n, size, output_format, response_format } = body as ImageGenerateParamsNonStreaming & { output_format?: "png" };
  return {
    // One image goes as `image`, several as `image[]` (the SDK's multipart encoding), as the API reference shows.
    image: files.length === 1 ? files[0]! : files,
    prompt,
    ...(model ? { model } : {}),
    ...(n ? { n } : {}),
    ...(size ? { size: size as ImageEditParamsNonStreaming["size"] } : {}),
    ...(output_format ? { output_format } : {}),
    ...(response_format ? { response_format } : {}),
  };
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
