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
