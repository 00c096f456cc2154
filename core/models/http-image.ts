/**
 * Image answers over plain HTTP (the GEMS server, and images an OpenAI-style server links to):
 * reading the bytes with a size cap, turning an error status (FastAPI's `{"detail": …}`, an HTML
 * proxy page, plain text) into a message a person can act on, and downloading an image a server
 * answered with a URL under the same rules. JSON plumbing for ComfyUI and A1111 is in
 * generator-http.ts.
 */
import { BackendError } from "../errors.ts";
import { callBackend, type BackendCall } from "./backend-call.ts";
import { classifyFetchFailure, statusError } from "./generator-http.ts";
import { sniffImageType } from "../images/image-type.ts";

/** Larger than any image a diffusion server sends (a 4096² PNG is ~50 MB at worst). */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** The body of a successful response as PNG, JPEG or WebP bytes; a clear error for anything else. */
export async function readImageResponse(response: Response, label: string, maxBytes: number): Promise<Uint8Array> {
  if (!response.ok) throw await httpStatusError(response, label);
  const bytes = await readCapped(response, label, maxBytes);
  if (sniffImageType(bytes) !== null) return bytes;
  const contentType = response.headers.get("content-type") ?? "no content type";
  throw new BackendError(
    `${label} returned something that is not a PNG, JPEG or WebP image (got ${contentType}, ${bytes.length} bytes).`,
    "generator",
    { status: response.status },
  );
}

/** Reads at most `maxBytes`, stopping the download as soon as it is over (a runaway body never fills memory). */
async function readCapped(response: Response, label: string, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length"));
  const tooLarge = () =>
    new BackendError(`${label} sent an image larger than ${Math.round(maxBytes / 1024 / 1024)} MB; check its output size.`, "generator");
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** The GEMS server and OpenAI-style image servers: FastAPI's error bodies, a key to check. */
const IMAGE_SERVER_ADVICE = {
  credentials: "Check the generator's API key or access rules.",
  notFound: "Check the generator URL.",
  invalidInput: "Check the prompt and size settings.",
};

/** An error status as a retryable failure (429, 408, 5xx) or a final error in the user's words. */
export function httpStatusError(response: Response, label: string): Promise<Error> {
  return statusError(response, label, (_body, text) => serverDetail(text), IMAGE_SERVER_ADVICE);
}

/**
 * The readable part of an error body. FastAPI, which the GEMS server runs on, puts it in
 * `{"detail": "…"}`, or for invalid input `{"detail": [{"loc": [...], "msg": "…"}]}`; proxies
 * send HTML pages whose title is the only useful line.
 */
export function serverDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { detail?: unknown; error?: unknown; message?: unknown };
    const { detail } = parsed ?? {};
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map(validationLine).join("; ");
    if (detail !== undefined) return JSON.stringify(detail);
    if (typeof parsed?.message === "string") return parsed.message;
    const nested = (parsed?.error as { message?: unknown } | undefined)?.message;
    if (typeof nested === "string") return nested;
  } catch {
    // Not JSON: an HTML page or plain text.
  }
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1];
  if (title) return title.trim();
  return text.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
}

function validationLine(item: unknown): string {
  if (!item || typeof item !== "object") return String(item);
  const { loc, msg } = item as { loc?: unknown; msg?: unknown };
  // FastAPI prefixes the location with where the field was read from ("query", "body").
  const where = Array.isArray(loc) ? loc.filter((part) => part !== "query" && part !== "body").join(".") : "";
  return where ? `${where}: ${String(msg)}` : String(msg);
}

export interface DownloadOptions extends Omit<BackendCall, "classify" | "backend"> {
  maxBytes: number;
  fetch?: typeof fetch;
}

/**
 * Fetches an image a server answered with a URL, with the same timeout, size cap and retries as
 * the generate call itself. No credentials are sent: the URL is usually a signed link to object
 * storage, which must not receive the generator's key.
 */
export function downloadImage(url: string, options: DownloadOptions): Promise<Uint8Array> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const label = options.label;
  return callBackend(
    { ...options, backend: "generator", classify: (error) => classifyFetchFailure(error, label) },
    async (signal) => readImageResponse(await fetchImpl(url, { signal, redirect: "follow" }), label, options.maxBytes),
  );
}
