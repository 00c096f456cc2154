/**
 * Makes an image small enough to upload. Discord refuses the whole message (413) when a file is
 * over the server's upload limit, so an oversized image is scaled down (through sharp, in its
 * own format: PNG, JPEG or WebP, 16-bit and interlaced PNG included) until it fits, rather than
 * losing the iteration's message.
 */
import { withProvenance, type ImageProvenance } from "../../core/images/provenance.ts";
import { fitImage, type EncodedImage } from "../../core/images/sharp-images.ts";

/** The bytes as they are when they fit; otherwise a smaller re-encoding, or null if none fits. */
export function fitUpload(bytes: Uint8Array, maxBytes: number): Promise<EncodedImage | null> {
  return fitImage(bytes, maxBytes);
}

/**
 * fitUpload with the provenance written in, still under `maxBytes`: the metadata's own bytes
 * count, so an image that fits only bare is shrunk by that much more. When the metadata cannot
 * be written, `onUntagged` hears why and the image goes up without it.
 */
export async function fitUploadWithProvenance(
  bytes: Uint8Array,
  maxBytes: number,
  provenance: ImageProvenance | undefined,
  onUntagged: (error: unknown) => void,
): Promise<EncodedImage | null> {
  const fitted = await fitUpload(bytes, maxBytes);
  if (!fitted || !provenance) return fitted;
  let tagged: Uint8Array;
  try {
    tagged = withProvenance(fitted.bytes, provenance);
  } catch (error) {
    onUntagged(error);
    return fitted;
  }
  if (tagged.byteLength <= maxBytes) return { ...fitted, bytes: tagged };
  const smaller = await fitUpload(bytes, maxBytes - (tagged.byteLength - fitted.bytes.byteLength));
  return smaller ? { ...smaller, bytes: withProvenance(smaller.bytes, provenance) } : null;
}
