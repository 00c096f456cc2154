import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { InputError } from "../../core/errors.ts";
import { readProvenance, withProvenance, type ImageProvenance } from "../../core/images/provenance.ts";
import { decodeRgba } from "../../core/images/sharp-images.ts";

const PROVENANCE: ImageProvenance = {
  jobId: "job-42",
  iteration: 3,
  prompt: 'a "red" <cube> & a café sign 🎨\nsecond line',
  request: "a red cube",
  mllm: "openai-compatible:qwen3-vl",
  generator: "openai:gpt-image-1",
  surface: "cli",
  sourceSha256: "a".repeat(64),
};

const base = () => sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 0.5 } } });
const opaque = () => sharp({ create: { width: 41, height: 29, channels: 3, background: { r: 10, g: 120, b: 200 } } });
const bytes = async (image: sharp.Sharp) => new Uint8Array(await image.toBuffer());

const FORMATS: Array<[string, () => Promise<Uint8Array>]> = [
  ["PNG", () => bytes(base().png())],
  ["16-bit interlaced PNG", () => bytes(base().toColourspace("rgb16").png({ progressive: true }))],
  ["JPEG", () => bytes(base().jpeg())],
  ["JPEG with EXIF", () => bytes(base().jpeg().withExif({ IFD0: { Copyright: "someone" } }))],
  ["simple lossy WebP (VP8)", () => bytes(opaque().webp())],
  ["simple lossless WebP (VP8L)", () => bytes(opaque().webp({ lossless: true }))],
  ["lossy WebP with alpha", () => bytes(base().webp())],
  ["lossless WebP", () => bytes(base().webp({ lossless: true }))],
  ["extended WebP with ICC", () => bytes(base().webp().withIccProfile("p3"))],
];

const webpFirstChunk = (image: Uint8Array) => new TextDecoder().decode(image.subarray(12, 16));

describe("provenance in image files", () => {
  it("the WebP cases cover both simple bitstreams and the extended format", async () => {
    expect(webpFirstChunk(await bytes(opaque().webp()))).toBe("VP8 ");
    expect(webpFirstChunk(await bytes(opaque().webp({ lossless: true })))).toBe("VP8L");
    expect(webpFirstChunk(await bytes(base().webp()))).toBe("VP8X");
  });

  for (const [name, make] of FORMATS) {
    it(`${name}: written without touching the pixels, read back by us and by libvips`, async () => {
      const original = await make();
      const tagged = withProvenance(original, PROVENANCE);

      const reading = readProvenance(tagged);
      expect(reading).toEqual({
        ok: true,
        contentType: expect.any(String),
        provenance: { jobId: "job-42", iteration: "3", prompt: PROVENANCE.prompt, request: "a red cube", mllm: "openai-compatible:qwen3-vl", generator: "openai:gpt-image-1", surface: "cli", sourceSha256: "a".repeat(64) },
      });
      // libvips, an independent reader, accepts the file and finds the metadata where it belongs.
      const meta = await sharp(tagged).metadata();
      const before = await sharp(original).metadata();
      expect([meta.format, meta.width, meta.height, meta.hasAlpha]).toEqual([before.format, before.width, before.height, before.hasAlpha]);
      if (meta.format === "png") expect(meta.comments).toContainEqual({ keyword: "gems:jobId", text: "job-42" });
      else expect(meta.xmpAsString).toContain('gems:jobId="job-42"');
      expect(Buffer.compare(Buffer.from((await decodeRgba(tagged)).rgba), Buffer.from((await decodeRgba(original)).rgba))).toBe(0);
    });
  }

  it("writing twice leaves one set of fields, the newer", async () => {
    const once = withProvenance(await bytes(base().jpeg()), PROVENANCE);
    const twice = withProvenance(once, { ...PROVENANCE, iteration: 4 });
    expect(readProvenance(twice)).toMatchObject({ ok: true, provenance: { iteration: "4" } });
    expect((await sharp(twice).metadata()).xmpAsString?.match(/gems:jobId=/g)).toHaveLength(1);
    const png = withProvenance(withProvenance(await bytes(base().png()), PROVENANCE), { ...PROVENANCE, iteration: 4 });
    expect((await sharp(png).metadata()).comments?.filter((c) => c.keyword === "gems:iteration")).toEqual([{ keyword: "gems:iteration", text: "4" }]);
  });

  it("a secret that slipped into a field is redacted before it is written", async () => {
    const key = "sk-proj-abcdefghijklmnop1234567890";
    for (const image of [await bytes(base().png()), await bytes(base().jpeg()), await bytes(base().webp())]) {
      const tagged = withProvenance(image, { ...PROVENANCE, prompt: `a cube ${key}` });
      expect(Buffer.from(tagged).includes(key)).toBe(false);
      expect(readProvenance(tagged)).toMatchObject({ ok: true, provenance: { prompt: "a cube [redacted]" } });
    }
  });

  it("says what is wrong with a file that is not an image, carries none, or is damaged", async () => {
    expect(readProvenance(new TextEncoder().encode("hello"))).toMatchObject({ ok: false, reason: "not-an-image" });
    expect(readProvenance(await bytes(base().png()))).toMatchObject({ ok: false, reason: "no-provenance" });
    expect(readProvenance(await bytes(base().webp()))).toMatchObject({ ok: false, reason: "no-provenance" });
    const tagged = withProvenance(await bytes(base().png()), PROVENANCE);
    expect(readProvenance(tagged.subarray(0, 60))).toMatchObject({ ok: false, reason: "unreadable" });
    expect(() => withProvenance(new TextEncoder().encode("hello"), PROVENANCE)).toThrow(InputError);
  });
});
