import { encodePng } from "../../core/images/png.ts";

/** A valid 1×1 PNG (70 bytes): what the fakes answer when a test does not care which image. */
export const TINY_PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

export const TINY_PNG: Uint8Array = new Uint8Array(Buffer.from(TINY_PNG_BASE64, "base64"));

/** A 1×1 baseline JPEG: what a server configured for JPEG output (or a CDN re-encoding) sends. */
export const JPEG_BYTES: Uint8Array = new Uint8Array(
  Buffer.from(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=",
    "base64",
  ),
);

/** A 1×1 lossless WebP (RIFF container, "WEBP" form type). */
export const WEBP_BYTES: Uint8Array = new Uint8Array(Buffer.from("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==", "base64"));

/**
 * Deterministic noise (xorshift32 from `seed`). Noise deflates badly, so images made of it are
 * large for their size and byte limits really bite.
 */
export function noiseBytes(length: number, seed = 2463534242): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** A width×width PNG of RGBA noise. */
export const noisePng = (width: number): Uint8Array => encodePng({ width, height: width, rgba: noiseBytes(width * width * 4) });
