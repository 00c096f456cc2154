import { crc32, deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodePng, encodePng, isPng, readPngInfo, readPngText } from "../../core/images/png.ts";

function gradient(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([(i * 7) % 256, (i * 13) % 256, (i * 29) % 256, 255 - (i % 200)], i * 4);
  return rgba;
}

/** A PNG written independently of encodePng, with any colour type and per-row filters. */
function handMadePng(width: number, height: number, colourType: number, rows: Uint8Array[], extra: Array<[string, Uint8Array]> = []): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, colourType, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    ...extra.map(([type, data]) => chunk(type, data)),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/** Filters one row of RGB pixels with the given PNG filter type. */
function filterRow(type: number, row: Uint8Array, previous: Uint8Array | null, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = type;
  for (let x = 0; x < row.length; x++) {
    const a = x >= bpp ? row[x - bpp]! : 0;
    const b = previous ? previous[x]! : 0;
    const c = previous && x >= bpp ? previous[x - bpp]! : 0;
    const p = a + b - c;
    const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
    const predictor = [0, a, b, (a + b) >> 1, paeth][type]!;
    out[x + 1] = (row[x]! - predictor) & 0xff;
  }
  return out;
}

describe("png codec", () => {
  it("round-trips RGBA pixels and reports the size", () => {
    const rgba = gradient(37, 19);
    const png = encodePng({ width: 37, height: 19, rgba });
    expect(isPng(png)).toBe(true);
    expect(readPngInfo(png)).toEqual({ width: 37, height: 19 });
    const decoded = decodePng(png);
    expect(decoded.width).toBe(37);
    expect(decoded.height).toBe(19);
    expect(Buffer.from(decoded.rgba).equals(Buffer.from(rgba))).toBe(true);
  });

  it("keeps UTF-8 text chunks intact, JSON with accents and emoji included", () => {
    const json = JSON.stringify({ text: "Café ☕ — naïve", n: 3 });
    const png = encodePng({ width: 2, height: 2, rgba: gradient(2, 2), text: { "gems-sim-scene": json, Software: "test" } });
    expect(readPngText(png)).toEqual({ "gems-sim-scene": json, Software: "test" });
  });

  it("reads latin-1 tEXt chunks written by other tools", () => {
    const data = Buffer.concat([Buffer.from("Comment", "latin1"), Buffer.from([0]), Buffer.from("made elsewhere", "latin1")]);
    const png = handMadePng(1, 1, 6, [Uint8Array.from([0, 1, 2, 3, 4])], [["tEXt", data]]);
    expect(readPngText(png)).toEqual({ Comment: "made elsewhere" });
  });

  it("decodes RGB images whose rows use every filter type", () => {
    const width = 5;
    const rows = Array.from({ length: 5 }, (_, y) => Uint8Array.from({ length: width * 3 }, (_, x) => (x * 31 + y * 57 + x * y) % 256));
    const filtered = rows.map((row, y) => filterRow(y, row, y > 0 ? rows[y - 1]! : null, 3));
    const decoded = decodePng(handMadePng(width, 5, 2, filtered));
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < width; x++) {
        const at = (y * width + x) * 4;
        expect([...decoded.rgba.subarray(at, at + 4)]).toEqual([...rows[y]!.subarray(x * 3, x * 3 + 3), 255]);
      }
    }
  });

  it("rejects bytes that are not a PNG with a message saying so", () => {
    const garbage = new TextEncoder().encode("definitely not an image");
    expect(isPng(garbage)).toBe(false);
    expect(() => readPngInfo(garbage)).toThrow(/^Not a PNG image/);
    expect(() => decodePng(garbage)).toThrow(/^Not a PNG image/);
    expect(() => readPngText(new Uint8Array(0))).toThrow(/^Not a PNG image/);
  });

  it("rejects a truncated PNG with a message naming the truncation", () => {
    const png = encodePng({ width: 16, height: 16, rgba: gradient(16, 16) });
    expect(() => readPngInfo(png.subarray(0, 20))).toThrow(/^Truncated PNG/);
    expect(() => decodePng(png.subarray(0, png.length - 20))).toThrow(/^Truncated PNG/);
  });

  it("rejects a chunk whose CRC does not match", () => {
    const png = encodePng({ width: 4, height: 4, rgba: gradient(4, 4) });
    const corrupt = Uint8Array.from(png);
    corrupt[20] = corrupt[20]! ^ 0xff; // inside IHDR's data
    expect(() => readPngInfo(corrupt)).toThrow(/CRC/);
  });

  it("refuses to encode pixels that do not match the size", () => {
    expect(() => encodePng({ width: 4, height: 4, rgba: new Uint8Array(10) })).toThrow(/expected 64 RGBA bytes/);
  });
});
