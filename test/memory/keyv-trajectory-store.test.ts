import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import { Keyv } from "keyv";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gemsErrorOf } from "../models/rejection.ts";
import { createKeyvTrajectoryStore, openSqliteTrajectoryStore } from "../../core/memory/keyv-trajectory-store.ts";
import { loadTrajectories } from "../../core/memory/load-trajectories.ts";
import { SQLITE_FILE_NAME } from "../../core/memory/sqlite-keyv.ts";
import { CorruptRecordError } from "../../core/memory/storage-errors.ts";
import type { TrajectoryStore } from "../../core/memory/stores.ts";
import { createTrajectory, type Trajectory } from "../../core/memory/trajectory.ts";
import { makeTrajectory } from "./trajectory-fixture.ts";

let dataDir: string;
const opened: TrajectoryStore[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "gems-memory-"));
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function open(dir = dataDir): Promise<TrajectoryStore> {
  const store = await openSqliteTrajectoryStore(dir);
  opened.push(store);
  return store;
}

// Rows written by hand skip Keyv's escaping of strings that start with ":", so keep them plain.
function plainTrajectory(jobId: string): Trajectory {
  return createTrajectory(jobId, { prompt: "a cat", skill: "auto", maxIterations: 5 });
}

/** Writes a row behind the store's back, the way a crash, a bad migration or a hand edit would. */
async function writeRawRow(jobId: string, value: string): Promise<void> {
  const raw = new KeyvSqlite({ uri: `sqlite://${join(dataDir, SQLITE_FILE_NAME)}` });
  try {
    await raw.query("UPDATE keyv SET value = ? WHERE key = ?", value, `memory:trajectory:${jobId}`);
    const rows = (await raw.query("SELECT value FROM keyv WHERE key = ?", `memory:trajectory:${jobId}`)) as unknown[];
    expect(rows).toEqual([{ value }]);
  } finally {
    await raw.close();
  }
}

describe("sqlite trajectory store", () => {
  it("a trajectory and the job order survive closing and reopening the store", async () => {
    const first = await openSqliteTrajectoryStore(dataDir);
    for (const jobId of ["job-b", "job-a"]) await first.put(makeTrajectory(jobId));
    await first.close();

    const second = await open();
    expect(await second.get("job-b")).toEqual(makeTrajectory("job-b"));
    expect(await second.listJobIds()).toEqual(["job-b", "job-a"]);
  });

  it("a delete survives closing and reopening the store", async () => {
    const first = await openSqliteTrajectoryStore(dataDir);
    for (const jobId of ["job-1", "job-2"]) await first.put(makeTrajectory(jobId));
    await first.delete("job-1");
    await first.close();

    const second = await open();
    expect(await second.get("job-1")).toBeUndefined();
    expect(await second.listJobIds()).toEqual(["job-2"]);
  });

  it("opening creates the data directory and gems.sqlite inside it", async () => {
    const nested = join(dataDir, "data", "nested");
    await open(nested);
    expect(await readdir(nested)).toContain("gems.sqlite");
  });

  it("a data directory below a regular file is a storage error", async () => {
    const file = join(dataDir, "not-a-dir");
    await writeFile(file, "x");
    const error = await gemsErrorOf(openSqliteTrajectoryStore(join(file, "data")));
    expect(error.code).toBe("storage");
    expect(error.message).toMatch(/^Could not open the database: .*not a directory/);
  });

  it("a database file that is not SQLite is a storage error", async () => {
    await writeFile(join(dataDir, SQLITE_FILE_NAME), "this is not a database, just text that is long enough".repeat(20));
    const error = await gemsErrorOf(openSqliteTrajectoryStore(dataDir));
    expect(error.code).toBe("storage");
    expect(error.message).toMatch(/^Could not open the database: /);
  });

  it("a row that is not valid JSON is a storage error naming the job", async () => {
    const store = await open();
    await store.put(makeTrajectory("job-bad"));
    await writeRawRow("job-bad", '{"value":{"jobId":"job-b');

    const error = await gemsErrorOf(store.get("job-bad"));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error.code).toBe("storage");
    expect(error.message).toMatch(/^The stored record for job job-bad is corrupt: not valid JSON/);
  });

  it("a row holding JSON null is a storage error, not a missing job", async () => {
    const store = await open();
    await store.put(makeTrajectory("job-bad"));
    await writeRawRow("job-bad", "null");
    const error = await gemsErrorOf(store.get("job-bad"));
    expect(error).toBeInstanceOf(CorruptRecordError);
  });

  it("a row that is JSON but not a Keyv record is a storage error", async () => {
    const store = await open();
    await store.put(makeTrajectory("job-bad"));
    await writeRawRow("job-bad", '"just a string"');
    const error = await gemsErrorOf(store.get("job-bad"));
    expect(error.message).toBe("The stored record for job job-bad is corrupt: not a Keyv record");
  });

  it("a row that fails the schema is a storage error naming the job and the field", async () => {
    const store = await open();
    const trajectory = plainTrajectory("job-bad");
    await store.put(trajectory);
    await writeRawRow("job-bad", JSON.stringify({ value: { ...trajectory, status: "exploded" } }));

    const error = await gemsErrorOf(store.get("job-bad"));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect((error as CorruptRecordError).jobId).toBe("job-bad");
    expect(error.message).toMatch(/^The stored record for job job-bad is corrupt: status: /);
  });

  it("a record holding another job is corrupt", async () => {
    const store = await open();
    await store.put(makeTrajectory("job-1"));
    await writeRawRow("job-1", JSON.stringify({ value: plainTrajectory("job-2") }));
    const error = await gemsErrorOf(store.get("job-1"));
    expect(error.message).toBe("The stored record for job job-1 is corrupt: it holds job job-2 instead");
  });

  it("with a corrupt row, listing still works and loadTrajectories reports the row apart", async () => {
    const store = await open();
    for (const jobId of ["job-1", "job-bad", "job-3"]) await store.put(makeTrajectory(jobId));
    await writeRawRow("job-bad", "{not json");

    expect(await store.listJobIds()).toEqual(["job-1", "job-bad", "job-3"]);
    const loaded = await loadTrajectories(store);
    expect(loaded.trajectories.map((t) => t.jobId)).toEqual(["job-1", "job-3"]);
    expect(loaded.corrupt.map((e) => e.jobId)).toEqual(["job-bad"]);
  });

  it("a corrupt row can be replaced by a fresh put", async () => {
    const store = await open();
    await store.put(makeTrajectory("job-bad"));
    await writeRawRow("job-bad", "{not json");
    await store.put(makeTrajectory("job-bad"));
    expect(await store.get("job-bad")).toEqual(makeTrajectory("job-bad"));
  });

  it("a closed store rejects reads with a storage error", async () => {
    const store = await openSqliteTrajectoryStore(dataDir);
    await store.close();
    const error = await gemsErrorOf(store.get("job-1"));
    expect(error.code).toBe("storage");
    expect(error.message).toMatch(/^Could not read job job-1: /);
  });

  it("closing twice is harmless", async () => {
    const store = await openSqliteTrajectoryStore(dataDir);
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
});

describe("keyv trajectory store over another adapter", () => {
  it("a write the adapter fails is a storage error naming the job", async () => {
    const failing = new Map<string, unknown>();
    failing.set = () => {
      throw Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL" });
    };
    const store = createKeyvTrajectoryStore(new Keyv({ store: failing }));
    const error = await gemsErrorOf(store.put(makeTrajectory("job-1")));
    expect(error.code).toBe("storage");
    expect(error.message).toBe("Could not save job job-1: the store refused the write.");
  });

  it("with throwOnErrors the adapter's reason reaches the message", async () => {
    const failing = new Map<string, unknown>();
    failing.set = () => {
      throw Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL" });
    };
    const store = createKeyvTrajectoryStore(new Keyv({ store: failing, throwOnErrors: true }));
    const error = await gemsErrorOf(store.put(makeTrajectory("job-1")));
    expect(error.message).toBe("Could not save job job-1: the disk is full.");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("a failed first write leaves the job readable as missing, not corrupt", async () => {
    const backing = new Map<string, unknown>();
    const store = createKeyvTrajectoryStore(new Keyv({ store: backing, throwOnErrors: true }));
    const set = backing.set.bind(backing);
    backing.set = (key: string, value: unknown) => {
      if (key.includes("trajectory:job-1")) throw new Error("EIO");
      return set(key, value);
    };
    await gemsErrorOf(store.put(makeTrajectory("job-1")));
    expect(await store.get("job-1")).toBeUndefined();
    expect((await loadTrajectories(store)).trajectories).toEqual([]);
  });
});
