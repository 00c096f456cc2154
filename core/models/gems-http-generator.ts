import { BackendError, RateLimitError } from "../errors.ts";
import { TransientFailure, callBackend, describeCause, hostOf, shorten, type RetryTuning } from "./backend-call.ts";
import { hasPngSignature } from "./image-bytes.ts";
import type { ImageGenerator, ImageRequest } from "./ports.ts";
import { parseRetryAfterMs } from "./retry-after.ts";

export interface GemsHttpGeneratorConfig {
  /** The server's generate endpoint, e.g. "http://gpu-box:8000/generate". */
  url: string;
  /** Per attempt; a large diffusion model on a busy GPU can take minutes. */
  timeoutMs?: number;
  /** Retries after the first attempt. */
  maxRetries?: number;
  fetch?: typeof fetch;
  retry?: RetryTuning;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_RETRIES = 2;

/** An ImageGenerator for the GEMS diffusers server: `POST {url}?prompt=…` answers `image/png`. */
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
          timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
          retry: config.retry,
          signal: request.signal,
          classify: (error) => classifyFetchError(error, label),
        },
        async (signal) => readPng(await fetchImpl(url, { method: "POST", signal }), label),
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

async function readPng(response: Response, label: string): Promise<Uint8Array> {
  if (!response.ok) throw await statusError(response, label);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (hasPngSignature(bytes)) return bytes;
  const contentType = response.headers.get("content-type") ?? "no content type";
  throw new BackendError(
    `The image generator returned bytes that are not a PNG image (got ${contentType}, ${bytes.length} bytes).`,
    "generator",
    { status: response.status },
  );
}

async function statusError(response: Response, label: string): Promise<Error> {
  const status = response.status;
  const detail = shorten(serverDetail(await response.text()) || response.statusText || "no body");
  if (status === 429) {
    return new RateLimitError(`${label} is rate limiting requests (429).`, parseRetryAfterMs(response.headers));
  }
  if (status === 408 || status >= 500) return new TransientFailure(`server error ${status}: ${detail}`, status);
  if (status === 404) {
    return new BackendError(`${label} has no such endpoint (404): ${detail}. Check the generator URL.`, "generator", {
      status,
    });
  }
  return new BackendError(`${label} rejected the request (${status}): ${detail}`, "generator", { status });
}

/** FastAPI, which the GEMS server runs on, puts its error text in `{"detail": …}`. */
function serverDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { detail?: unknown };
    if (typeof parsed?.detail === "string") return parsed.detail;
    if (parsed?.detail !== undefined) return JSON.stringify(parsed.detail);
  } catch {
    // Not JSON: the raw text is the best detail we have.
  }
  return text;
}

function classifyFetchError(error: unknown, label: string): unknown {
  if (error instanceof BackendError || error instanceof RateLimitError || error instanceof TransientFailure) {
    return error;
  }
  // undici reports refused, reset and DNS failures as TypeError("fetch failed") with the reason in `cause`.
  if (error instanceof TypeError) {
    return new TransientFailure(`could not connect (${describeCause(error)})`, undefined, { cause: error });
  }
  return new BackendError(`${label} failed: ${shorten(String(error))}`, "generator", { cause: error });
}
