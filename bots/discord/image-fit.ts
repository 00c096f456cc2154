/**
 * Makes an image small enough to upload. Discord refuses the whole message (413) when a file is
 * over the server's upload limit, so an oversized image is scaled down (through sharp, in its
 * own format: PNG, JPEG or WebP, 16-bit and interlaced PNG included) until it fits, rather than
 * losing the iteration's message.
 */
import { fitImage, type EncodedImage } from "../../core/images/sharp-images.ts";

/** The bytes as they are when they fit; otherwise a smaller re-encoding, or null if none fits. */
export function fitUpload(bytes: Uint8Array, maxBytes: number): Promise<EncodedImage | null> {
  return fitImage(bytes, maxBytes);
}
