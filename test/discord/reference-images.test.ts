import type { APIUser } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { TINY_PNG } from "../fakes/png-fixture.ts";
import { recordingGenerator } from "../support/recording-generator.ts";
import { createJob, startWorld, waitForEvent, waitForFinal, type World } from "./harness.ts";

let world: World;
let alice: APIUser;
const { generator: recording, requests } = recordingGenerator(createSimGenerator({ latencyMs: 2, partialImages: 0 }));
let reference: Uint8Array;

beforeAll(async () => {
  world = await startWorld({ generator: recording });
  alice = world.fake.user("alice", "Alice");
  reference = await createSimGenerator({ width: 128, height: 128 }).generate({ prompt: "a purple heart left of an orange car", seed: 1 });
});
afterAll(async () => {
  await world?.close();
});

async function createWith(attachment: ReturnType<World["fake"]["attachment"]>, options: Record<string, string | number> = {}) {
  const interaction = world.fake.command(alice, "create", { prompt: "a red cube", iterations: 2, ...options }, undefined, { image: attachment });
  return (await world.fake.answer(interaction)).content;
}

describe("reference images on Discord", () => {
  it("/gems create image: downloads the attachment, the generator gets it, and the thread shows it", async () => {
    const attachment = world.fake.attachment("layout.png", reference);
    const interaction = world.fake.command(alice, "create", { prompt: "a red cube", iterations: 2, refine: "edit" }, undefined, { image: attachment });
    const answer = (await world.fake.answer(interaction)).content;
    const jobId = /Job `([^`]+)`/.exec(answer)![1]!;
    const threadId = /<#(\d+)>/.exec(answer)![1]!;
    await waitForFinal(world.fake, threadId);
    expect(world.fake.downloads).toContainEqual({ path: expect.stringContaining("/layout.png"), status: 200 });
    expect(requests[0]!.images).toEqual([reference]);
    const shown = world.fake.messagesIn(threadId).find((m) => m.content.includes("reference image"))!;
    expect(shown.content).toContain("sent to the generator");
    expect(shown.attachments.map((a) => a.filename)).toEqual(["reference-1.png"]);
    const status = world.jobs.status(jobId);
    expect(status.ok && status.job.trajectory.request.referenceImages).toHaveLength(1);
    expect(status.ok && status.job.trajectory.modes.refine).toBe("edit");
  });

  it.each([
    ["a file that is not an image", () => world.fake.attachment("notes.txt", new TextEncoder().encode("hello"), { contentType: "text/plain" }), '"notes.txt" is not a PNG, JPEG or WebP image'],
    ["a 30 MB image", () => world.fake.attachment("huge.png", new Uint8Array(30 * 1024 * 1024).fill(1, 8)), '"huge.png" is 30 MB; reference images may be at most 20 MB'],
    ["an attachment whose signed link expired", () => world.fake.attachment("old.png", TINY_PNG, { expired: true }), `Discord's link to "old.png" has expired. Attach the image again.`],
  ])("refuses %s with its own answer and queues nothing", async (_what, make, message) => {
    const before = world.jobs.list().length;
    const answer = await createWith(make());
    expect(answer).toContain(message);
    expect(world.jobs.list()).toHaveLength(before);
  });

  it("images attached to a thread reply become feedback with images; twenty are refused with the limit", async () => {
    const { jobId, threadId } = await createJob(world, alice, { prompt: "a red cube", iterations: 1 });
    await waitForFinal(world.fake, threadId);
    world.fake.say(alice, threadId, "", [world.fake.attachment("like-this.png", reference)]);
    const added = await waitForEvent(world, (e) => e.jobId === jobId && e.type === "feedback.added", "feedback with an image");
    expect(added.type === "feedback.added" && added.images).toHaveLength(1);
    expect(added.type === "feedback.added" && added.text).toBe("Like the attached image.");
    await world.fake.waitFor(() => world.fake.messagesIn(threadId).find((m) => m.content.includes("🖼️ 1 image joined the job's references.")), "the feedback note with its image");

    const many = Array.from({ length: 20 }, (_, i) => world.fake.attachment(`ref-${i}.png`, TINY_PNG));
    const downloadsBefore = world.fake.downloads.length;
    world.fake.say(alice, threadId, "like these", many);
    const refusal = await world.fake.waitFor(() => world.fake.messagesIn(threadId).find((m) => m.content.includes("20 images were sent")), "the refusal");
    expect(refusal.content).toBe("⚠️ 20 images were sent; the limit is 4 reference images per request. Send the ones that matter most.");
    // Refused before any download.
    expect(world.fake.downloads.length).toBe(downloadsBefore);
  });
});
