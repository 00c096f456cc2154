import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../core/errors.ts";
import { gemsErrorOf } from "../models/rejection.ts";
import { createDiskImageStore, createInMemoryImageStore, type ImageStoreFs } from "../../core/memory/image-store.ts";
import type { ImageStore } from "../../core/memory/stores.ts";

// Not a decodable PNG, and need not be: the store treats images as opaque bytes.
const png = (text: string): Uint8Array => new TextEncoder().encode(`\x89PNG\r\n\x1a\n${text}`);
const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), "gems-images-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const stores: Array<[string, () => ImageStore]> = [
  ["disk", () => createDiskImageStore(join(dir, "images"))],
  ["in-memory", () => createInMemoryImageStore()],
];

describe.each(stores)("%s image store", (_name, open) => {
  it("put returns the sha256 of the bytes and get returns the same bytes", async () => {
    const store = open();
    const bytes = png("red cube");
    const hash = await store.put(bytes);
    expect(hash).toBe(sha256(bytes));
    expect(await store.get(hash)).toEqual(bytes);
  });

  it("has tells stored hashes from unknown ones", async () => {
    const store = open();
    const hash = await store.put(png("red cube"));
    expect(await store.has(hash)).toBe(true);
    expect(await store.has(sha256(png("blue sphere")))).toBe(false);
  });

  it("getting an unknown hash is a not-found error", async () => {
    const store = open();
    const error = await gemsErrorOf(store.get(sha256(png("never stored"))));
    expect(error.code).toBe("not-found");
    expect(error.message).toMatch(/^No image [0-9a-f]{12}… is stored/);
  });

  it("a hash that is not 64 hex characters is an InputError", async () => {
    const store = open();
    const error = await gemsErrorOf(store.get("../../etc/passwd"));
    expect(error).toBeInstanceOf(InputError);
    expect(() => store.pathOf(`${"a".repeat(63)}/`)).toThrow(InputError);
  });

  it("an upper-case hash finds the same image", async () => {
    const store = open();
    const bytes = png("red cube");
    const hash = await store.put(bytes);
    expect(await store.get(hash.toUpperCase())).toEqual(bytes);
  });

  it("delete removes the image, and deleting it again does nothing", async () => {
    const store = open();
    const hash = await store.put(png("red cube"));
    await store.delete(hash);
    expect(await store.has(hash)).toBe(false);
    await expect(store.delete(hash)).resolves.toBeUndefined();
  });

  it("changing the caller's bytes after put does not change the stored image", async () => {
    const store = open();
    const bytes = png("red cube");
    const hash = await store.put(bytes);
    bytes[0] = 0;
    (await store.get(hash))[1] = 0;
    expect(await store.get(hash)).toEqual(png("red cube"));
  });
});

describe("disk image store", () => {
  const images = (): string => join(dir, "images");

  it("stores the image as <dir>/<sha256>.png and pathOf gives its absolute path", async () => {
    const store = createDiskImageStore(images());
    const bytes = png("red cube");
    const hash = await store.put(bytes);
    expect(store.pathOf(hash)).toBe(join(images(), `${hash}.png`));
    expect(isAbsolute(store.pathOf(hash))).toBe(true);
    expect(new Uint8Array(await fs.readFile(store.pathOf(hash)))).toEqual(bytes);
  });

  it("putting the same bytes twice stores one file", async () => {
    const store = createDiskImageStore(images());
    const first = await store.put(png("red cube"));
    const second = await store.put(png("red cube"));
    expect(second).toBe(first);
    expect(await fs.readdir(images())).toEqual([`${first}.png`]);
  });

  it("the second put of the same bytes does not rewrite the file", async () => {
    const store = createDiskImageStore(images());
    const hash = await store.put(png("red cube"));
    const before = await fs.stat(store.pathOf(hash));
    await store.put(png("red cube"));
    expect((await fs.stat(store.pathOf(hash))).ino).toBe(before.ino);
  });

  it("concurrent puts leave only finished images, no temp files", async () => {
    const store = createDiskImageStore(images());
    const all = Array.from({ length: 10 }, (_, i) => png(`image ${i % 5}`));
    const hashes = await Promise.all(all.map((bytes) => store.put(bytes)));
    const expected = [...new Set(hashes)].map((hash) => `${hash}.png`).sort();
    expect((await fs.readdir(images())).sort()).toEqual(expected);
  });

  it("a directory below a regular file is a storage error and leaves no file", async () => {
    const file = join(dir, "not-a-dir");
    await fs.writeFile(file, "x");
    const store = createDiskImageStore(join(file, "images"));
    const error = await gemsErrorOf(store.put(png("red cube")));
    expect(error.code).toBe("storage");
    expect(error.message).toMatch(/^Could not save the image: .*not a directory/);
    expect(await fs.readdir(dir)).toEqual(["not-a-dir"]);
  });

  it("a full disk is a storage error saying so, and the half-written temp file is removed", async () => {
    const diskFull: ImageStoreFs = {
      ...fs,
      writeFile: (async (path: string, data: Uint8Array) => {
        await fs.writeFile(path, data.subarray(0, 4));
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }) as ImageStoreFs["writeFile"],
    };
    const store = createDiskImageStore(images(), { fs: diskFull });
    const error = await gemsErrorOf(store.put(png("red cube")));
    expect(error.message).toBe("Could not save the image: the disk is full.");
    expect(error.code).toBe("storage");
    expect((error.cause as NodeJS.ErrnoException).code).toBe("ENOSPC");
    expect(await fs.readdir(images())).toEqual([]);
  });

  it("a failed rename leaves neither the temp file nor the image", async () => {
    const noRename: ImageStoreFs = {
      ...fs,
      rename: async () => {
        throw Object.assign(new Error("EACCES: permission denied, rename"), { code: "EACCES" });
      },
    };
    const store = createDiskImageStore(images(), { fs: noRename });
    const error = await gemsErrorOf(store.put(png("red cube")));
    expect(error.message).toBe(`Could not save the image: no permission to write to ${images()}.`);
    expect(await fs.readdir(images())).toEqual([]);
  });
});

describe("in-memory image store", () => {
  it("pathOf is a pseudo path that names the hash", async () => {
    const store = createInMemoryImageStore();
    const hash = await store.put(png("red cube"));
    expect(store.pathOf(hash)).toBe(`memory://images/${hash}.png`);
  });
});

describe("disk image store and image formats", () => {
  const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
  const webp = new Uint8Array([...new TextEncoder().encode("RIFF"), 4, 0, 0, 0, ...new TextEncoder().encode("WEBPVP8 ")]);

  it("keeps JPEG and WebP bytes as sent, in files named for what they are", async () => {
    const store = createDiskImageStore(join(dir, "images"));
    for (const [bytes, extension] of [[jpeg, "jpg"], [webp, "webp"], [png("cube"), "png"]] as const) {
      const hash = await store.put(bytes);
      expect(store.pathOf(hash)).toBe(join(dir, "images", `${hash}.${extension}`));
      expect(await store.get(hash)).toEqual(bytes);
      expect(await store.has(hash)).toBe(true);
      await store.delete(hash);
      expect(await store.has(hash)).toBe(false);
    }
  });

  it("loads an image written as <hash>.png before other formats were accepted", async () => {
    await fs.mkdir(join(dir, "images"));
    const bytes = png("older image");
    await fs.writeFile(join(dir, "images", `${sha256(bytes)}.png`), bytes);
    const store = createDiskImageStore(join(dir, "images"));
    expect(await store.get(sha256(bytes))).toEqual(bytes);
  });
});
