/**
 * What the sim shows while it "draws": the finished picture at ever finer block sizes, the way a
 * diffusion preview sharpens from a blur. Partials carry no scene chunk, so nothing can mistake
 * one for a finished sim image (the verifier reads only that chunk).
 */
import { decodePng, encodePng } from "../../core/images/png.ts";

/** Partial images the sim sends per image, like OpenAI's `partial_images` (0–3). */
export const DEFAULT_PARTIAL_IMAGES = 3;

export interface PartialDrawing {
  /** 0–100, how far along this partial is. */
  percent: number;
  png: Uint8Array;
}

/** `count` partials of a finished sim PNG, coarsest first; none of them equals the final image. */
export function partialDrawings(finished: Uint8Array, count: number): PartialDrawing[] {
  if (count <= 0) return [];
  const { width, height, rgba } = decodePng(finished);
  const drawings: PartialDrawing[] = [];
  for (let i = 0; i < count; i++) {
    // Blocks halve at each step: 1/8, 1/16, 1/32… of the shorter side, never below 2 pixels.
    const block = Math.max(2, Math.floor(Math.min(width, height) / 2 ** (3 + i)));
    drawings.push({
      percent: Math.round(((i + 1) * 100) / (count + 1)),
      png: encodePng({ width, height, rgba: pixelate(rgba, width, height, block), text: { Software: "GEMS Bot sim generator, partial drawing" } }),
    });
  }
  return drawings;
}

/** Each block takes the colour of its centre pixel: cheap, and the shapes stay recognisable. */
function pixelate(rgba: Uint8Array, width: number, height: number, block: number): Uint8Array {
  const out = new Uint8Array(rgba.length);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(height - 1, Math.floor(y / block) * block + (block >> 1));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(width - 1, Math.floor(x / block) * block + (block >> 1));
      const from = (sy * width + sx) * 4;
      out.set(rgba.subarray(from, from + 4), (y * width + x) * 4);
    }
  }
  return out;
}
