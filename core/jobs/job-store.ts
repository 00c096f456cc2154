/**
 * Job records in Keyv: one key per job, replaced whole by each write (one atomic upsert in
 * SQLite), listed oldest first through the record store's index.
 */
import { Keyv } from "keyv";
import { createKeyvRecordStore } from "../memory/keyv-record-store.ts";
import { openSqliteKeyv } from "../memory/sqlite-keyv.ts";
import { parseJobRecord } from "./job-record.ts";
import type { CorruptJob, JobRecord } from "./types.ts";

// Not "job": Keyv leaves keys that already start with "<namespace>:" unprefixed.
const SQLITE_NAMESPACE = "jobs";

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
  const records = createKeyvRecordStore<JobRecord>(keyv, { kind: "job", idOf: (record) => record.jobId, parse: parseJobRecord });
  return {
    async load() {
      const loaded = await records.loadAll();
      return { records: loaded.records, corrupt: loaded.corrupt.map((error) => ({ jobId: error.jobId, problem: error.message })) };
    },
    put: (record) => records.put(record),
    delete: (jobId) => records.delete(jobId),
    close: () => records.close(),
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
