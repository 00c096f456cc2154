import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { Database } from "../../core/memory/postgres/database.ts";
import { createPostgresImageStore } from "../../core/memory/postgres/image-store.ts";
import { testDatabase } from "../support/postgres.ts";
import { alice, killMidRunAndResume, makeService, recordSurface, submitted, thread, type ServiceSetup } from "./job-harness.ts";

/** A service whose records, events, cursors and images are in PostgreSQL. */
function serviceOn(db: Database, setup: ServiceSetup = {}): Promise<JobService> {
  return makeService({ store: createPostgresJobStore(db, { ownsDatabase: false }), images: createPostgresImageStore(db), ...setup });
}

const bySeq = (events: JobEvent[]): Map<number, JobEvent> => new Map(events.map((e) => [e.seq, e]));

describe("the job service on PostgreSQL", () => {
  it("runs a job to the end with every step, event and image stored", async () => {
    const db = await testDatabase();
    const service = await serviceOn(db);
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ prompt: "a red cube", skill: "none", iterations: 2 }, alice, thread));
    await surface.finished(jobId);

    const stored = await createPostgresJobStore(db, { ownsDatabase: false }).get(jobId);
    const status = service.status(jobId);
    if (!status.ok || !stored) throw new Error("expected the job");
    expect(stored.trajectory).toEqual(status.job.trajectory);
    expect(stored.events.map((e) => e.seq)).toEqual(stored.events.map((_, i) => i + 1));
    const images = createPostgresImageStore(db);
    for (const iteration of stored.trajectory.iterations) expect(await images.has(iteration.imageHash ?? "")).toBe(true);
  });

  it("resumes jobs killed mid-run without repeating an iteration, losing feedback or renumbering events", async () => {
    const db = await testDatabase();
    const { jobA, jobB, before, after, resumed: second, report } = await killMidRunAndResume((setup) => serviceOn(db, setup));

    expect(report).toMatchObject({ loaded: 2, resumed: 2, corrupt: [] });
    for (const jobId of [jobA, jobB]) {
      const stored = second.events(jobId);
      if (!stored.ok) throw new Error(stored.message);
      const log = stored.events;
      const seen = bySeq([...before.of(jobId), ...after.of(jobId)]);
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual(log.map((e) => e.seq));
      for (const event of [...before.of(jobId), ...after.of(jobId)]) expect(event).toEqual(log[event.seq - 1]);
      const started = log.flatMap((e) => (e.type === "iteration.started" ? [e.n] : []));
      expect(new Set(started).size).toBe(started.length);
    }
    const status = second.status(jobA);
    expect(status.ok && status.job.trajectory.feedback.map((f) => f.text)).toEqual(["make the ring much bigger"]);
  });
});
