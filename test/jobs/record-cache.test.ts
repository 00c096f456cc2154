/**
 * A process's copy of the jobs in PostgreSQL (core/jobs/distributed/record-cache.ts), over a real
 * PostgreSQL store shared the way two processes share it.
 */
import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import { createRecordCache } from "../../core/jobs/distributed/record-cache.ts";
import { EventDelivery } from "../../core/jobs/event-delivery.ts";
import { JobTable } from "../../core/jobs/job-table.ts";
import { createPostgresJobStore, type PostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import type { JobRecord } from "../../core/jobs/types.ts";
import { silentLogger } from "../../core/logger.ts";
import { testDatabase } from "../support/postgres.ts";
import { makeTrajectory } from "../memory/trajectory-fixture.ts";

const AT = "2025-01-02T03:04:05.000Z";

const event = (jobId: string, seq: number, type = "job.queued"): JobEvent => ({ type, position: 0, jobId, seq, at: AT }) as JobEvent;

function newRecord(jobId: string): JobRecord {
  return {
    version: 1,
    jobId,
    requester: { id: "discord:1", name: "Alice" },
    surfaceRef: { surface: "discord", channelId: "c1" },
    trajectory: makeTrajectory(jobId),
    events: [event(jobId, 1), event(jobId, 2)],
    cursors: {},
    pendingFeedback: [],
    finishedAt: null,
  };
}

/** One process's table, delivery and record cache over its own store. */
function processOver(store: PostgresJobStore) {
  const table = new JobTable(store, () => false);
  const delivery = new EventDelivery({
    record: (jobId) => table.get(jobId)?.record,
    jobIds: () => table.ids(),
    cursorMoved: () => undefined,
    sleep: () => Promise.resolve(),
    logger: silentLogger,
  });
  const cache = createRecordCache({ table, store, delivery, log: silentLogger, instance: "test", isClosed: () => false, polled: () => undefined });
  return { table, cache };
}

describe("record cache", () => {
  it("reads only the events it lacks and appends them in order", async () => {
    const db = await testDatabase();
    const worker = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    const surfaces = processOver(createPostgresJobStore(db, { ownsDatabase: false, isShared: true }));
    const record = newRecord("job-1");
    await worker.put(record);
    await worker.claim("job-1", "w1");
    await surfaces.cache.reload("job-1");
    const copy = surfaces.table.get("job-1")?.record;
    const firstEvent = copy?.events[0];

    record.events.push(event("job-1", 3, "job.started"), event("job-1", 4, "plan.done"));
    record.trajectory = { ...record.trajectory, status: "running", updatedAt: "2025-01-02T03:05:00.000Z" };
    await worker.put(record);
    await surfaces.cache.reload("job-1");

    expect(copy?.events.map((e) => [e.seq, e.type])).toEqual([[1, "job.queued"], [2, "job.queued"], [3, "job.started"], [4, "plan.done"]]);
    // The events it held are the same objects: they were not read again.
    expect(copy?.events[0]).toBe(firstEvent);
    expect(copy?.trajectory.updatedAt).toBe("2025-01-02T03:05:00.000Z");
  });

  it("leaves the copy of a job this process holds the claim of, so its later writes still pass as its own", async () => {
    const db = await testDatabase();
    const store = createPostgresJobStore(db, { ownsDatabase: false, isShared: true });
    await createPostgresJobStore(db, { ownsDatabase: false, isShared: true }).put(newRecord("job-1"));
    const mine = processOver(store);
    await mine.cache.reload("job-1");
    const job = mine.table.get("job-1");
    if (!job) throw new Error("expected the job in the table");

    // As a surfaces process changing a finished job, or a worker around its run: claim, write,
    // and a wake-up for its own commit arriving before the claim is let go.
    const claimed = await store.claim("job-1", "me/1");
    mine.cache.adopt(job, claimed as JobRecord);
    job.record.events.push(event("job-1", 3, "feedback.added"));
    // Fields set during a run come last in the object, unlike in a record read back.
    const { jobId, ...rest } = job.record.trajectory;
    job.record.trajectory = { ...rest, updatedAt: "2025-01-02T03:06:00.000Z", jobId };
    await store.put(job.record);
    await mine.cache.reload("job-1");
    store.release("job-1");

    // Read back, the trajectory's keys come in the schema's order: as a copy no longer the
    // owner's, it would differ from what this process wrote, and the store would refuse the
    // next write as a change to memory by a process that does not own it.
    job.record.cursors = { discord: 3 };
    await store.put(job.record);
    expect((await createPostgresJobStore(db, { ownsDatabase: false }).get("job-1"))?.cursors).toEqual({ discord: 3 });
  });
});
