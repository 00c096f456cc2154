import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import { GemsError, InputError } from "../../core/errors.ts";
import { LostJobError, createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import type { JobRecord } from "../../core/jobs/types.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";
import { createPostgresImageStore } from "../../core/memory/postgres/image-store.ts";
import { MIGRATIONS, migrate } from "../../core/memory/postgres/migrations.ts";
import { onCleanup } from "../support/cleanup.ts";
import { TEST_DATABASE_URL, dropSchema, testDatabase, uniqueSchemaName } from "../support/postgres.ts";
import { makeTrajectory } from "./trajectory-fixture.ts";

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
/** Opaque bytes: the store keeps whatever it is given. */
const png = (text: string): Uint8Array => new TextEncoder().encode(`PNG ${text}`);

function makeRecord(jobId: string, events = 2): JobRecord {
  const at = "2025-01-02T03:04:05.000Z";
  return {
    version: 1,
    jobId,
    requester: { id: "discord:1", name: "Alice" },
    surfaceRef: { surface: "discord", channelId: "c1", threadId: "t1" },
    trajectory: makeTrajectory(jobId),
    events: Array.from({ length: events }, (_, i) => ({ type: "job.queued", position: i, jobId, seq: i + 1, at }) as JobEvent),
    cursors: { discord: 1 },
    pendingFeedback: [{ author: { id: "discord:2", name: "Bob" }, text: "make it bigger", receivedAt: at }],
    finishedAt: null,
  };
}

describe("postgres migrations", () => {
  it("two processes starting at once apply each migration exactly once", async () => {
    const schema = uniqueSchemaName("mig");
    onCleanup(() => dropSchema(schema));
    const [a, b] = await Promise.all([openDatabase(TEST_DATABASE_URL, { schema }), openDatabase(TEST_DATABASE_URL, { schema })]);
    onCleanup(() => a.close(), () => b.close());

    const { rows } = await a.pool.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);

    expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("running the migrations again applies nothing", async () => {
    const db = await testDatabase();
    expect(await migrate(db)).toEqual([]);
  });

  it("an unreachable server fails with one storage error naming it without the password", async () => {
    const error = await openDatabase("postgres://gems:s3cret-pw@127.0.0.1:1/gems").then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(GemsError);
    expect((error as GemsError).code).toBe("storage");
    expect((error as GemsError).message).toContain("127.0.0.1:1");
    expect((error as GemsError).message).not.toContain("s3cret-pw");
  });

  it("a schema name that is not a plain identifier is refused", async () => {
    await expect(openDatabase(TEST_DATABASE_URL, { schema: 'x"; DROP TABLE y; --' })).rejects.toThrow(/not a usable schema name/);
  });
});

describe("postgres image store", () => {
  it("put returns the sha256, get returns the same bytes, and a second put changes nothing", async () => {
    const store = createPostgresImageStore(await testDatabase());
    const bytes = png("red cube");
    const hash = await store.put(bytes);
    expect(hash).toBe(sha256(bytes));
    expect(await store.put(bytes)).toBe(hash);
    expect(await store.get(hash)).toEqual(bytes);
    expect(await store.has(hash)).toBe(true);
  });

  it("keeps the content type the bytes show", async () => {
    const store = createPostgresImageStore(await testDatabase());
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    const realPng = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 9]);
    expect(await store.contentTypeOf(await store.put(realPng))).toBe("image/png");
    expect(await store.contentTypeOf(await store.put(jpeg))).toBe("image/jpeg");
  });

  it("an unknown image is not-found, a malformed id is an input error, delete removes it", async () => {
    const store = createPostgresImageStore(await testDatabase());
    const hash = await store.put(png("blue sphere"));
    await store.delete(hash);
    expect(await store.has(hash)).toBe(false);
    await expect(store.get(hash)).rejects.toMatchObject({ code: "not-found" });
    await expect(store.get("../etc/passwd")).rejects.toBeInstanceOf(InputError);
  });

  it("keeps the most recently used images in memory, within its byte budget", async () => {
    const db = await testDatabase();
    // 12 bytes each: two fit in 30, a third pushes out the least recently used.
    const writer = createPostgresImageStore(db, { cacheBytes: 30 });
    const [a, b, c] = [png("image aaaa"), png("image bbbb"), png("image cccc")];
    const [hashA, hashB] = [await writer.put(a), await writer.put(b)];
    expect(await writer.get(hashA)).toEqual(a);
    const hashC = await writer.put(c);
    const reader = createPostgresImageStore(db, { cacheBytes: 30 });
    expect(await reader.get(hashC)).toEqual(c);
    // Gone from the database: only what each store kept can still be read.
    await db.pool.query(`DELETE FROM ${db.table("images")}`);
    expect(await writer.get(hashA)).toEqual(a);
    expect(await writer.get(hashC)).toEqual(c);
    await expect(writer.get(hashB)).rejects.toMatchObject({ code: "not-found" });
    expect(await reader.get(hashC)).toEqual(c);
    await expect(reader.get(hashA)).rejects.toMatchObject({ code: "not-found" });
    await expect(createPostgresImageStore(db, { cacheBytes: 0 }).get(hashC)).rejects.toMatchObject({ code: "not-found" });
  });

  it("keeps its own copy: a caller reusing its buffer after a put changes nothing stored", async () => {
    const store = createPostgresImageStore(await testDatabase());
    const bytes = png("green cone");
    const hash = await store.put(bytes);
    bytes.fill(0);
    expect(await store.get(hash)).toEqual(png("green cone"));
  });
});

describe("postgres job store", () => {
  it("a stored record loads back equal, oldest first", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    await store.put(makeRecord("job-b"));
    await store.put(makeRecord("job-a"));

    const loaded = await createPostgresJobStore(db, { ownsDatabase: false }).load();

    expect(loaded.corrupt).toEqual([]);
    expect(loaded.records.map((r) => r.jobId)).toEqual(["job-b", "job-a"]);
    expect(loaded.records[0]).toEqual(makeRecord("job-b"));
  });

  it("later puts append events, move cursors and settle feedback", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    const record = makeRecord("job-1");
    await store.put(record);
    record.events.push({ type: "job.started", resumed: false, jobId: "job-1", seq: 3, at: "2025-01-02T03:04:06.000Z" } as JobEvent);
    record.cursors.discord = 3;
    record.cursors.web = 2;
    record.pendingFeedback = [];
    record.trajectory.status = "done";
    record.finishedAt = "2025-01-02T03:05:00.000Z";
    await store.put(record);

    expect(await createPostgresJobStore(db, { ownsDatabase: false }).get("job-1")).toEqual(record);
  });

  it("two processes writing different parts of one job do not overwrite each other", async () => {
    const db = await testDatabase();
    const worker = createPostgresJobStore(db, { ownsDatabase: false });
    const surfaces = createPostgresJobStore(db, { ownsDatabase: false });
    await worker.put(makeRecord("job-1"));
    const seen = await surfaces.get("job-1");
    if (!seen) throw new Error("expected the job to be stored");

    const step = makeRecord("job-1", 3);
    step.trajectory.status = "done";
    await worker.put(step);
    seen.cursors.discord = 2;
    seen.pendingFeedback.push({ author: { id: "discord:3", name: "Carol" }, text: "more blue", receivedAt: "2025-01-02T03:06:00.000Z" });
    await surfaces.put(seen);

    const stored = await worker.get("job-1");
    expect(stored?.trajectory.status).toBe("done");
    expect(stored?.events).toHaveLength(3);
    expect(stored?.cursors).toEqual({ discord: 2 });
    expect(stored?.pendingFeedback.map((p) => p.text)).toEqual(["make it bigger", "more blue"]);
  });

  it("a cursor never moves backwards", async () => {
    const db = await testDatabase();
    const a = createPostgresJobStore(db, { ownsDatabase: false });
    const b = createPostgresJobStore(db, { ownsDatabase: false });
    await a.put(makeRecord("job-1"));
    const late = await b.get("job-1");
    const ahead = makeRecord("job-1");
    ahead.cursors.discord = 2;
    await a.put(ahead);
    if (!late) throw new Error("expected the job");
    late.cursors.discord = 0;
    await b.put(late);

    expect((await a.get("job-1"))?.cursors.discord).toBe(2);
  });

  it("a corrupt row is listed, not thrown, and the others load", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    await store.put(makeRecord("job-1"));
    await store.put(makeRecord("job-2"));
    await db.pool.query(`UPDATE ${db.table("jobs")} SET trajectory = '{"jobId": 7}' WHERE job_id = 'job-1'`);

    const loaded = await createPostgresJobStore(db, { ownsDatabase: false }).load();

    expect(loaded.records.map((r) => r.jobId)).toEqual(["job-2"]);
    expect(loaded.corrupt).toEqual([{ jobId: "job-1", problem: expect.stringContaining("job-1") }]);
  });

  it("delete removes the job with its events, cursors and feedback", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    await store.put(makeRecord("job-1"));
    await store.delete("job-1");
    expect(await store.get("job-1")).toBeUndefined();
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${db.table("job_events")}`);
    expect(rows[0].n).toBe(0);
  });

  it("getSince reads the job with only the events after those known, and its later writes know them all", async () => {
    const db = await testDatabase();
    const worker = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    const stored = makeRecord("job-1", 4);
    await worker.put(stored);
    await worker.claim("job-1", "w1");
    const surfaces = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    const since = await surfaces.getSince("job-1", 2);
    expect(since).toMatchObject({ knownEvents: 2, storedEvents: 4 });
    expect(since?.record.events.map((e) => e.seq)).toEqual([3, 4]);
    expect({ ...since?.record, events: [] }).toEqual({ ...stored, events: [] });
    expect((await surfaces.getSince("job-1", 4))?.record.events).toEqual([]);
    expect(await surfaces.getSince("job-2", 0)).toBeUndefined();

    // Had the read been taken for the whole job, the copy's 4 events would look like new ones
    // this process has no right to write.
    const copy = { ...(since?.record as JobRecord), events: stored.events, cursors: { discord: 4 } };
    await surfaces.put(copy);
    expect((await worker.get("job-1"))?.cursors).toEqual({ discord: 4 });
  });

  it("a worker whose job was claimed by another can no longer write it", async () => {
    const db = await testDatabase();
    await createPostgresJobStore(db, { ownsDatabase: false }).put(makeRecord("job-1"));
    const first = createPostgresJobStore(db, { ownsDatabase: false });
    const second = createPostgresJobStore(db, { ownsDatabase: false });
    const mine = await first.claim("job-1", "worker-a");
    const theirs = await second.claim("job-1", "worker-b");
    if (!mine || !theirs) throw new Error("expected the job");

    mine.trajectory.status = "done";
    theirs.trajectory.status = "failed";
    // A claim is only found lost by a write: the database is not asked on every check.
    expect(first.holds("job-1")).toBe(true);

    await expect(first.put(mine)).rejects.toBeInstanceOf(LostJobError);
    expect(first.holds("job-1")).toBe(false);
    await second.put(theirs);
    expect(second.holds("job-1")).toBe(true);
    expect((await second.get("job-1"))?.trajectory.status).toBe("failed");
    // A new claim owns it again; a released one is owned by nobody here.
    await first.claim("job-1", "worker-a2");
    expect(first.holds("job-1")).toBe(true);
    first.release("job-1");
    expect(first.holds("job-1")).toBe(false);
  });

  it("a lost worker's step writes nothing: no event, cursor, feedback or trajectory change", async () => {
    const db = await testDatabase();
    await createPostgresJobStore(db, { ownsDatabase: false }).put(makeRecord("job-1"));
    const first = createPostgresJobStore(db, { isShared: true, ownsDatabase: false });
    const second = createPostgresJobStore(db, { isShared: true, ownsDatabase: false });
    const mine = await first.claim("job-1", "worker-a");
    if (!mine) throw new Error("expected the job");
    await second.claim("job-1", "worker-b");
    const before = await second.get("job-1");

    mine.trajectory.status = "done";
    mine.events.push({ type: "job.started", resumed: false, jobId: "job-1", seq: 3, at: "2025-01-02T03:04:06.000Z" } as JobEvent);
    mine.cursors.discord = 3;
    mine.pendingFeedback = [{ author: { id: "discord:3", name: "Carol" }, text: "a note", receivedAt: "2025-01-02T03:07:00.000Z", isNote: true }];

    await expect(first.put(mine)).rejects.toBeInstanceOf(LostJobError);
    expect(await second.get("job-1")).toEqual(before);
  });

  it("one step's write stores new feedback with its images and note flag, and removes applied feedback", async () => {
    const db = await testDatabase();
    await createPostgresJobStore(db, { ownsDatabase: false }).put(makeRecord("job-1"));
    const worker = createPostgresJobStore(db, { isShared: true, ownsDatabase: false });
    const record = await worker.claim("job-1", "worker-a");
    if (!record) throw new Error("expected the job");
    const hash = "a".repeat(64);
    record.pendingFeedback = [
      { author: { id: "discord:3", name: "Carol" }, text: "like this one", receivedAt: "2025-01-02T03:07:00.000Z", imageHashes: [hash] },
      { author: { id: "discord:4", name: "Dan" }, text: "we like it blue", receivedAt: "2025-01-02T03:08:00.000Z", isNote: true },
    ];
    record.events.push({ type: "job.started", resumed: false, jobId: "job-1", seq: 3, at: "2025-01-02T03:04:06.000Z" } as JobEvent);
    await worker.put(record);

    const stored = await createPostgresJobStore(db, { ownsDatabase: false }).get("job-1");
    expect(stored?.pendingFeedback).toEqual(record.pendingFeedback);
    expect(stored?.events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("changedSince lists the jobs written since a database time", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    await store.put(makeRecord("job-1"));
    const { now } = await store.changedSince(null);
    await store.put(makeRecord("job-2"));
    const record = makeRecord("job-1", 3);
    await store.put(record);

    expect((await store.changedSince(now)).jobIds.sort()).toEqual(["job-1", "job-2"]);
    expect((await store.changedSince(null)).jobIds.sort()).toEqual(["job-1", "job-2"]);
  });

  it("changedSince leaves out a job read since its last write, until it is written again", async () => {
    const db = await testDatabase();
    const worker = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    const surfaces = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    const { now } = await surfaces.changedSince(null);
    const record = makeRecord("job-1");
    await worker.put(record);
    await worker.claim("job-1", "w1");
    expect((await surfaces.changedSince(now)).jobIds).toEqual(["job-1"]);
    await surfaces.get("job-1");
    expect((await surfaces.changedSince(now)).jobIds).toEqual([]);

    record.events.push({ type: "job.started", resumed: false, jobId: "job-1", seq: 3, at: "2025-01-02T03:04:06.000Z" } as JobEvent);
    await worker.put(record);
    expect((await surfaces.changedSince(now)).jobIds).toEqual(["job-1"]);
    await surfaces.get("job-1");
    expect((await surfaces.changedSince(now)).jobIds).toEqual([]);
  });

  it("a process that only moves its delivery cursors leaves the job row and its pollers alone", async () => {
    const db = await testDatabase();
    const worker = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    const surfaces = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    const elsewhere = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    await worker.put(makeRecord("job-1", 3));
    await worker.claim("job-1", "w1");
    const { now } = await elsewhere.changedSince(null);
    const copy = (await surfaces.get("job-1")) as JobRecord;
    await elsewhere.get("job-1");

    copy.cursors = { ...copy.cursors, discord: 3, slack: 2 };
    await surfaces.put(copy);
    expect((await elsewhere.changedSince(now)).jobIds).toEqual([]);
    expect((await elsewhere.get("job-1"))?.cursors).toEqual({ discord: 3, slack: 2 });
    // Still refused when the job is gone, as every write is.
    await db.pool.query(`DELETE FROM ${db.table("jobs")} WHERE job_id = 'job-1'`);
    copy.cursors = { ...copy.cursors, discord: 4 };
    await expect(surfaces.put(copy)).rejects.toThrow(/no longer stored/);
  });
});
