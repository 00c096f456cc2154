import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import * as nodeFs from "node:fs/promises";
import { join, resolve } from "node:path";
import { GemsError, InputError } from "../errors.ts";
import { extensionOf, IMAGE_EXTENSIONS, sniffImageType } from "../images/image-type.ts";
import { errorCode, storageError } from "./storage-errors.ts";
import type { ImageStore } from "./stores.ts";

/** The parts of node:fs/promises the disk store uses; tests pass one that fails on purpose. */
export type ImageStoreFs = Pick<typeof nodeFs, "mkdir" | "writeFile" | "rename" | "rm" | "readFile" | "stat">;

const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** The sha256 hex digest the stores key images by. */
export function hashImage(png: Uint8Array): string {
  return createHash("sha256").update(png).digest("hex");
}

// Hashes arrive from chat commands and stored records; checking the shape also keeps `../` out of paths.
function checkHash(hash: string): string {
  const normalized = hash.toLowerCase();
  if (!HASH_PATTERN.test(normalized)) {
    throw new InputError(`"${hash}" is not an image id: expected 64 hexadecimal characters (a sha256).`);
  }
  return normalized;
}

function notFound(hash: string, cause?: unknown): GemsError {
  return new GemsError(`No image ${hash.slice(0, 12)}… is stored; it may have been deleted.`, "not-found", { cause });
}

// Absent: the file, or a directory on its path (ENOTDIR when a file sits where the directory should be).
function isAbsent(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * The extension a put names the file with: what the bytes are. Bytes of no known type keep the
 * `.png` name every image had before JPEG and WebP were accepted (the store never judged bytes).
 */
function extensionFor(bytes: Uint8Array): string {
  const type = sniffImageType(bytes);
  return type === null ? "png" : extensionOf(type);
}

/**
 * Content-addressed files at `<dir>/<sha256>.<png|jpg|webp>`: the bytes exactly as the generator
 * sent them, named for what they are, so the content type is the file's own (sniffed, never
 * taken from a server's header). Files from before JPEG and WebP were accepted are all `.png`
 * and load as they are. A put writes a temp file in the same directory, flushes it and renames
 * it into place, so a reader sees the whole image or none.
 */
export function createDiskImageStore(dir: string, options: { fs?: ImageStoreFs } = {}): ImageStore {
  const fs = options.fs ?? nodeFs;
  const root = resolve(dir);
  const candidates = (hash: string): string[] => {
    const checked = checkHash(hash);
    return IMAGE_EXTENSIONS.map((extension) => join(root, `${checked}.${extension}`));
  };

  /** The path of the stored file, or null when there is none. */
  async function locate(hash: string): Promise<string | null> {
    for (const path of candidates(hash)) {
      try {
        await fs.stat(path);
        return path;
      } catch (error) {
        if (!isAbsent(error)) throw storageError("Could not read the image store", error, root);
      }
    }
    return null;
  }

  // Synchronous by contract (surfaces build attachment paths in renderers), so it checks the
  // disk directly; an image not stored yet gets the PNG name, as every image used to.
  const pathOf = (hash: string): string => {
    const paths = candidates(hash);
    return paths.find((path) => existsSync(path)) ?? (paths[0] as string);
  };

  const has = async (hash: string): Promise<boolean> => (await locate(hash)) !== null;

  return {
    pathOf,
    has,

    async put(png) {
      const hash = hashImage(png);
      if (await has(hash)) return hash;
      const target = join(root, `${hash}.${extensionFor(png)}`);
      // Dot-prefixed so listings of `*.png` never pick up an unfinished write; the UUID keeps two
      // concurrent puts of the same bytes from sharing a temp file.
      const temp = join(root, `.${hash}.${randomUUID()}.tmp`);
      try {
        await fs.mkdir(root, { recursive: true });
        await fs.writeFile(temp, png, { flag: "wx", flush: true });
        await fs.rename(temp, target);
      } catch (error) {
        const failure = storageError("Could not save the image", error, root);
        try {
          await fs.rm(temp, { force: true });
        } catch (cleanupError) {
          throw new GemsError(failure.message, "storage", {
            cause: new AggregateError([error, cleanupError], `also could not remove ${temp}`),
          });
        }
        throw failure;
      }
      return hash;
    },

    async get(hash) {
      const path = await locate(hash);
      if (path === null) throw notFound(checkHash(hash));
      try {
        const bytes = await fs.readFile(path);
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (error) {
        if (isAbsent(error)) throw notFound(checkHash(hash), error);
        throw storageError("Could not read the image", error, root);
      }
    },

    async delete(hash) {
      try {
        for (const path of candidates(hash)) await fs.rm(path, { force: true });
      } catch (error) {
        throw storageError("Could not delete the image", error, root);
      }
    },
  };
}

/**
 * An ImageStore in a Map, for tests and benchmarks that must not touch the disk. pathOf returns
 * a `memory://` pseudo path: nothing exists there, so a surface that tries to attach it fails loudly.
 */
export function createInMemoryImageStore(): ImageStore {
  const images = new Map<string, Uint8Array>();
  const pathOf = (hash: string): string => {
    const stored = images.get(checkHash(hash));
    return `memory://images/${checkHash(hash)}.${stored ? extensionFor(stored) : "png"}`;
  };
  return {
    pathOf,
    async put(png) {
      const hash = hashImage(png);
      // A copy: a Buffer's slice() would share memory with the caller.
      if (!images.has(hash)) images.set(hash, new Uint8Array(png));
      return hash;
    },
    async get(hash) {
      const stored = images.get(checkHash(hash));
      if (stored === undefined) throw notFound(checkHash(hash));
      return stored.slice();
    },
    async has(hash) {
      return images.has(checkHash(hash));
    },
    async delete(hash) {
      images.delete(checkHash(hash));
    },
  };
}
