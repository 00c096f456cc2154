import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { InputError } from "../../core/errors.ts";
import { sniffImageType, withImageExtension } from "../../core/images/image-type.ts";
import { convertImage, decodeRgba, fitImage, readImageInfo, thumbnail } from "../../core/images/sharp-images.ts";
import { noiseBytes } from "../fakes/png-fixture.ts";

/** A noisy picture: noise does not compress, so byte caps really bite. */
async function picture(width: number, height: number): Promise<sharp.Sharp> {
  return sharp(noiseBytes(width * height * 3, 12345), { raw: { width, height, channels: 3 } });
}

const bytesOf = async (image: sharp.Sharp): Promise<Uint8Array> => new Uint8Array(await image.toBuffer());

describe("reading what generators send", () => {
  it("reads JPEG, WebP, 16-bit PNG and interlaced PNG", async () => {
    const jpeg = await bytesOf((await picture(40, 30)).jpeg());
    const webp = await bytesOf((await picture(40, 30)).webp());
    const deep = await bytesOf((await picture(40, 30)).toColourspace("rgb16").png());
    const interlaced = await bytesOf((await picture(40, 30)).png({ progressive: true }));

    expect(await readImageInfo(jpeg)).toMatchObject({ contentType: "image/jpeg", width: 40, height: 30 });
    expect(await readImageInfo(webp)).toMatchObject({ contentType: "image/webp", width: 40, height: 30 });
    expect(await readImageInfo(deep)).toMatchObject({ contentType: "image/png", bitsPerChannel: 16 });
    expect(await readImageInfo(interlaced)).toMatchObject({ contentType: "image/png", isInterlaced: true });
    for (const bytes of [jpeg, webp, deep, interlaced]) {
      const { width, height, rgba } = await decodeRgba(bytes);
      expect([width, height, rgba.byteLength]).toEqual([40, 30, 40 * 30 * 4]);
    }
  });

  it("sniffs the type from the bytes and names files after it", async () => {
    const jpeg = await bytesOf((await picture(8, 8)).jpeg());
    expect(sniffImageType(jpeg)).toBe("image/jpeg");
    expect(withImageExtension("iteration-2.png", jpeg)).toBe("iteration-2.jpg");
    expect(sniffImageType(new TextEncoder().encode("<html>502 Bad Gateway</html>"))).toBeNull();
  });

  it("refuses bytes that are no image with an InputError", async () => {
    const error = await readImageInfo(new TextEncoder().encode("<html>oops</html>")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    // A PNG signature followed by garbage is no image either.
    const truncated = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]);
    await expect(readImageInfo(truncated)).rejects.toThrow(/not a PNG, JPEG or WebP image/);
  });
});

describe("fitting, thumbnails and conversion", () => {
  it("returns bytes that fit unchanged", async () => {
    const png = await bytesOf((await picture(64, 64)).png());
    const fitted = await fitImage(png, png.byteLength);
    expect(fitted?.bytes).toBe(png);
  });

  it("shrinks a PNG, JPEG and 16-bit PNG under a byte cap and keeps the format", async () => {
    for (const [image, type] of [
      [(await picture(512, 512)).png(), "image/png"],
      [(await picture(512, 512)).jpeg({ quality: 95 }), "image/jpeg"],
      [(await picture(512, 512)).toColourspace("rgb16").png(), "image/png"],
    ] as const) {
      const bytes = await bytesOf(image);
      const cap = Math.floor(bytes.byteLength / 5);
      const fitted = await fitImage(bytes, cap);
      expect(fitted).not.toBeNull();
      expect(fitted!.bytes.byteLength).toBeLessThanOrEqual(cap);
      expect(fitted!.contentType).toBe(type);
      expect(sniffImageType(fitted!.bytes)).toBe(type);
    }
  });

  it("gives null when even a small image cannot fit, or the bytes are no image", async () => {
    const png = await bytesOf((await picture(256, 256)).png());
    expect(await fitImage(png, 100)).toBeNull();
    expect(await fitImage(new TextEncoder().encode("not an image at all"), 5)).toBeNull();
  });

  it("makes thumbnails no larger than asked, never enlarging", async () => {
    const big = await bytesOf((await picture(300, 150)).jpeg());
    const thumb = await thumbnail(big, 96);
    expect(await readImageInfo(thumb.bytes)).toMatchObject({ contentType: "image/webp", width: 96, height: 48 });
    const small = await thumbnail(await bytesOf((await picture(40, 20)).png()), 96, "image/png");
    expect(await readImageInfo(small.bytes)).toMatchObject({ contentType: "image/png", width: 40, height: 20 });
  });

  it("converts WebP to PNG", async () => {
    const webp = await bytesOf((await picture(20, 10)).webp());
    const png = await convertImage(webp, "image/png");
    expect(await readImageInfo(png.bytes)).toMatchObject({ contentType: "image/png", width: 20, height: 10 });
  });
});
