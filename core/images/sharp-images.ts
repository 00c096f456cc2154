/**
 * Decoding, resizing and converting images that come from real generators, through sharp
 * (libvips). It reads what generators actually send (8- and 16-bit PNG, interlaced PNG, JPEG,
 * WebP), which the hand-written codec in png.ts cannot; png.ts stays for the sim's drawings.
 * The agent loop never imports this: sharp is for adapters and surfaces.
 */
import sharp from "sharp";
import { InputError } from "../errors.ts";
import { sniffImageType, type ImageContentType } from "./image-type.ts";

export interface ImageInfo {
  contentType: ImageContentType;
  width: number;
  height: number;
  /** 8 or 16 bits per channel. */
  bitsPerChannel: number;
  isInterlaced: boolean;
}

export interface EncodedImage {
  bytes: Uint8Array;
  contentType: ImageContentType;
}

/** Images from the outside are bounded: a decompression bomb must not take the process down. */
const LIMIT_INPUT_PIXELS = 16_384 * 16_384;
const MIN_SIDE = 64;

function open(bytes: Uint8Array): sharp.Sharp {
  return sharp(bytes, { limitInputPixels: LIMIT_INPUT_PIXELS, failOn: "error" });
}

function notAnImage(bytes: Uint8Array, cause?: unknown): InputError {
  return new InputError(`These ${bytes.byteLength} bytes are not a PNG, JPEG or WebP image that can be read.`, { cause });
}

/** Format, size and depth, read from the header; throws an InputError otherwise. */
export async function readImageInfo(bytes: Uint8Array): Promise<ImageInfo> {
  const contentType = sniffImageType(bytes);
  if (contentType === null) throw notAnImage(bytes);
  try {
    const meta = await open(bytes).metadata();
    if (!meta.width || !meta.height) throw new Error("no dimensions");
    return {
      contentType,
      width: meta.width,
      height: meta.height,
      bitsPerChannel: meta.depth === "ushort" ? 16 : 8,
      isInterlaced: meta.isProgressive === true,
    };
  } catch (error) {
    throw notAnImage(bytes, error);
  }
}

/** 8-bit RGBA pixels of any supported image, e.g. for comparing images in tests or the sim. */
export async function decodeRgba(bytes: Uint8Array): Promise<{ width: number; height: number; rgba: Uint8Array }> {
  try {
    const { data, info } = await open(bytes).ensureAlpha().toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({
      resolveWithObject: true,
    });
    return { width: info.width, height: info.height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    throw notAnImage(bytes, error);
  }
}

async function encode(pipeline: sharp.Sharp, contentType: ImageContentType, quality = 85): Promise<EncodedImage> {
  const formatted =
    contentType === "image/jpeg"
      ? pipeline.jpeg({ quality, mozjpeg: true })
      : contentType === "image/webp"
        ? pipeline.webp({ quality })
        : pipeline.png({ compressionLevel: 9, adaptiveFiltering: true });
  const buffer = await formatted.toBuffer();
  return { bytes: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), contentType };
}

/** The image re-encoded as another format (8 bits per channel), e.g. WebP for the studio. */
export async function convertImage(bytes: Uint8Array, to: ImageContentType): Promise<EncodedImage> {
  await readImageInfo(bytes);
  return encode(open(bytes).rotate(), to);
}

/**
 * A small copy for previews and the studio's filmstrip: the longer side at most `maxSide`,
 * never enlarged, as WebP unless asked otherwise.
 */
export async function thumbnail(
  bytes: Uint8Array,
  maxSide: number,
  to: ImageContentType = "image/webp",
): Promise<EncodedImage> {
  await readImageInfo(bytes);
  return encode(open(bytes).rotate().resize(maxSide, maxSide, { fit: "inside", withoutEnlargement: true }), to, 80);
}

/**
 * The bytes as they are when they fit under `maxBytes`; otherwise the same format re-encoded,
 * then scaled down step by step (lower quality first for JPEG and WebP) until it fits. Null
 * when even a 64-pixel image would not fit or the bytes cannot be read: a surface then posts
 * its message without the image instead of losing the whole message.
 */
export async function fitImage(bytes: Uint8Array, maxBytes: number): Promise<EncodedImage | null> {
  let info: ImageInfo;
  try {
    info = await readImageInfo(bytes);
  } catch {
    return null;
  }
  if (bytes.byteLength <= maxBytes) return { bytes, contentType: info.contentType };
  const qualities = info.contentType === "image/png" ? [100] : [85, 70];
  for (let scale = 1; Math.min(info.width, info.height) * scale >= MIN_SIDE; scale *= 0.7) {
    const width = Math.max(1, Math.round(info.width * scale));
    for (const quality of qualities) {
      const encoded = await encode(open(bytes).resize(width), info.contentType, quality);
      if (encoded.bytes.byteLength <= maxBytes) return encoded;
    }
  }
  return null;
}
