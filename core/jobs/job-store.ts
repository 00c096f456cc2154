/**
 * Job records in Keyv: one key per job, replaced whole by each write (one atomic upsert in
 * SQLite), plus an index key listing the ids oldest first, since adapters iterate in no promised
 * order and Keyv's own iterator stops at the first row it cannot parse.
 */
import { Keyv } from "keyv";
import { z } from "zod";
import { GemsError, describeError } from "../errors.ts";
import { openSqliteKeyv } from "../memory/sqlite-keyv.ts";
import { CorruptRecordError, storageError } from "../memory/storage-errors.ts";
import { parseJobRecord } from "./job-record.ts";
import type { CorruptJob, JobRecord } from "./types.ts";

// Keys must not start with "<namespace>:" or Keyv leaves them unprefixed.
const SQLITE_NAMESPACE = "jobs";
const INDEX_KEY = "job-index";
const recordKey = (jobId: string): string => `job:${jobId}`;
const indexSchema = z.array(z.string());

export interface LoadedJobs {
  /** Oldest first. */
  records: JobRecord[];
  corrupt: CorruptJob[];
}

export interface JobStore {
  /** Every readable record, oldest first; unreadable ones are listed, not thrown. */
  load(): Promise<LoadedJobs>;
  /** Replaces the job's record in one write (after adding a new id to the index). */
  put(record: JobRecord): Promise<void>;
  delete(jobId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A JobStore over any Keyv; give it `throwOnErrors: true` (openSqliteKeyv does) or a failed read
 * looks like a missing job. Owns the Keyv: close() disconnects it. One process per store.
 */
export function createKeyvJobStore(keyv: Keyv): JobStore {
  let index: string[] | undefined;
  let closing: Promise<void> | undefined;
  // The index is read-modify-written, so writes take turns; records are whole values, so a
  // queue also keeps an older snapshot of a job from landing after a newer one.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  async function write(key: string, value: unknown, action: string): Promise<void> {
    let isWritten: boolean;
    try {
      isWritten = await keyv.set(key, value);
    } catch (error) {
      throw storageError(action, error);
    }
    if (!isWritten) throw new GemsError(`${action}: the store refused the write.`, "storage");
  }

  async function readRaw(key: string, onCorrupt: (detail: string, cause: unknown) => Error, action: string): Promise<unknown> {
    let envelope: unknown;
    try {
      envelope = await keyv.getRaw(key);
    } catch (error) {
      // Keyv parses the row itself: SyntaxError (or TypeError for a JSON null) means a bad row.
      if (error instanceof SyntaxError || error instanceof TypeError) {
        throw onCorrupt(`not valid JSON (${describeError(error)})`, error);
      }
      throw storageError(action, error);
    }
    if (envelope === undefined) return undefined;
    if (typeof envelope !== "object" || envelope === null || !("value" in envelope)) {
      throw onCorrupt("not a Keyv record", undefined);
    }
    return envelope.value;
  }

  async function loadIndex(): Promise<string[]> {
    if (index !== undefined) return index;
    const value = await readRaw(
      INDEX_KEY,
      (detail, cause) => new GemsError(`The stored job index is corrupt: ${detail}`, "storage", { cause }),
      "Could not read the job index",
    );
    const parsed = indexSchema.safeParse(value ?? []);
    if (!parsed.success) {
      throw new GemsError("The stored job index is corrupt: expected a list of job ids", "storage", { cause: parsed.error });
    }
    index = parsed.data;
    return index;
  }

  return {
    load: () =>
      exclusive(async () => {
        const records: JobRecord[] = [];
        const corrupt: CorruptJob[] = [];
        for (const jobId of await loadIndex()) {
          try {
            const value = await readRaw(
              recordKey(jobId),
              (detail, cause) => new CorruptRecordError(jobId, detail, { cause }),
              `Could not read job ${jobId}`,
            );
            // An id without a record is what a crash between the index and record writes leaves.
            if (value !== undefined) records.push(parseJobRecord(jobId, value));
          } catch (error) {
            if (!(error instanceof CorruptRecordError)) throw error;
            corrupt.push({ jobId, problem: error.message });
          }
        }
        return { records, corrupt };
      }),

    put(record) {
      // Snapshot now: the caller keeps changing its record while this write waits its turn.
      const snapshot = structuredClone(record);
      return exclusive(async () => {
        const ids = await loadIndex();
        // Index first: a crash between the two writes leaves an id without a record (skipped on
        // load), never a record no listing finds.
        if (!ids.includes(snapshot.jobId)) {
          const next = [...ids, snapshot.jobId];
          await write(INDEX_KEY, next, `Could not save job ${snapshot.jobId}`);
          index = next;
        }
        await write(recordKey(snapshot.jobId), snapshot, `Could not save job ${snapshot.jobId}`);
      });
    },

    delete: (jobId) =>
      exclusive(async () => {
        try {
          await keyv.delete(recordKey(jobId));
        } catch (error) {
          throw storageError(`Could not delete job ${jobId}`, error);
        }
        const ids = await loadIndex();
        if (ids.includes(jobId)) {
          const next = ids.filter((id) => id !== jobId);
          await write(INDEX_KEY, next, `Could not delete job ${jobId}`);
          index = next;
        }
      }),

    close() {
      closing ??= exclusive(async () => {
        try {
          await keyv.disconnect();
        } catch (error) {
          throw storageError("Could not close the database", error);
        }
      });
      return closing;
    },
  };
}

/** The default store: namespace "jobs" in `<dataDir>/gems.sqlite`. */
export async function openSqliteJobStore(dataDir: string): Promise<JobStore> {
  return createKeyvJobStore(await openSqliteKeyv(dataDir, SQLITE_NAMESPACE));
}

/** A store in memory (Keyv's Map adapter, still serialised), for tests and benchmarks. */
export function createInMemoryJobStore(): JobStore {
  return createKeyvJobStore(new Keyv({ throwOnErrors: true }));
}
