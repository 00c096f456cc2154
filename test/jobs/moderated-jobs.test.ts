import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withModeration } from "../../core/jobs/moderated-jobs.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { createModerationStep } from "../../core/moderation/moderator.ts";
import { createOpenAiModerator } from "../../core/moderation/openai-moderation.ts";
import { createWordListModerator } from "../../core/moderation/word-list.ts";
import { silentLogger } from "../../core/logger.ts";
import { startFakeModerationServer, type FakeModerationServer } from "../fakes/openai-moderation-server.ts";
import { TINY_PNG } from "../fakes/png-fixture.ts";
import { alice, countingGenerator, createSimGenerator, makeService, recordSurface, submitted, thread } from "./job-harness.ts";

const KEY = "sk-moderated-jobs-0123456789";
let fake: FakeModerationServer;
beforeAll(async () => {
  fake = await startFakeModerationServer({ apiKey: KEY, flaggedWords: ["stab"] });
});
afterAll(() => fake.close());

describe("the moderation wrapper around the job service", () => {
  it("sends reference and feedback images to the endpoint; a flagged one is refused, nothing queued, stored or generated", async () => {
    const images = createInMemoryImageStore();
    const { generator, counter } = countingGenerator(createSimGenerator());
    const service = await makeService({ images, generator });
    const surface = recordSurface(service, "test", { isAllJobs: true });
    await service.start();
    const step = createModerationStep([createWordListModerator(["zorblax"]), createOpenAiModerator({ baseUrl: `${fake.origin}/v1`, apiKey: KEY })], "closed", silentLogger);
    const jobs = withModeration(service, { step, images, logger: silentLogger });

    const clean = await images.put(TINY_PNG);
    const flagged = await images.put(new Uint8Array([...TINY_PNG, ...Buffer.from("FLAGME")]));
    const refused = await jobs.submit({ prompt: "a calm lake", referenceImages: [clean, flagged] }, alice, thread);
    expect(refused).toEqual({ ok: false, reason: "moderation", message: "Your prompt was not taken: it did not pass the content filter (sexual). Only you see this; rephrase it and try again." });
    const sent = fake.requests.at(-1)?.body.input as Array<{ type: string }>;
    expect(sent.map((p) => p.type)).toEqual(["text", "image_url", "image_url"]);
    expect(service.list()).toEqual([]);

    const jobId = submitted(await jobs.submit({ prompt: "a calm lake", iterations: 1, referenceImages: [clean] }, alice, thread));
    await surface.finished(jobId);
    const calls = counter.total;
    const feedback = await jobs.addFeedback(jobId, alice, "like this one", [flagged]);
    expect(feedback).toMatchObject({ ok: false, reason: "moderation" });
    const status = service.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.feedback).toEqual([]);
    expect(counter.total).toBe(calls);

    // An unknown image hash is an input problem, said plainly, before any moderation call.
    const before = fake.requests.length;
    expect(await jobs.submit({ prompt: "a lake", referenceImages: ["0".repeat(64)] }, alice, thread)).toMatchObject({ ok: false, reason: "input" });
    expect(fake.requests.length).toBe(before);
  });
});
