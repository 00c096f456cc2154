import * as nodeFs from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createDiskImageStore, type ImageStoreFs } from "../../core/memory/image-store.ts";
import { fastApiError } from "../fakes/gems-generator-server.ts";
import { alice, bob, fakeClock, makeService, recordSurface, submitted, tempDir, thread } from "./job-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";

/** node:fs whose first image write fails the way a full disk does. */
function diskFullOnce(): ImageStoreFs {
  let isFull = true;
  return {
    ...nodeFs,
    writeFile: (async (...args: Parameters<typeof nodeFs.writeFile>) => {
      if (isFull) {
        isFull = false;
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }
      return nodeFs.writeFile(...args);
    }) as typeof nodeFs.writeFile,
  };
}

describe("faults", () => {
  it("fails only the job whose image could not be written to a full disk", async () => {
    const dir = await tempDir();
    const service = await makeService({ images: createDiskImageStore(join(dir, "images"), { fs: diskFullOnce() }) });
    const surface = recordSurface(service);
    await service.start();
    const jobs = [
      submitted(await service.submit({ prompt: "a red cube", skill: "none" }, alice, thread)),
      submitted(await service.submit({ prompt: "a blue sphere", skill: "none" }, bob, thread)),
    ];

    const ends = await Promise.all(jobs.map((jobId) => surface.finished(jobId)));

    const failed = ends.filter((e) => e.type === "job.failed");
    expect(failed).toEqual([expect.objectContaining({ type: "job.failed", error: "Could not save the image: the disk is full." })]);
    expect(ends.filter((e) => e.type === "job.done")).toHaveLength(1);
  });

  it("waits out a generator that answers 503 for a while, then finishes the job", async () => {
    const clock = fakeClock();
    // Each generate call makes two requests (the adapter retries once); the first three calls fail.
    const { mllm, generator } = await wireModels({}, (_call, index) => (index < 6 ? fastApiError(503, "loading the model") : undefined));
    const service = await makeService({ mllm: mllm.mllm, generator: generator.generator, now: clock.now, sleep: clock.sleep });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit(RED_CUBE, alice, thread));

    const end = await surface.finished(jobId);

    expect(end).toMatchObject({ type: "job.done", reason: "all-passed" });
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000]);
    expect(generator.server.requests).toHaveLength(7);
  });

  it("fails with the server's reason and keeps its best image when the outage outlasts the budget", async () => {
    const clock = fakeClock();
    const { mllm, generator } = await wireModels({ verifier: redFrom(99) }, (_call, index) =>
      index === 0 ? undefined : fastApiError(503, "GPU node rebooting"),
    );
    const service = await makeService({
      mllm: mllm.mllm,
      generator: generator.generator,
      now: clock.now,
      sleep: clock.sleep,
      limits: { outageBudgetMs: 60_000 },
    });
    const surface = recordSurface(service);
    await service.start();
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations: 3 }, alice, thread));

    const end = await surface.finished(jobId);

    expect(end).toMatchObject({
      type: "job.failed",
      error: expect.stringMatching(/^The image generator at 127\.0\.0\.1:\d+ did not answer after 2 attempts: busy or still loading its model \(503\): GPU node rebooting/),
      best: { n: 1, passed: 1, total: 2 },
    });
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 29_000]);
    expect(service.status(jobId)).toMatchObject({ ok: true, job: { status: "failed", best: { n: 1 } } });
  });
});
