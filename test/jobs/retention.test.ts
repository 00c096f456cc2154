import { describe, expect, it } from "vitest";
import { createInMemoryJobStore } from "../../core/jobs/job-store.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { alice, bob, fakeClock, makeService, recordSurface, submitted, thread } from "./job-harness.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

describe("retention", () => {
  it("removes finished jobs past the retention age with the images no remaining job uses", async () => {
    const clock = fakeClock();
    const images = createInMemoryImageStore();
    const store = createInMemoryJobStore();
    const service = await makeService({ images, store, now: clock.now, limits: { retentionDays: 30 } });
    const surface = recordSurface(service);
    await service.start();
    const sameImage = { prompt: "a red cube", skill: "none", iterations: 1, seed: 5 };
    const shared = submitted(await service.submit(sameImage, alice, thread));
    const unique = submitted(await service.submit({ prompt: "a blue sphere", skill: "none", iterations: 1 }, alice, thread));
    await Promise.all([surface.finished(shared), surface.finished(unique)]);
    clock.advance(20 * DAY_MS);
    const recent = submitted(await service.submit(sameImage, bob, thread));
    await surface.finished(recent);
    const hashOf = (jobId: string): string => {
      const status = service.status(jobId);
      if (!status.ok || !status.job.best) throw new Error(`job ${jobId} has no image`);
      return status.job.best.imageHash;
    };
    const sharedHash = hashOf(shared);
    const uniqueHash = hashOf(unique);
    expect(hashOf(recent)).toBe(sharedHash);

    clock.advance(11 * DAY_MS);
    const report = await service.sweep(clock.now());

    expect(report).toEqual({ jobsRemoved: 2, imagesRemoved: 1 });
    expect(service.status(shared)).toMatchObject({ ok: false, reason: "not-found" });
    expect(service.status(recent)).toMatchObject({ ok: true });
    expect(await images.has(uniqueHash)).toBe(false);
    expect(await images.has(sharedHash)).toBe(true);
    expect((await store.load()).records.map((r) => r.jobId)).toEqual([recent]);
  });

  it("never removes a job that has not finished, however old", async () => {
    const clock = fakeClock();
    const service = await makeService({ now: clock.now, limits: { maxRunningJobs: 1 } });
    const surface = recordSurface(service);
    await service.start();
    const first = submitted(await service.submit({ prompt: "a red cube", skill: "none", iterations: 1 }, alice, thread));
    const waiting = submitted(await service.submit({ prompt: "a blue cube", skill: "none", iterations: 1 }, alice, thread));
    await surface.waitFor((e) => e.jobId === first && e.type === "job.started");

    const report = await service.sweep(new Date(clock.ms + 400 * DAY_MS));

    expect(report.jobsRemoved).toBe(0);
    expect(service.status(waiting).ok).toBe(true);
  });
});
