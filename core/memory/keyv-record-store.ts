/**
 * Whole records in Keyv, one key each, plus an index key listing the ids oldest first: adapters
 * iterate in no promised order, and Keyv's own iterator stops at the first row it cannot parse.
 * The job service's records and the trajectory store are both this store with their own parser.
 */
import type { Keyv } from "keyv";
import { z } from "zod";
import { GemsError, describeError } from "../errors.ts";
import { CorruptRecordError, storageError } from "./storage-errors.ts";

export interface KeyvRecordStoreOptions<T> {
  /** The word in keys and messages: records live at "<kind>:<id>", the index at "<kind>-index". */
  kind: string;
  idOf(record: T): string;
  /** Checks a stored value; throws CorruptRecordError when it is not a valid record. */
  parse(id: string, value: unknown): T;
}

export interface LoadedRecords<T> {
  /** Oldest first. */
  records: T[];
  corrupt: CorruptRecordError[];
}

export interface KeyvRecordStore<T> {
  get(id: string): Promise<T | undefined>;
  /** Every readable record, oldest first; unreadable ones are listed, not thrown. */
  loadAll(): Promise<LoadedRecords<T>>;
  listIds(): Promise<string[]>;
  /** Replaces the record in one write, after adding a new id to the index. */
  put(record: T): Promise<void>;
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}

const indexSchema = z.array(z.string());
const MISSING = Symbol("missing");

/**
 * A record store over any Keyv. Give it `throwOnErrors: true` (openSqliteKeyv does), or a failed
 * read looks like a missing record. It owns the Keyv: close() disconnects it. One process per
 * store: the index is cached after the first read. Keys must not start with the Keyv's
 * namespace followed by ":", or Keyv leaves them unprefixed.
 */
export function createKeyvRecordStore<T>(keyv: Keyv, options: KeyvRecordStoreOptions<T>): KeyvRecordStore<T> {
  const { kind } = options;
  const indexKey = `${kind}-index`;
  const recordKey = (id: string): string => `${kind}:${id}`;
  let index: string[] | undefined;
  let closing: Promise<void> | undefined;
  // The index is read-modify-written, so writes take turns; records are whole values, so the
  // queue also keeps an older snapshot from landing after a newer one.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <R>(task: () => Promise<R>): Promise<R> => {
    const run = queue.then(task, task);
    // The caller gets `run` and its failure; the queue only needs to know the task is over.
    queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  async function readValue(key: string, corrupt: (detail: string, cause?: unknown) => Error, action: string): Promise<unknown> {
    let envelope: unknown;
    try {
      envelope = await keyv.getRaw(key);
    } catch (error) {
      // Keyv parses the row itself: a SyntaxError (or a TypeError, for a row holding JSON null)
      // comes from that parse, anything else from the database.
      if (error instanceof SyntaxError || error instanceof TypeError) {
        throw corrupt(`not valid JSON (${describeError(error)})`, error);
      }
      throw storageError(action, error);
    }
    if (envelope === undefined) return MISSING;
    if (typeof envelope !== "object" || envelope === null || !("value" in envelope)) throw corrupt("not a Keyv record");
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
      indexKey,
      (detail, cause) => new GemsError(`The stored ${kind} index is corrupt: ${detail}`, "storage", { cause }),
      `Could not read the ${kind} index`,
    );
    const parsed = indexSchema.safeParse(value === MISSING ? [] : value);
    if (!parsed.success) {
      throw new GemsError(`The stored ${kind} index is corrupt: expected a list of ids`, "storage", { cause: parsed.error });
    }
    index = parsed.data;
    return index;
  }

  async function read(id: string): Promise<T | undefined> {
    const value = await readValue(
      recordKey(id),
      (detail, cause) => new CorruptRecordError(id, detail, { cause }),
      `Could not read job ${id}`,
    );
    return value === MISSING ? undefined : options.parse(id, value);
  }

  return {
    get: read,

    loadAll: () =>
      exclusive(async () => {
        const loaded: LoadedRecords<T> = { records: [], corrupt: [] };
        for (const id of await loadIndex()) {
          try {
            // An id without a record is what a crash between the index and record writes leaves.
            const record = await read(id);
            if (record !== undefined) loaded.records.push(record);
          } catch (error) {
            if (!(error instanceof CorruptRecordError)) throw error;
            loaded.corrupt.push(error);
          }
        }
        return loaded;
      }),

    listIds: () => exclusive(async () => [...(await loadIndex())]),

    put(record) {
      // Snapshot now: the caller may keep changing its object while this write waits its turn.
      const snapshot = structuredClone(record);
      const id = options.idOf(snapshot);
      return exclusive(async () => {
        const ids = await loadIndex();
        // Index first: a crash between the two writes leaves an id without a record (skipped on
        // load), never a record no listing finds.
        if (!ids.includes(id)) {
          const next = [...ids, id];
          await writeValue(indexKey, next, `Could not save job ${id}`);
          index = next;
        }
        await writeValue(recordKey(id), snapshot, `Could not save job ${id}`);
      });
    },

    delete: (id) =>
      exclusive(async () => {
        try {
          await keyv.delete(recordKey(id));
        } catch (error) {
          throw storageError(`Could not delete job ${id}`, error);
        }
        const ids = await loadIndex();
        if (ids.includes(id)) {
          const next = ids.filter((known) => known !== id);
          await writeValue(indexKey, next, `Could not delete job ${id}`);
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
