import { onCleanup } from "../support/cleanup.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyv } from "keyv";
import { describe, expect, it } from "vitest";
import { createInMemoryTrajectoryStore } from "../../core/memory/in-memory-trajectory-store.ts";
import { createKeyvTrajectoryStore, openSqliteTrajectoryStore } from "../../core/memory/keyv-trajectory-store.ts";
import type { TrajectoryStore } from "../../core/memory/stores.ts";
import { makeTrajectory } from "./trajectory-fixture.ts";
import { openPostgresTrajectoryStore } from "../../core/memory/postgres/trajectory-store.ts";
import { testDatabase } from "../support/postgres.ts";


async function sqliteStore(): Promise<TrajectoryStore> {
  const dir = await mkdtemp(join(tmpdir(), "gems-memory-"));
  const store = await openSqliteTrajectoryStore(dir);
  onCleanup(() => rm(dir, { recursive: true, force: true }), () => store.close());
  return store;
}

/** Keyv's PostgreSQL adapter in a schema of its own, dropped after the test. */
async function postgresStore(): Promise<TrajectoryStore> {
  const db = await testDatabase();
  const store = openPostgresTrajectoryStore(db);
  onCleanup(() => store.close());
  return store;
}

const stores: Array<[string, () => Promise<TrajectoryStore>]> = [
  ["in-memory", async () => createInMemoryTrajectoryStore()],
  ["postgres (keyv)", postgresStore],
  ["keyv over a Map", async () => createKeyvTrajectoryStore(new Keyv({ throwOnErrors: true }))],
  ["sqlite", sqliteStore],
];

describe.each(stores)("%s trajectory store", (_name, open) => {
  it("a stored trajectory reads back equal", async () => {
    const store = await open();
    const trajectory = makeTrajectory("job-1");
    await store.put(trajectory);
    expect(await store.get("job-1")).toEqual(trajectory);
  });

  it("an unknown job reads as undefined", async () => {
    const store = await open();
    expect(await store.get("nope")).toBeUndefined();
  });

  it("putting a job again replaces its record", async () => {
    const store = await open();
    await store.put(makeTrajectory("job-1"));
    const finished = { ...makeTrajectory("job-1"), status: "done" as const, stopReason: "all-passed" as const };
    await store.put(finished);
    expect(await store.get("job-1")).toEqual(finished);
  });

  it("listJobIds lists jobs oldest first, not by name", async () => {
    const store = await open();
    for (const jobId of ["job-c", "job-a", "job-b"]) await store.put(makeTrajectory(jobId));
    expect(await store.listJobIds()).toEqual(["job-c", "job-a", "job-b"]);
  });

  it("updating an old job keeps its place in the listing", async () => {
    const store = await open();
    for (const jobId of ["job-c", "job-a"]) await store.put(makeTrajectory(jobId));
    await store.put({ ...makeTrajectory("job-c"), status: "done" });
    expect(await store.listJobIds()).toEqual(["job-c", "job-a"]);
  });

  it("delete removes the job from get and from the listing", async () => {
    const store = await open();
    for (const jobId of ["job-1", "job-2", "job-3"]) await store.put(makeTrajectory(jobId));
    await store.delete("job-2");
    expect(await store.get("job-2")).toBeUndefined();
    expect(await store.listJobIds()).toEqual(["job-1", "job-3"]);
  });

  it("deleting an unknown job does nothing", async () => {
    const store = await open();
    await store.put(makeTrajectory("job-1"));
    await store.delete("nope");
    expect(await store.listJobIds()).toEqual(["job-1"]);
  });

  it("changing the object after put does not change what is stored", async () => {
    const store = await open();
    const trajectory = makeTrajectory("job-1");
    const written = store.put(trajectory);
    trajectory.status = "failed";
    trajectory.iterations[0]!.prompt = "changed";
    await written;
    expect(await store.get("job-1")).toEqual(makeTrajectory("job-1"));
  });

  it("concurrent puts of new jobs all reach the listing", async () => {
    const store = await open();
    const jobIds = Array.from({ length: 20 }, (_, i) => `job-${i}`);
    await Promise.all(jobIds.map((jobId) => store.put(makeTrajectory(jobId))));
    expect(await store.listJobIds()).toEqual(jobIds);
  });
});
