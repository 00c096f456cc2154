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

/**
 * The partials of a finished sim PNG, coarsest first, made one at a time as the caller asks
 * for them (so their cost can overlap the generator's simulated wait). None equals the final
 * image: the finest block is still 2 pixels or more.
 */
export function* partialDrawings(finished: Uint8Array, count: number): Generator<PartialDrawing> {
  if (count <= 0) return;
  const { width, height, rgba } = decodePng(finished);
  for (let i = 0; i < count; i++) {
    // Blocks halve at each step: 1/8, 1/16, 1/32… of the shorter side, never below 2 pixels.
    const block = Math.max(2, Math.floor(Math.min(width, height) / 2 ** (3 + i)));
    yield {
      percent: Math.round(((i + 1) * 100) / (count + 1)),
      png: encodePng({ width, height, rgba: pixelate(rgba, width, height, block), text: { Software: "GEMS Bot sim generator, partial drawing" } }),
    };
  }
}

/** Each block takes the colour of its centre pixel: cheap, and the shapes stay recognisable. */
function pixelate(rgba: Uint8Array, width: number, height: number, block: number): Uint8Array {
  const out = new Uint8Array(rgba.length);
  const source = new Uint32Array(rgba.buffer, rgba.byteOffset, width * height);
  const target = new Uint32Array(out.buffer);
  const stride = width * 4;
  for (let top = 0; top < height; top += block) {
    const sy = Math.min(height - 1, top + (block >> 1));
    // One row of the block, then copied down the block's other rows.
    for (let x = 0; x < width; x++) target[top * width + x] = source[sy * width + Math.min(width - 1, Math.floor(x / block) * block + (block >> 1))]!;
    for (let y = top + 1; y < Math.min(height, top + block); y++) out.copyWithin(y * stride, top * stride, (top + 1) * stride);
  }
  return out;
}
