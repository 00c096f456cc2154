/**
 * Reference images as people send them, checked the same way on every surface before anything
 * is stored or queued: how many, how large, and whether the bytes are an image a generator takes.
 * Each refusal is one line that says what is wrong and what to do.
 */
import { sniffImageType, type ImageContentType } from "./image-type.ts";

/** At most this many images per request or feedback entry (OpenAI edits take up to 16; the loop sends each to every check about it). */
export const MAX_REFERENCE_IMAGES = 4;
/** Per image; under OpenAI's 25 MB cap for gpt-image edits and Discord's default upload size. */
export const MAX_REFERENCE_BYTES = 20 * 1024 * 1024;

export interface SentImage {
  /** The file's name as sent, for messages. */
  name: string;
  bytes: Uint8Array;
}

export interface CheckedImage {
  name: string;
  bytes: Uint8Array;
  contentType: ImageContentType;
}

export type ReferenceCheck = { ok: true; images: CheckedImage[] } | { ok: false; message: string };

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;

/** The count alone, checked before anything is downloaded. */
export function checkReferenceCount(count: number): string | null {
  return count > MAX_REFERENCE_IMAGES
    ? `${count} images were sent; the limit is ${MAX_REFERENCE_IMAGES} reference images per request. Send the ones that matter most.`
    : null;
}

/** A declared size, checked before downloading (platforms say how large an attachment is). */
export function checkReferenceSize(name: string, size: number): string | null {
  return size > MAX_REFERENCE_BYTES
    ? `"${name}" is ${megabytes(size)}; reference images may be at most ${megabytes(MAX_REFERENCE_BYTES)}. Send a smaller copy (a JPEG or WebP export will do).`
    : null;
}

/** Count, size and type of every image; the first problem found is the answer. */
export function checkReferenceImages(images: readonly SentImage[]): ReferenceCheck {
  const tooMany = checkReferenceCount(images.length);
  if (tooMany) return { ok: false, message: tooMany };
  const checked: CheckedImage[] = [];
  for (const image of images) {
    const tooLarge = checkReferenceSize(image.name, image.bytes.length);
    if (tooLarge) return { ok: false, message: tooLarge };
    const contentType = sniffImageType(image.bytes);
    if (contentType === null) {
      return { ok: false, message: `"${image.name}" is not a PNG, JPEG or WebP image. Send the picture itself in one of those formats.` };
    }
    checked.push({ name: image.name, bytes: image.bytes, contentType });
  }
  return { ok: true, images: checked };
}
