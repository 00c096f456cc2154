/**
 * Plumbing shared by the self-hosted generator adapters (ComfyUI, AUTOMATIC1111): reading JSON
 * answers, mapping HTTP statuses onto the retry policy, and checking that image bytes are an
 * image. Each server words its errors differently, so the caller passes `detailOf`.
 */
import { BackendError, RateLimitError } from "../errors.ts";
import { sniffImageType } from "../images/image-type.ts";
import { TransientFailure, describeCause, shorten, type RetryTuning } from "./backend-call.ts";
import { parseRetryAfterMs } from "./retry-after.ts";

/** What every self-hosted generator adapter takes besides its own settings. */
export interface GeneratorServerOptions {
  /** Per attempt; a large diffusion model on a busy GPU can take minutes. */
  timeoutMs?: number;
  /** Retries after the first attempt. */
  maxRetries?: number;
  fetch?: typeof fetch;
  retry?: RetryTuning;
}

export const GENERATOR_SERVER_DEFAULTS = { timeoutMs: 300_000, maxRetries: 2 } as const;

/** The server's own words for a failed request, from its body; "" when it said nothing useful. */
export type DetailOf = (body: unknown, text: string) => string;

/** What to tell the operator to check, by failure; the rest of each message is the same for every server. */
export interface StatusAdvice {
  credentials: string;
  notFound: string;
  /** After a 400 or 422; none when the server's own words say enough. */
  invalidInput?: string;
}

const SELF_HOSTED_ADVICE: StatusAdvice = {
  credentials: "Check the server's API auth settings.",
  notFound: "Check the URL points at the server's root.",
};

/**
 * The one mapping of a non-2xx answer onto the retry policy: TransientFailure (408, 5xx; 503 and
 * 504 in the words a loading or slow diffusion server means), RateLimitError (429) or a final
 * BackendError in the operator's words.
 */
export async function statusError(response: Response, label: string, detailOf: DetailOf, advice: StatusAdvice = SELF_HOSTED_ADVICE): Promise<Error> {
  const status = response.status;
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const detail = shorten(detailOf(body, text) || text || response.statusText || "no body");
  if (status === 429) return new RateLimitError(`${label} is rate limiting requests (429).`, parseRetryAfterMs(response.headers));
  if (status === 503) return new TransientFailure(`busy or still loading its model (503): ${detail}`, status);
  if (status === 504) return new TransientFailure(`took too long to draw the image (504): ${detail}`, status);
  if (status === 408 || status >= 500) return new TransientFailure(`server error ${status}: ${detail}`, status);
  const fail = (message: string): BackendError => new BackendError(message, "generator", { status });
  // Never quote the server here: some echo the credentials they refused.
  if (status === 401 || status === 403) return fail(`${label} refused our credentials (${status}). ${advice.credentials}`);
  if (status === 404) return fail(`${label} has no such endpoint (404): ${detail}. ${advice.notFound}`);
  if ((status === 400 || status === 422) && advice.invalidInput) return fail(`${label} rejected the request (${status}): ${detail}. ${advice.invalidInput}`);
  return fail(`${label} rejected the request (${status}): ${detail}`);
}

/** GETs or POSTs JSON and returns the parsed body, or throws what `statusError` makes of a failure. */
export async function requestJson(
  fetchImpl: typeof fetch,
  url: URL | string,
  init: { method?: string; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> },
  label: string,
  detailOf: DetailOf,
): Promise<unknown> {
  const response = await fetchImpl(url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { ...(init.body === undefined ? {} : { "content-type": "application/json" }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (!response.ok) throw await statusError(response, label, detailOf);
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BackendError(`${label} answered something that is not JSON: ${shorten(text) || "an empty body"}`, "generator", {
      cause: error,
    });
  }
}

/** The bytes when they are a PNG, JPEG or WebP image; a BackendError naming what came instead. */
export function requireImage(bytes: Uint8Array, label: string, what: string): Uint8Array {
  if (sniffImageType(bytes) !== null) return bytes;
  throw new BackendError(`${label} sent ${what} that is not a PNG, JPEG or WebP image (${bytes.length} bytes).`, "generator");
}

/** Base64 image data as A1111 and OpenAI send it, with or without a `data:` URI prefix. */
export function decodeBase64Image(data: string): Uint8Array {
  const comma = data.startsWith("data:") ? data.indexOf(",") : -1;
  return new Uint8Array(Buffer.from(comma >= 0 ? data.slice(comma + 1) : data, "base64"));
}

/** Fetch failures from undici (refused, reset, DNS) are worth another attempt; ours pass through. */
export function classifyFetchFailure(error: unknown, label: string): unknown {
  if (error instanceof BackendError || error instanceof RateLimitError || error instanceof TransientFailure) return error;
  if (error instanceof TypeError) {
    return new TransientFailure(`could not connect (${describeCause(error)})`, undefined, { cause: error });
  }
  return new BackendError(`${label} failed: ${shorten(String(error))}`, "generator", { cause: error });
}
