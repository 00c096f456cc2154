import { callBackend, hostOf } from "./backend-call.ts";
import { GENERATOR_SERVER_DEFAULTS, classifyFetchFailure, type GeneratorServerOptions } from "./generator-http.ts";
import { DEFAULT_MAX_IMAGE_BYTES, readImageResponse } from "./http-image.ts";
import type { ImageGenerator, ImageRequest } from "./ports.ts";

export interface GemsHttpGeneratorConfig extends GeneratorServerOptions {
  /** The server's generate endpoint, e.g. "http://gpu-box:8000/generate". */
  url: string;
  /** Larger answers are cut off and reported; default 64 MB. */
  maxImageBytes?: number;
}

/**
 * An ImageGenerator for the GEMS diffusers server: `POST {url}?prompt=…` answers the image
 * (PNG, or JPEG/WebP behind some proxies); errors come as FastAPI's `{"detail": …}`.
 */
export function createGemsHttpGenerator(config: GemsHttpGeneratorConfig): ImageGenerator {
  const fetchImpl = config.fetch ?? globalThis.fetch;
  const label = `The image generator at ${hostOf(config.url)}`;

  return {
    name: `gems-http:${hostOf(config.url)}`,
    async generate(request: ImageRequest): Promise<Uint8Array> {
      const url = generateUrl(config.url, request);
      return callBackend(
        {
          backend: "generator",
          label,
          timeoutMs: config.timeoutMs ?? GENERATOR_SERVER_DEFAULTS.timeoutMs,
          maxRetries: config.maxRetries ?? GENERATOR_SERVER_DEFAULTS.maxRetries,
          retry: config.retry,
          signal: request.signal,
          classify: (error) => classifyFetchFailure(error, label),
        },
        async (signal) =>
          readImageResponse(await fetchImpl(url, { method: "POST", signal }), label, config.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES),
      );
    },
  };
}

function generateUrl(base: string, request: ImageRequest): URL {
  const url = new URL(base);
  url.searchParams.set("prompt", request.prompt);
  if (request.seed !== undefined) url.searchParams.set("seed", String(request.seed));
  if (request.width !== undefined) url.searchParams.set("width", String(request.width));
  if (request.height !== undefined) url.searchParams.set("height", String(request.height));
  return url;
}
