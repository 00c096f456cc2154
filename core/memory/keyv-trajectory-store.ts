import type { Keyv } from "keyv";
import { z } from "zod";
import { GemsError, describeError } from "../errors.ts";
import { openSqliteKeyv } from "./sqlite-keyv.ts";
import { CorruptRecordError, storageError } from "./storage-errors.ts";
import type { TrajectoryStore } from "./stores.ts";
import type { Trajectory } from "./trajectory.ts";
import { parseStoredTrajectory } from "./trajectory-schema.ts";

// Not "trajectory": Keyv skips its prefix for keys that already start with `<namespace>:`.
const SQLITE_NAMESPACE = "memory";
const INDEX_KEY = "trajectory-index";
const recordKey = (jobId: string): string => `trajectory:${jobId}`;

const MISSING = Symbol("missing");
const indexSchema = z.array(z.string());

/**
 * A TrajectoryStore over any Keyv. Each trajectory is one key (one atomic upsert of the whole
 * record); a separate index key keeps the ids oldest first, because adapters iterate in no
 * promised order. The store takes ownership of `keyv`: close() disconnects it. Give it a Keyv
 * with `throwOnErrors: true`, or a failed read looks like a missing job.
 * Assumes one process writes the namespace: the index is cached after the first read.
 */
export function createKeyvTrajectoryStore(keyv: Keyv): TrajectoryStore {
  let index: string[] | undefined;
  let closing: Promise<void> | undefined;

  // Writes touch two keys (record and index) with a read-modify-write on the index, so they run
  // one at a time; reads of the index go through the same queue to see every finished write.
  let queue: Promise<unknown> = Promise.resolve();
  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = queue.then(task, task);
    // The caller gets `run` and its failure; the queue only needs to know the task is over.
    queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async function readValue(key: string, corrupt: (detail: string, cause?: unknown) => GemsError, action: string) {
    let envelope: unknown;
    try {
      envelope = await keyv.getRaw(key);
    } catch (error) {
      // Keyv parses the row itself: a SyntaxError (or a TypeError, for a row holding JSON `null`)
      // comes from that parse, anything else from the database.
      if (error instanceof SyntaxError || error instanceof TypeError) {
        throw corrupt(`not valid JSON (${describeError(error)})`, error);
      }
      throw storageError(action, error);
    }
    if (envelope === undefined) return MISSING;
    if (typeof envelope !== "object" || envelope === null || !("value" in envelope)) {
      throw corrupt("not a Keyv record");
    }
    return envelope.value;
  }

  async function writeValue(key: string, value: unknown, action: string): Promise<void> {
    let isWritten: boolean;
    try {
      isWritten = await keyv.set(key, value);
    } catch (error) {
      throw storageError(action, error);
    }
    if (!isWritten) throw new GemsError(`${action}: the store refused the write.`, "storage");
  }

  async function loadIndex(): Promise<string[]> {
    if (index !== undefined) return index;
    const value = await readValue(
      INDEX_KEY,
      (detail, cause) => new GemsError(`The stored job index is corrupt: ${detail}`, "storage", { cause }),
      "Could not read the job index",
    );
    if (value === MISSING) {
      index = [];
      return index;
    }
    const parsed = indexSchema.safeParse(value);
    if (!parsed.success) {
      throw new GemsError("The stored job index is corrupt: expected a list of job ids", "storage", {
        cause: parsed.error,
      });
    }
    index = parsed.data;
    return index;
  }

  return {
    async get(jobId) {
      const value = await readValue(
        recordKey(jobId),
        (detail, cause) => new CorruptRecordError(jobId, detail, { cause }),
        `Could not read job ${jobId}`,
      );
      return value === MISSING ? undefined : parseStoredTrajectory(jobId, value);
    },

    put(trajectory) {
      // Snapshot now: the caller may keep mutating its object while this write waits its turn.
      const record: Trajectory = structuredClone(trajectory);
      const { jobId } = record;
      return exclusive(async () => {
        const ids = await loadIndex();
        // Index first: if the record write then fails or the process dies, the leftover id reads
        // as a missing job, which is harmless; the other order would leave a record no listing finds.
        if (!ids.includes(jobId)) {
          const next = [...ids, jobId];
          await writeValue(INDEX_KEY, next, `Could not save job ${jobId}`);
          index = next;
        }
        await writeValue(recordKey(jobId), record, `Could not save job ${jobId}`);
      });
    },

    delete(jobId) {
      return exclusive(async () => {
        try {
          await keyv.delete(recordKey(jobId));
        } catch (error) {
          throw storageError(`Could not delete job ${jobId}`, error);
        }
        const ids = await loadIndex();
        if (ids.includes(jobId)) {
          const next = ids.filter((id) => id !== jobId);
          await writeValue(INDEX_KEY, next, `Could not delete job ${jobId}`);
          index = next;
        }
      });
    },

    listJobIds() {
      return exclusive(async () => [...(await loadIndex())]);
    },

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

/** The default TrajectoryStore: `<dataDir>/gems.sqlite`, created with its directory if missing. */
export async function openSqliteTrajectoryStore(dataDir: string): Promise<TrajectoryStore> {
  return createKeyvTrajectoryStore(await openSqliteKeyv(dataDir, SQLITE_NAMESPACE));
}
