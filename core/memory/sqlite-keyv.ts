import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import { Keyv } from "keyv";
import { storageError } from "./storage-errors.ts";

/** The one database file in the data directory; every namespace shares it. */
export const SQLITE_FILE_NAME = "gems.sqlite";

// Each Keyv holds its own connection to the shared file; waiting on a lock beats failing with SQLITE_BUSY.
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens `<dataDir>/gems.sqlite` (creating the directory and file) as a Keyv whose keys are stored
 * as `<namespace>:<key>`. Errors are thrown, not only emitted. Keyv leaves a key that already starts
 * with `<namespace>:` unprefixed, so pick key names that do not begin with the namespace.
 */
export async function openSqliteKeyv(dataDir: string, namespace: string): Promise<Keyv> {
  const dir = resolve(dataDir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw storageError("Could not open the database", error, dir);
  }
  const file = join(dir, SQLITE_FILE_NAME);
  const adapter = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: BUSY_TIMEOUT_MS });
  // Without throwOnErrors Keyv turns a failed read into "missing" and a failed write into `false`.
  // Creating it before the first await also gives the adapter an "error" listener, so a file that
  // cannot be opened does not become an unhandled EventEmitter error.
  const keyv = new Keyv({ store: adapter, namespace, throwOnErrors: true });
  try {
    // WAL lets readers on the other connections proceed while one of them writes.
    await adapter.query("PRAGMA journal_mode = WAL");
    // Every step of every job commits, so a commit must be cheap. In WAL mode NORMAL skips the
    // fsync per commit yet keeps every commit through a killed process (kill -9, OOM, deploys);
    // only an OS crash or power loss can drop the last few, which then re-run from memory.
    await adapter.query("PRAGMA synchronous = NORMAL");
  } catch (error) {
    await adapter.close().catch(() => {
      // The open error below is the one the operator can act on; a failed close of a handle that
      // never worked adds nothing.
    });
    throw storageError("Could not open the database", error, file);
  }
  return keyv;
}
