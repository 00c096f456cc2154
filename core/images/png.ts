/**
 * A minimal PNG codec on node:zlib, so images can be made, inspected and annotated without an
 * image library. It writes 8-bit RGBA and reads the 8-bit, non-interlaced forms common tools emit.
 */
import { crc32, deflateSync, inflateSync } from "node:zlib";

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_SIDE = 16_384;

export interface PngImage {
  width: number;
  height: number;
  /** Row-major pixels, four bytes (r, g, b, a) each. */
  rgba: Uint8Array;
}

export interface PngEncodeInput extends PngImage {
  /** Text chunks to embed, keyword → value; written as uncompressed iTXt so UTF-8 survives. */
  text?: Record<string, string>;
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

/** True when the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= SIGNATURE.length && SIGNATURE.every((byte, i) => bytes[i] === byte);
}

/** Encodes 8-bit RGBA pixels as a PNG, with optional text chunks. */
export function encodePng(input: PngEncodeInput): Uint8Array {
  const { width, height, rgba } = input;
  checkSize(width, height);
  if (rgba.length !== width * height * 4) {
    throw new Error(`encodePng: expected ${width * height * 4} RGBA bytes for ${width}x${height}, got ${rgba.length}.`);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type RGBA, deflate, filter set 0, no interlace

  const stride = width * 4;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    // Filter byte stays 0 (None): simplest, and the sim's flat colours deflate well without help.
    raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }

  const chunks: Chunk[] = [{ type: "IHDR", data: header }];
  for (const [keyword, value] of Object.entries(input.text ?? {})) {
    chunks.push({ type: "iTXt", data: itxtData(keyword, value) });
  }
  chunks.push({ type: "IDAT", data: deflateSync(raw) });
  chunks.push({ type: "IEND", data: new Uint8Array(0) });
  return concat([SIGNATURE, ...chunks.map(chunkBytes)]);
}

/** Width and height from the IHDR chunk; throws a descriptive Error for anything that is not a PNG. */
export function readPngInfo(bytes: Uint8Array): { width: number; height: number } {
  const header = readHeader(readChunks(bytes, { stopAfterHeader: true }));
  return { width: header.width, height: header.height };
}

/** All tEXt, zTXt and iTXt chunks as keyword → text; a later chunk with the same keyword wins. */
export function readPngText(bytes: Uint8Array): Record<string, string> {
  const text: Record<string, string> = {};
  for (const chunk of readChunks(bytes)) {
    if (chunk.type === "tEXt") {
      const [keyword, rest] = splitAtNul(chunk.data);
      text[latin1(keyword)] = latin1(rest);
    } else if (chunk.type === "zTXt") {
      // The byte after the keyword is the compression method; 0 (deflate) is the only one defined.
      const [keyword, rest] = splitAtNul(chunk.data);
      text[latin1(keyword)] = latin1(inflateSync(rest.subarray(1)));
    } else if (chunk.type === "iTXt") {
      // keyword NUL, compression flag, method, language tag NUL, translated keyword NUL, text.
      const [keyword, afterKeyword] = splitAtNul(chunk.data);
      const compressed = afterKeyword[0] === 1;
      const [, afterLanguage] = splitAtNul(afterKeyword.subarray(2));
      const [, body] = splitAtNul(afterLanguage);
      text[latin1(keyword)] = new TextDecoder().decode(compressed ? inflateSync(body) : body);
    }
  }
  return text;
}

/**
 * The same PNG with its text chunks replaced: chunks whose keyword `isReplaced` accepts are
 * dropped, and `text` is written as uncompressed iTXt right after IHDR. Every other chunk
 * (pixels included) is copied byte for byte, so this works on any PNG a generator sends
 * (16-bit, interlaced, palette) and never re-encodes the image.
 */
export function replacePngText(bytes: Uint8Array, text: Record<string, string>, isReplaced: (keyword: string) => boolean): Uint8Array {
  const chunks = readChunks(bytes);
  readHeader(chunks);
  const kept = chunks.filter((chunk) => {
    if (chunk.type !== "tEXt" && chunk.type !== "zTXt" && chunk.type !== "iTXt") return true;
    const nul = chunk.data.indexOf(0);
    return !isReplaced(latin1(nul < 0 ? chunk.data : chunk.data.subarray(0, nul)));
  });
  const added = Object.entries(text).map(([keyword, value]) => ({ type: "iTXt", data: itxtData(keyword, value) }));
  return concat([SIGNATURE, ...[kept[0] as Chunk, ...added, ...kept.slice(1)].map(chunkBytes)]);
}

/** Decodes an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA or palette) to RGBA. */
export function decodePng(bytes: Uint8Array): PngImage {
  const chunks = readChunks(bytes);
  const header = readHeader(chunks);
  if (header.bitDepth !== 8) throw new Error(`Unsupported PNG: bit depth ${header.bitDepth} (only 8 is supported).`);
  if (header.interlace !== 0) throw new Error("Unsupported PNG: interlaced images are not supported.");
  const channels = CHANNELS[header.colourType];
  if (channels === undefined) throw new Error(`Unsupported PNG: colour type ${header.colourType}.`);

  const idat = chunks.filter((chunk) => chunk.type === "IDAT").map((chunk) => chunk.data);
  if (idat.length === 0) throw new Error("Invalid PNG: no IDAT chunk with pixel data.");
  let raw: Uint8Array;
  try {
    raw = inflateSync(concat(idat));
  } catch (error) {
    throw new Error("Invalid PNG: the pixel data does not inflate.", { cause: error });
  }
  const { width, height } = header;
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) {
    throw new Error(`Truncated PNG: pixel data holds ${raw.length} bytes, ${(stride + 1) * height} needed.`);
  }
  const pixels = unfilter(raw, width, height, channels);
  const palette = header.colourType === 3 ? readPalette(chunks) : null;
  return { width, height, rgba: toRgba(pixels, width * height, header.colourType, palette) };
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlace: number;
}

function readHeader(chunks: Chunk[]): Header {
  const first = chunks[0];
  if (!first || first.type !== "IHDR" || first.data.length !== 13) {
    throw new Error("Invalid PNG: the first chunk is not a 13-byte IHDR.");
  }
  const view = new DataView(first.data.buffer, first.data.byteOffset, 13);
  const header = {
    width: view.getUint32(0),
    height: view.getUint32(4),
    bitDepth: view.getUint8(8),
    colourType: view.getUint8(9),
    interlace: view.getUint8(12),
  };
  checkSize(header.width, header.height);
  return header;
}

function checkSize(width: number, height: number): void {
  const fits = (side: number) => Number.isInteger(side) && side >= 1 && side <= MAX_SIDE;
  if (!fits(width) || !fits(height)) {
    throw new Error(`PNG size ${width}x${height} is out of range (1 to ${MAX_SIDE} pixels per side).`);
  }
}

function readChunks(bytes: Uint8Array, options: { stopAfterHeader?: boolean } = {}): Chunk[] {
  if (!isPng(bytes)) throw new Error("Not a PNG image: the bytes do not start with the PNG signature.");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: Chunk[] = [];
  let offset = SIGNATURE.length;
  for (;;) {
    if (offset + 12 > bytes.length) {
      throw new Error(`Truncated PNG: the data ends at byte ${bytes.length}, inside a chunk header (no IEND chunk).`);
    }
    const length = view.getUint32(offset);
    const type = latin1(bytes.subarray(offset + 4, offset + 8));
    const end = offset + 12 + length;
    if (end > bytes.length) {
      throw new Error(`Truncated PNG: the ${type} chunk needs ${length} bytes but the data ends at byte ${bytes.length}.`);
    }
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== view.getUint32(offset + 8 + length)) {
      throw new Error(`Corrupt PNG: the ${type} chunk fails its CRC check.`);
    }
    chunks.push({ type, data });
    if (type === "IEND" || (options.stopAfterHeader && type === "IHDR")) return chunks;
    offset = end;
  }
}

function unfilter(raw: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? out[row + x - channels]! : 0;
      const up = y > 0 ? out[row - stride + x]! : 0;
      const upLeft = y > 0 && x >= channels ? out[row - stride + x - channels]! : 0;
      out[row + x] = (line[x]! + predict(filter, left, up, upLeft, y)) & 0xff;
    }
  }
  return out;
}

function predict(filter: number | undefined, left: number, up: number, upLeft: number, y: number): number {
  switch (filter) {
    case 0:
      return 0;
    case 1:
      return left;
    case 2:
      return up;
    case 3:
      return (left + up) >> 1;
    case 4:
      return paeth(left, up, upLeft);
    default:
      throw new Error(`Invalid PNG: row ${y} uses unknown filter type ${String(filter)}.`);
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

function readPalette(chunks: Chunk[]): Uint8Array {
  const plte = chunks.find((chunk) => chunk.type === "PLTE");
  if (!plte) throw new Error("Invalid PNG: a palette image has no PLTE chunk.");
  const alpha = chunks.find((chunk) => chunk.type === "tRNS")?.data;
  const entries = Math.floor(plte.data.length / 3);
  const palette = new Uint8Array(256 * 4);
  for (let i = 0; i < entries; i++) {
    palette.set(plte.data.subarray(i * 3, i * 3 + 3), i * 4);
    palette[i * 4 + 3] = alpha?.[i] ?? 255;
  }
  return palette;
}

function toRgba(pixels: Uint8Array, count: number, colourType: number, palette: Uint8Array | null): Uint8Array {
  if (colourType === 6) return pixels;
  const rgba = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) {
    const o = i * 4;
    switch (colourType) {
      case 0:
        rgba.fill(pixels[i]!, o, o + 3);
        rgba[o + 3] = 255;
        break;
      case 2:
        rgba.set(pixels.subarray(i * 3, i * 3 + 3), o);
        rgba[o + 3] = 255;
        break;
      case 3:
        rgba.set(palette!.subarray(pixels[i]! * 4, pixels[i]! * 4 + 4), o);
        break;
      case 4:
        rgba.fill(pixels[i * 2]!, o, o + 3);
        rgba[o + 3] = pixels[i * 2 + 1]!;
        break;
    }
  }
  return rgba;
}

function itxtData(keyword: string, value: string): Uint8Array {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) {
    throw new Error(`encodePng: text keyword "${keyword}" must be 1-79 printable ASCII characters.`);
  }
  const encoder = new TextEncoder();
  // keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL.
  return concat([encoder.encode(keyword), Uint8Array.from([0, 0, 0, 0, 0]), encoder.encode(value)]);
}

function chunkBytes(chunk: Chunk): Uint8Array {
  const out = new Uint8Array(12 + chunk.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, chunk.data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = chunk.type.charCodeAt(i);
  out.set(chunk.data, 8);
  view.setUint32(8 + chunk.data.length, crc32(out.subarray(4, 8 + chunk.data.length)));
  return out;
}

function splitAtNul(data: Uint8Array): [Uint8Array, Uint8Array] {
  const nul = data.indexOf(0);
  if (nul < 0) throw new Error("Invalid PNG: a text chunk has no NUL separator.");
  return [data.subarray(0, nul), data.subarray(nul + 1)];
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
