import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrateToPostgres } from "../../bots/cli/migrate-command.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import { createDiskImageStore } from "../../core/memory/image-store.ts";
import { createPostgresImageStore } from "../../core/memory/postgres/image-store.ts";
import { TEST_DATABASE_URL, testDatabase } from "../support/postgres.ts";
import { alice, bob, makeService, recordSurface, sqliteStore, submitted, tempDir, thread } from "../jobs/job-harness.ts";

describe("gems migrate --to postgres", () => {
  it("copies jobs with their events, cursors and images, and a second run copies nothing", async () => {
    const dir = await tempDir();
    const service = await makeService({ store: await sqliteStore(dir), images: createDiskImageStore(join(dir, "images")), isManual: true });
    const surface = recordSurface(service);
    await service.start();
    const jobs = [
      submitted(await service.submit({ prompt: "a red cube", skill: "none", iterations: 2 }, alice, thread)),
      submitted(await service.submit({ prompt: "a blue sphere", skill: "none", iterations: 1 }, bob, thread)),
    ];
    await Promise.all(jobs.map((jobId) => surface.finished(jobId)));
    await service.vote(jobs[0]!, bob, 1, "up");
    expect(await service.vote(jobs[0]!, alice, 1, "down")).toMatchObject({ ok: true });
    await service.drain();
    const statuses = jobs.map((jobId) => service.status(jobId));
    await service.close();
    const db = await testDatabase();

    const first = await migrateToPostgres(dir, TEST_DATABASE_URL, db.schema);
    const second = await migrateToPostgres(dir, TEST_DATABASE_URL, db.schema);

    const imageCount = new Set(statuses.flatMap((s) => (s.ok ? s.job.trajectory.iterations.map((it) => it.imageHash) : []))).size;
    expect(first).toMatchObject({ jobsCopied: 2, jobsAlreadyThere: 0, corruptJobs: [], imagesCopied: imageCount, imagesAlreadyThere: 0 });
    expect(first.events).toBeGreaterThan(4);
    expect(first.cursors).toBe(2);
    expect(second).toMatchObject({ jobsCopied: 0, jobsAlreadyThere: 2, imagesCopied: 0, imagesAlreadyThere: imageCount, events: 0 });
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    const images = createPostgresImageStore(db);
    for (const status of statuses) {
      if (!status.ok) throw new Error(status.message);
      const copied = await store.get(status.job.jobId);
      expect(copied?.trajectory).toEqual(status.job.trajectory);
      expect(copied?.events.length).toBe(status.job.lastSeq);
      expect(copied?.cursors).toEqual({ test: status.job.lastSeq });
      const votes = [...(copied?.votes ?? [])].sort((x, y) => x.voter.id.localeCompare(y.voter.id));
      const expected = [
        { n: 1, voter: { id: alice.id, name: alice.name }, value: "down" },
        { n: 1, voter: { id: bob.id, name: bob.name }, value: "up" },
      ].sort((x, y) => x.voter.id.localeCompare(y.voter.id));
      expect(votes).toEqual(status.job.jobId === jobs[0] ? expected.map((v) => expect.objectContaining(v)) : []);
      for (const iteration of status.job.trajectory.iterations) expect(await images.has(iteration.imageHash ?? "")).toBe(true);
    }
  });
});
