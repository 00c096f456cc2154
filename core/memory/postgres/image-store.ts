/**
 * Content-addressed images in PostgreSQL (`images` table: sha256, content type, bytes), so that
 * every worker and surfaces process sees every image without a shared disk. A put of bytes that
 * are already stored changes nothing; a row is whole or absent (one INSERT).
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

export function createPostgresImageStore(db: Database): PostgresImageStore {
  const table = db.table("images");
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
      return hash;
    },

    async get(hash) {
      const key = checkHash(hash);
      let rows: Array<{ bytes: Buffer }>;
      try {
        ({ rows } = await db.pool.query<{ bytes: Buffer }>(`SELECT bytes FROM ${table} WHERE hash = $1`, [key]));
      } catch (error) {
        throw storageError("Could not read the image", error);
      }
      const row = rows[0];
      if (!row) throw notFound(key);
      return new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
    },

    async has(hash) {
      const key = checkHash(hash);
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
      try {
        await db.pool.query(`DELETE FROM ${table} WHERE hash = $1`, [key]);
      } catch (error) {
        throw storageError("Could not delete the image", error);
      }
    },
  };
}
