/**
 * What kind of image a byte string is, read from its first bytes. Generators send PNG, JPEG or
 * WebP and servers' Content-Type headers are often wrong (`application/octet-stream`, or a
 * proxy's `text/html`), so the bytes are the only trustworthy source.
 */

export type ImageContentType = "image/png" | "image/jpeg" | "image/webp";

const EXTENSIONS: Record<ImageContentType, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
};

/** The content type the bytes are, or null when they are none of PNG, JPEG and WebP. */
export function sniffImageType(bytes: Uint8Array): ImageContentType | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  // JPEG: SOI marker then the first segment's marker byte.
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg";
  // WebP: a RIFF container whose form type, at offset 8, is "WEBP".
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes.subarray(8), [0x57, 0x45, 0x42, 0x50])) {
    return "image/webp";
  }
  return null;
}

/** The file extension (no dot) for a content type: png, jpg or webp. */
export function extensionOf(contentType: ImageContentType): string {
  return EXTENSIONS[contentType];
}

/** All extensions the stores may have written, PNG first because every older file is one. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.values(EXTENSIONS);

/** `iteration-2.png` → `iteration-2.jpg` when the bytes are JPEG; names stay as given for PNG. */
export function withImageExtension(name: string, bytes: Uint8Array): string {
  const type = sniffImageType(bytes);
  if (type === null) return name;
  const base = name.replace(/\.(png|jpe?g|webp)$/i, "");
  return `${base}.${extensionOf(type)}`;
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}
