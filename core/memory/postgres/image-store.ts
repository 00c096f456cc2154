/**
 * Content-addressed images in PostgreSQL (`images` table: sha256, content type, bytes), so that
 * every worker and surfaces process sees every image without a shared disk. A put of bytes that
 * are already stored changes nothing; a row is whole or absent (one INSERT).
 *
 * A worker reads the same few images many times (the verifier, the compressor and the refiner
 * each look at the attempt), so the most recently used ones are also kept in memory. The
 * address is the content's hash, so a kept copy can never be stale; an image deleted by another
 * process stays readable here until it ages out, as a file already read would.
 */
import { GemsError, InputError } from "../../errors.ts";
import { hashImage } from "../image-store.ts";
import { storageError } from "../storage-errors.ts";
import type { ImageStore } from "../stores.ts";
import type { Database } from "./database.ts";

const HASH_PATTERN = /^[0-9a-f]{64}$/;

function checkHash(hash: string): string {
  const normalized = hash.toLowerCase();
  if (!HASH_PATTERN.test(normalized)) throw new InputError(`"${hash}" is not an image id: expected 64 hexadecimal characters (a sha256).`);
  return normalized;
}

/** The content type by the bytes' signature; images arrive from generators, not from names. */
export function sniffContentType(bytes: Uint8Array): string {
  const startsWith = (...signature: number[]): boolean => signature.every((byte, i) => bytes[i] === byte);
  if (startsWith(0x89, 0x50, 0x4e, 0x47)) return "image/png";
  if (startsWith(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (startsWith(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) return "image/webp";
  return "application/octet-stream";
}

export interface PostgresImageStore extends ImageStore {
  contentTypeOf(hash: string): Promise<string>;
}

export interface PostgresImageStoreOptions {
  /** Bytes of recently used images kept in memory (default 64 MiB; 0 keeps none). */
  cacheBytes?: number;
}

const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/** Least recently used first (a Map keeps insertion order; a hit moves its entry to the end). */
function createRecentImages(limitBytes: number) {
  const kept = new Map<string, Uint8Array>();
  let bytes = 0;
  const forget = (hash: string): void => {
    const image = kept.get(hash);
    if (!image) return;
    kept.delete(hash);
    bytes -= image.byteLength;
  };
  return {
    get(hash: string): Uint8Array | undefined {
      const image = kept.get(hash);
      if (image) {
        kept.delete(hash);
        kept.set(hash, image);
      }
      return image;
    },
    keep(hash: string, image: Uint8Array): void {
      if (image.byteLength > limitBytes) return;
      forget(hash);
      kept.set(hash, image);
      bytes += image.byteLength;
      for (const oldest of kept.keys()) {
        if (bytes <= limitBytes) break;
        forget(oldest);
      }
    },
    forget,
  };
}

export function createPostgresImageStore(db: Database, options: PostgresImageStoreOptions = {}): PostgresImageStore {
  const table = db.table("images");
  const recent = createRecentImages(options.cacheBytes ?? DEFAULT_CACHE_BYTES);
  const notFound = (hash: string): GemsError => new GemsError(`No image ${hash.slice(0, 12)}… is stored; it may have been deleted.`, "not-found");

  return {
    // Nothing exists at this address: a surface that tries to attach it as a file fails loudly.
    pathOf: (hash) => `postgres://images/${checkHash(hash)}`,

    async put(bytes) {
      const hash = hashImage(bytes);
      try {
        await db.pool.query(`INSERT INTO ${table} (hash, content_type, bytes) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING`, [
          hash,
          sniffContentType(bytes),
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        ]);
      } catch (error) {
        throw storageError("Could not save the image", error);
      }
      // A copy: the caller's buffer may be reused, and what is kept must stay what was hashed.
      recent.keep(hash, Uint8Array.from(bytes));
      return hash;
    },

    async get(hash) {
      const key = checkHash(hash);
      const kept = recent.get(key);
      if (kept) return kept;
      let rows: Array<{ bytes: Buffer }>;
      try {
        ({ rows } = await db.pool.query<{ bytes: Buffer }>(`SELECT bytes FROM ${table} WHERE hash = $1`, [key]));
      } catch (error) {
        throw storageError("Could not read the image", error);
      }
      const row = rows[0];
      if (!row) throw notFound(key);
      const image = new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
      recent.keep(key, image);
      return image;
    },

    async has(hash) {
      const key = checkHash(hash);
      if (recent.get(key)) return true;
      try {
        const { rows } = await db.pool.query(`SELECT 1 FROM ${table} WHERE hash = $1`, [key]);
        return rows.length > 0;
      } catch (error) {
        throw storageError("Could not read the image store", error);
      }
    },

    async contentTypeOf(hash) {
      const key = checkHash(hash);
      const { rows } = await db.pool.query<{ content_type: string }>(`SELECT content_type FROM ${table} WHERE hash = $1`, [key]);
      if (!rows[0]) throw notFound(key);
      return rows[0].content_type;
    },

    async delete(hash) {
      const key = checkHash(hash);
      recent.forget(key);
      try {
        await db.pool.query(`DELETE FROM ${table} WHERE hash = $1`, [key]);
      } catch (error) {
        throw storageError("Could not delete the image", error);
      }
    },
  };
}
