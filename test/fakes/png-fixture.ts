/** A valid 1×1 PNG (70 bytes): what the fakes answer when a test does not care which image. */
export const TINY_PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

export const TINY_PNG: Uint8Array = new Uint8Array(Buffer.from(TINY_PNG_BASE64, "base64"));
