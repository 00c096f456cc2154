/**
 * Makes a PNG small enough to upload. Discord refuses the whole message (413) when a file is
 * over the server's upload limit, so an oversized image is halved (2×2 box average) and
 * re-encoded until it fits, rather than losing the iteration's message.
 */
import { decodePng, encodePng, type PngImage } from "../../core/images/png.ts";

const MIN_SIDE = 64;

/** The bytes as they are when they fit; otherwise a smaller re-encoding, or null if none fits. */
export function fitPng(png: Uint8Array, maxBytes: number): Uint8Array | null {
  if (png.byteLength <= maxBytes) return png;
  let image: PngImage;
  try {
    image = decodePng(png);
  } catch {
    // A format our codec cannot read (16-bit, interlaced): post the message without the image.
    return null;
  }
  // Re-encoding alone may already fit (the source may have been stored uncompressed).
  let encoded = encodePng(image);
  while (encoded.byteLength > maxBytes) {
    if (image.width < MIN_SIDE * 2 || image.height < MIN_SIDE * 2) return null;
    image = halve(image);
    encoded = encodePng(image);
  }
  return encoded;
}

function halve(image: PngImage): PngImage {
  const width = Math.floor(image.width / 2);
  const height = Math.floor(image.height / 2);
  const rgba = new Uint8Array(width * height * 4);
  const stride = image.width * 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const top = (y * 2) * stride + x * 2 * 4;
      const bottom = top + stride;
      for (let c = 0; c < 4; c++) {
        const sum = (image.rgba[top + c] ?? 0) + (image.rgba[top + 4 + c] ?? 0) + (image.rgba[bottom + c] ?? 0) + (image.rgba[bottom + 4 + c] ?? 0);
        rgba[(y * width + x) * 4 + c] = Math.round(sum / 4);
      }
    }
  }
  return { width, height, rgba };
}
