/**
 * Provenance in the image file itself: which job, iteration, prompt and models made it. PNG
 * carries it in iTXt chunks (keywords `gems:<field>`), JPEG in an XMP packet (APP1 segment),
 * WebP in an XMP packet ("XMP " chunk, flagged in VP8X). Surfaces add it when they post or
 * write an image; the image store keeps the generator's bytes as they came.
 *
 * Why not sharp: sharp 0.34 writes XMP (`withXmp`) and EXIF (`withExifMerge`) but only as part
 * of a re-encode, which changes the pixels of JPEG and lossy WebP files and costs far more time
 * (BENCHMARKS.md, `provenance`); and it cannot write PNG text chunks other than XMP. The containers are
 * simple enough to add one block to without touching the image data, so that is done here and
 * tests read the result back through sharp (libvips) as an independent reader.
 */
import { InputError } from "../errors.ts";
import { redactSecrets } from "../secrets.ts";
import { sniffImageType } from "./image-type.ts";
import { readPngText, replacePngText } from "./png.ts";
import type { Trajectory } from "../memory/trajectory.ts";

export interface ImageProvenance {
  jobId: string;
  iteration: number;
  /** The prompt the generator drew this image from. */
  prompt: string;
  /** What the person asked for, when it differs from the prompt. */
  request?: string;
  /** Model names only, never URLs: e.g. "openai-compatible:qwen3-vl", "openai:gpt-image-1". */
  mllm: string;
  generator: string;
  /** Where it was posted: discord, slack, web, cli. */
  surface?: string;
  /** The sha256 of the bytes the generator sent (the image store's key). */
  sourceSha256?: string;
}

/**
 * The provenance of iteration n's image from a job's memory; null when the iteration is not in
 * it. `sourceSha256` is the stored image's hash (it differs from the posted file's own hash).
 */
export function provenanceFor(
  t: Pick<Trajectory, "jobId" | "request" | "iterations" | "models">,
  n: number,
  surface: string,
  sourceSha256?: string,
): ImageProvenance | null {
  const iteration = t.iterations.find((it) => it.n === n);
  if (!iteration) return null;
  return {
    jobId: t.jobId,
    iteration: n,
    prompt: iteration.prompt,
    request: t.request.prompt,
    mllm: t.models?.mllm ?? "unknown",
    generator: t.models?.generator ?? "unknown",
    surface,
    ...(sourceSha256 ?? iteration.imageHash ? { sourceSha256: (sourceSha256 ?? iteration.imageHash) as string } : {}),
  };
}

/** Field order as written and printed. */
export const PROVENANCE_FIELDS = ["jobId", "iteration", "prompt", "request", "mllm", "generator", "surface", "sourceSha256"] as const;
type Field = (typeof PROVENANCE_FIELDS)[number];

const PNG_PREFIX = "gems:";
const SOFTWARE = "GEMS Bot";
const XMP_NS = "urn:gems-bot:provenance:1/";
const XMP_JPEG_HEADER = "http://ns.adobe.com/xap/1.0/\0";
// A JPEG segment's length field is 16 bits and counts itself.
const JPEG_SEGMENT_MAX = 65_533;
// Long prompts are cut so the XMP packet always fits one JPEG segment.
const MAX_TEXT = 8_000;

/**
 * The image with its provenance embedded, in its own format; the image data is not touched.
 * Values pass through redactSecrets, so a key that slipped into a prompt never ships.
 * Throws InputError for bytes that are not a PNG, JPEG or WebP it can rewrite.
 */
export function withProvenance(bytes: Uint8Array, provenance: ImageProvenance): Uint8Array {
  const fields = fieldsOf(provenance);
  try {
    switch (sniffImageType(bytes)) {
      case "image/png":
        return replacePngText(bytes, { Software: SOFTWARE, ...prefixed(fields) }, (keyword) => keyword === "Software" || keyword.startsWith(PNG_PREFIX));
      case "image/jpeg":
        return withJpegXmp(bytes, xmpPacket(fields));
      case "image/webp":
        return withWebpXmp(bytes, xmpPacket(fields));
      case null:
        throw new InputError("These bytes are not a PNG, JPEG or WebP image.");
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`The image could not take its provenance: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

export type ProvenanceReading =
  | { ok: true; contentType: string; provenance: Partial<Record<Field, string>> }
  | { ok: false; reason: "not-an-image" | "no-provenance" | "unreadable"; message: string };

/** What an image file says about where it came from; never throws. */
export function readProvenance(bytes: Uint8Array): ProvenanceReading {
  const contentType = sniffImageType(bytes);
  if (contentType === null) return { ok: false, reason: "not-an-image", message: "it is not a PNG, JPEG or WebP image" };
  let fields: Partial<Record<Field, string>>;
  try {
    if (contentType === "image/png") {
      const text = readPngText(bytes);
      fields = {};
      for (const field of PROVENANCE_FIELDS) {
        const value = text[`${PNG_PREFIX}${field}`];
        if (value !== undefined) fields[field] = value;
      }
    } else {
      const packet = contentType === "image/jpeg" ? jpegXmp(bytes) : webpXmp(bytes);
      fields = packet === null ? {} : parseXmpFields(packet);
    }
  } catch (error) {
    return { ok: false, reason: "unreadable", message: `its ${contentType} structure is damaged (${error instanceof Error ? error.message : String(error)})` };
  }
  if (fields.jobId === undefined) return { ok: false, reason: "no-provenance", message: "it carries no GEMS Bot provenance" };
  return { ok: true, contentType, provenance: fields };
}

function fieldsOf(p: ImageProvenance): Array<[Field, string]> {
  const out: Array<[Field, string]> = [];
  for (const field of PROVENANCE_FIELDS) {
    const value = p[field];
    if (value === undefined || value === "") continue;
    if (field === "request" && value === p.prompt) continue;
    const text = redactSecrets(String(value));
    out.push([field, text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text]);
  }
  return out;
}

const prefixed = (fields: Array<[Field, string]>): Record<string, string> => Object.fromEntries(fields.map(([k, v]) => [`${PNG_PREFIX}${k}`, v]));

// ---- XMP -----------------------------------------------------------------------------------

const escapeXml = (text: string): string =>
  text.replace(/[&<>"\n\r\t]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;" })[c] as string)
    // Characters XML 1.0 cannot hold at all.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");

const unescapeXml = (text: string): string =>
  text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, entity: string) => {
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    if (entity[0] !== "#") return named[entity.toLowerCase()] ?? "";
    const code = entity[1] === "x" || entity[1] === "X" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return String.fromCodePoint(code);
  });

function xmpPacket(fields: Array<[Field, string]>): string {
  const attributes = fields.map(([k, v]) => `\n    gems:${k}="${escapeXml(v)}"`).join("");
  return [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    `  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:gems="${XMP_NS}"`,
    `    xmp:CreatorTool="${SOFTWARE}"${attributes}/>`,
    " </rdf:RDF>",
    "</x:xmpmeta>",
    '<?xpacket end="w"?>',
  ].join("\n");
}

/** Our fields from an XMP packet we (or a tool that kept them as attributes) wrote. */
function parseXmpFields(packet: string): Partial<Record<Field, string>> {
  const prefix = new RegExp(`xmlns:([A-Za-z_][\\w.-]*)="${XMP_NS.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`).exec(packet)?.[1];
  if (!prefix) return {};
  const fields: Partial<Record<Field, string>> = {};
  for (const field of PROVENANCE_FIELDS) {
    const attribute = new RegExp(`\\b${prefix}:${field}="([^"]*)"`).exec(packet);
    const element = attribute ? null : new RegExp(`<${prefix}:${field}>([^<]*)</${prefix}:${field}>`).exec(packet);
    const value = attribute?.[1] ?? element?.[1];
    if (value !== undefined) fields[field] = unescapeXml(value);
  }
  return fields;
}

// ---- JPEG: one APP1 segment with the XMP namespace header ---------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface JpegSegment {
  marker: number;
  start: number;
  end: number;
}

/** The marker segments before the scan data (SOS); what follows is copied as is. */
function jpegHeaderSegments(bytes: Uint8Array): { segments: JpegSegment[]; restAt: number } {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error("no JPEG start-of-image marker");
  const segments: JpegSegment[] = [];
  let offset = 2;
  for (;;) {
    if (offset + 4 > bytes.length) throw new Error("the data ends inside the JPEG header");
    if (bytes[offset] !== 0xff) throw new Error(`expected a JPEG marker at byte ${offset}`);
    const marker = bytes[offset + 1] as number;
    // Fill bytes before a marker are allowed.
    if (marker === 0xff) {
      offset++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return { segments, restAt: offset };
    const length = ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number);
    const end = offset + 2 + length;
    if (length < 2 || end > bytes.length) throw new Error(`a JPEG segment at byte ${offset} runs past the end`);
    segments.push({ marker, start: offset, end });
    offset = end;
  }
}

const isXmpSegment = (bytes: Uint8Array, s: JpegSegment): boolean =>
  s.marker === 0xe1 && decoder.decode(bytes.subarray(s.start + 4, Math.min(s.end, s.start + 4 + XMP_JPEG_HEADER.length))) === XMP_JPEG_HEADER;

/** The image with one XMP APP1 segment (ours) after the JFIF/EXIF ones; any other XMP packet goes. */
function withJpegXmp(bytes: Uint8Array, packet: string): Uint8Array {
  const { segments, restAt } = jpegHeaderSegments(bytes);
  const payload = concat([encoder.encode(XMP_JPEG_HEADER), encoder.encode(packet)]);
  if (payload.length > JPEG_SEGMENT_MAX) throw new Error("the XMP packet is too large for one JPEG segment");
  const segment = new Uint8Array(4 + payload.length);
  segment.set([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  segment.set(payload, 4);
  // JFIF (APP0) and EXIF (APP1) must stay first; the XMP segment goes right after them.
  let lead = 0;
  while (lead < segments.length && (segments[lead]?.marker === 0xe0 || segments[lead]?.marker === 0xe1)) lead++;
  const kept = (list: JpegSegment[]) => list.filter((s) => !isXmpSegment(bytes, s)).map((s) => bytes.subarray(s.start, s.end));
  return concat([bytes.subarray(0, 2), ...kept(segments.slice(0, lead)), segment, ...kept(segments.slice(lead)), bytes.subarray(restAt)]);
}

function jpegXmp(bytes: Uint8Array): string | null {
  const { segments } = jpegHeaderSegments(bytes);
  const xmp = segments.find((s) => isXmpSegment(bytes, s));
  return xmp ? decoder.decode(bytes.subarray(xmp.start + 4 + XMP_JPEG_HEADER.length, xmp.end)) : null;
}

// ---- WebP: an "XMP " chunk, announced by the VP8X header ---------------------------------

interface RiffChunk {
  fourcc: string;
  data: Uint8Array;
}

function webpChunks(bytes: Uint8Array): RiffChunk[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const riffEnd = Math.min(bytes.length, 8 + view.getUint32(4, true));
  const chunks: RiffChunk[] = [];
  let offset = 12;
  while (offset + 8 <= riffEnd) {
    const fourcc = decoder.decode(bytes.subarray(offset, offset + 4));
    const size = view.getUint32(offset + 4, true);
    if (offset + 8 + size > riffEnd) throw new Error(`the WebP ${fourcc.trim()} chunk runs past the end`);
    chunks.push({ fourcc, data: bytes.subarray(offset + 8, offset + 8 + size) });
    offset += 8 + size + (size % 2);
  }
  if (chunks.length === 0) throw new Error("the WebP file has no chunks");
  return chunks;
}

const VP8X_XMP = 0x04;
const VP8X_ALPHA = 0x10;

/** A VP8X header for a simple-format file (one VP8 or VP8L bitstream), which has none. */
function vp8xFor(image: RiffChunk): Uint8Array {
  let width: number;
  let height: number;
  let flags = 0;
  const d = image.data;
  if (image.fourcc === "VP8 ") {
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (little-endian).
    if (d.length < 10 || d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a) throw new Error("the VP8 bitstream has no key frame header");
    width = ((d[6] as number) | ((d[7] as number) << 8)) & 0x3fff;
    height = ((d[8] as number) | ((d[9] as number) << 8)) & 0x3fff;
  } else if (image.fourcc === "VP8L") {
    // Signature 0x2f, then width-1 and height-1 in 14 bits each and the alpha hint bit.
    if (d.length < 5 || d[0] !== 0x2f) throw new Error("the VP8L bitstream has no header");
    const bits = (d[1] as number) | ((d[2] as number) << 8) | ((d[3] as number) << 16) | ((d[4] as number) << 24);
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
    if ((bits >>> 28) & 1) flags |= VP8X_ALPHA;
  } else {
    throw new Error(`a WebP file starting with a ${image.fourcc.trim()} chunk is not supported`);
  }
  const out = new Uint8Array(10);
  out[0] = flags;
  const put24 = (at: number, value: number) => out.set([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff], at);
  put24(4, width - 1);
  put24(7, height - 1);
  return out;
}

function withWebpXmp(bytes: Uint8Array, packet: string): Uint8Array {
  const chunks = webpChunks(bytes).filter((c) => c.fourcc !== "XMP ");
  const first = chunks[0] as RiffChunk;
  const header = first.fourcc === "VP8X" ? Uint8Array.from(first.data) : vp8xFor(first);
  header[0] = (header[0] as number) | VP8X_XMP;
  const body = first.fourcc === "VP8X" ? chunks.slice(1) : chunks;
  const all: RiffChunk[] = [{ fourcc: "VP8X", data: header }, ...body, { fourcc: "XMP ", data: encoder.encode(packet) }];
  const encoded = all.map(riffChunkBytes);
  const size = 4 + encoded.reduce((sum, c) => sum + c.length, 0);
  const head = new Uint8Array(12);
  head.set(encoder.encode("RIFF"), 0);
  new DataView(head.buffer).setUint32(4, size, true);
  head.set(encoder.encode("WEBP"), 8);
  return concat([head, ...encoded]);
}

function riffChunkBytes(chunk: RiffChunk): Uint8Array {
  const out = new Uint8Array(8 + chunk.data.length + (chunk.data.length % 2));
  out.set(encoder.encode(chunk.fourcc), 0);
  new DataView(out.buffer).setUint32(4, chunk.data.length, true);
  out.set(chunk.data, 8);
  return out;
}

function webpXmp(bytes: Uint8Array): string | null {
  const xmp = webpChunks(bytes).find((c) => c.fourcc === "XMP ");
  return xmp ? decoder.decode(xmp.data) : null;
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
