/**
 * An ImageGenerator for AUTOMATIC1111's stable-diffusion-webui and its forks (Forge, reForge),
 * started with `--api`. `POST /sdapi/v1/txt2img` (or `img2img`, with `init_images` and
 * `denoising_strength`, for an edit or a reference) blocks until the image is done; while it runs,
 * `GET /sdapi/v1/progress` reports the fraction done and the newest preview (`current_image`).
 * The server draws one image at a time (it holds a queue lock), so its progress is ours as long
 * as the server is not shared; a pool gives each A1111 server a capacity of 1 by default.
 */
import { BackendError } from "../errors.ts";
import { sniffImageType } from "../images/image-type.ts";
import { callBackend, hostOf } from "./backend-call.ts";
import {
  GENERATOR_SERVER_DEFAULTS,
  classifyFetchFailure,
  decodeBase64Image,
  requestJson,
  requireImage,
  type DetailOf,
  type GeneratorServerOptions,
} from "./generator-http.ts";
import type { ImageGenerator, ImageRequest } from "./ports.ts";

export interface A1111GeneratorConfig extends GeneratorServerOptions {
  /** The server's root, e.g. "http://gpu-box:7860". */
  url: string;
  /** Sampling steps; the server's default (20) when unset. */
  steps?: number;
  negativePrompt?: string;
  /** Used when a request gives no width and height. */
  size?: { width: number; height: number };
  /** How often progress is polled while an image is drawn. */
  progressIntervalMs?: number;
  /**
   * img2img `denoising_strength` for an edit (low keeps more of the image) and for drawing from a
   * reference (higher follows the prompt more); defaults 0.5 and 0.75 (A1111's own default).
   */
  editStrength?: number;
  referenceStrength?: number;
}

const DEFAULT_EDIT_STRENGTH = 0.5;
const DEFAULT_REFERENCE_STRENGTH = 0.75;

const DEFAULT_PROGRESS_INTERVAL_MS = 1_000;

/**
 * A1111's exception middleware answers `{error, detail, body, errors}`; FastAPI's own request
 * validation answers `{detail: [{loc, msg, type}]}`.
 */
export const a1111Detail: DetailOf = (body) => {
  if (!body || typeof body !== "object") return "";
  const b = body as { error?: unknown; detail?: unknown; errors?: unknown };
  if (Array.isArray(b.detail)) {
    return b.detail
      .map((item: { loc?: unknown[]; msg?: unknown }) => `${(item.loc ?? []).join(".")}: ${String(item.msg ?? "")}`)
      .join("; ");
  }
  const parts = [b.error, b.detail, b.errors].filter((part): part is string => typeof part === "string" && part !== "");
  return [...new Set(parts)].join(": ");
};

export function createA1111Generator(config: A1111GeneratorConfig): ImageGenerator {
  const fetchImpl = config.fetch ?? globalThis.fetch;
  const root = config.url.replace(/\/+$/, "");
  const label = `The AUTOMATIC1111 server at ${hostOf(root)}`;
  const interval = config.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;

  async function txt2img(request: ImageRequest, signal: AbortSignal): Promise<Uint8Array> {
    const width = request.width ?? config.size?.width;
    const height = request.height ?? config.size?.height;
    // img2img starts from an image: the one to edit, else the first reference. Stable Diffusion
    // reads prompts, not instructions, so an edit's instruction goes first in the whole prompt,
    // where the model weighs words most.
    const init = request.edit?.image ?? request.images?.[0];
    const prompt = request.edit ? `${request.edit.instruction}, ${request.prompt}` : request.prompt;
    const img2img =
      init === undefined
        ? {}
        : {
            init_images: [Buffer.from(init).toString("base64")],
            denoising_strength: request.edit ? (config.editStrength ?? DEFAULT_EDIT_STRENGTH) : (config.referenceStrength ?? DEFAULT_REFERENCE_STRENGTH),
          };
    const body = {
      ...img2img,
      prompt,
      negative_prompt: config.negativePrompt ?? "",
      // -1 asks the server for a random seed, which is what an unseeded request means.
      seed: request.seed ?? -1,
      ...(config.steps !== undefined ? { steps: config.steps } : {}),
      ...(width !== undefined && height !== undefined ? { width, height } : {}),
      batch_size: 1,
      n_iter: 1,
      send_images: true,
      save_images: false,
    };
    const route = init === undefined ? "txt2img" : "img2img";
    const answer = (await requestJson(fetchImpl, `${root}/sdapi/v1/${route}`, { body, signal }, label, a1111Detail)) as {
      images?: unknown;
    };
    const first = Array.isArray(answer.images) ? answer.images[0] : undefined;
    if (typeof first !== "string" || first === "") {
      throw new BackendError(`${label} answered without an image (no images[0]).`, "generator");
    }
    return requireImage(decodeBase64Image(first), label, "an image");
  }

  return {
    name: `a1111:${hostOf(root)}`,
    // img2img takes one init image: an edit's, or the first reference.
    capabilities: { references: true, edit: true },
    async generate(request: ImageRequest): Promise<Uint8Array> {
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
        async (signal) => {
          const onProgress = request.onProgress;
          if (!onProgress) return txt2img(request, signal);
          const stopPolling = new AbortController();
          const polling = pollProgress(fetchImpl, root, interval, AbortSignal.any([signal, stopPolling.signal]), onProgress);
          try {
            return await txt2img(request, signal);
          } finally {
            stopPolling.abort();
            await polling;
          }
        },
      );
    },
  };
}

/**
 * Polls `/sdapi/v1/progress` until `signal` aborts. Previews are a courtesy: a failed poll is
 * skipped, never a reason to fail the image, so this never throws.
 */
async function pollProgress(
  fetchImpl: typeof fetch,
  root: string,
  intervalMs: number,
  signal: AbortSignal,
  onProgress: NonNullable<ImageRequest["onProgress"]>,
): Promise<void> {
  let lastPreview = "";
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (signal.aborted) return;
    try {
      const response = await fetchImpl(`${root}/sdapi/v1/progress?skip_current_image=false`, { signal });
      if (!response.ok) continue;
      const body = (await response.json()) as { progress?: unknown; current_image?: unknown; state?: { job_count?: unknown } };
      // job_count 0: the server has not started our image yet (or is between images).
      if (typeof body.progress !== "number" || body.state?.job_count === 0) continue;
      const image = typeof body.current_image === "string" && body.current_image !== "" ? body.current_image : null;
      const isNewPreview = image !== null && image !== lastPreview;
      if (image !== null) lastPreview = image;
      const preview = isNewPreview ? decodeBase64Image(image) : null;
      onProgress({ percent: clampPercent(body.progress * 100), preview: preview && sniffImageType(preview) ? preview : null });
    } catch {
      // Aborted or unreadable: the next poll (or the finished image) makes up for it.
    }
  }
}

function clampPercent(value: number): number {
  return Math.max(0, Math.min(100, Math.round(value)));
}
