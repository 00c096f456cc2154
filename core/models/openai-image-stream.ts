/**
 * gpt-image models can stream: with `stream: true` and `partial_images: N` (0–3) the Images
 * API answers server-sent events, `image_generation.partial_image` (b64_json,
 * partial_image_index from 0) up to N times while it draws, then `image_generation.completed`
 * (b64_json of the final image). The partial images become previews. Used only when someone
 * listens (`onProgress`), since a stream costs the same image but more bytes on the wire.
 */
import type OpenAI from "openai";
import type { ImageGenerateParamsNonStreaming, ImagesResponse } from "openai/resources/images";
import { sniffImageType } from "../images/image-type.ts";
import { decodeBase64Image } from "./generator-http.ts";
import type { ImageProgress } from "./ports.ts";

/** The API's maximum; each partial costs extra output tokens (100 per partial image). */
export const PARTIAL_IMAGES = 2;

/** Only the gpt-image family streams partial images; DALL·E refuses `stream`. */
export function canStreamImages(model: string): boolean {
  return model.startsWith("gpt-image");
}

/**
 * Generates with the stream on, calling `onProgress` per partial image, and answers in the
 * shape of a non-streamed response so the caller reads the image the same way.
 */
export async function generateStreamed(
  client: OpenAI,
  params: ImageGenerateParamsNonStreaming,
  signal: AbortSignal,
  onProgress: (progress: ImageProgress) => void,
): Promise<Pick<ImagesResponse, "data">> {
  const stream = await client.images.generate({ ...params, stream: true, partial_images: PARTIAL_IMAGES }, { signal });
  for await (const event of stream) {
    if (event.type === "image_generation.partial_image") {
      const preview = decodeBase64Image(event.b64_json);
      // Partial i of N: the final image is the N+1th step.
      const percent = Math.round(((event.partial_image_index + 1) / (PARTIAL_IMAGES + 1)) * 100);
      onProgress({ percent, preview: sniffImageType(preview) ? preview : null });
    } else if (event.type === "image_generation.completed") {
      return { data: [{ b64_json: event.b64_json }] };
    }
  }
  // No completed event: the caller's "answered without an image" names the problem.
  return { data: [] };
}
