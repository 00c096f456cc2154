import { describe, expect, it } from "vitest";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { messageEvent, modalSubmission } from "../fakes/slack/payloads.ts";
import type { FakeSlack } from "../fakes/slack/fake-slack.ts";
import type { SlackSender } from "../fakes/slack/signed-requests.ts";
import { TINY_PNG } from "../fakes/png-fixture.ts";
import { recordingGenerator } from "../support/recording-generator.ts";
import { CHANNEL, EASY_PROMPT, HARD_PROMPT, alice, bob, imageReplies, onlyJobId, startHarness, textOf, waitForCard, waitForFinal } from "./harness.ts";
import { startLoopbackServer } from "../fakes/loopback-server.ts";

let nextTs = 0;
async function share(fake: FakeSlack, sender: SlackSender, threadTs: string, files: unknown[], text = "") {
  const ts = `1800000100.${String(++nextTs).padStart(6, "0")}`;
  fake.addUserMessage({ channel: CHANNEL, ts, user: bob.id, text, threadTs });
  const delivery = await sender.event(messageEvent(fake, { channel: CHANNEL, user: bob.id, text, ts, threadTs, files: files as never[] }));
  expect(delivery.status).toBe(200);
  return ts;
}

const recording = () => recordingGenerator(createSimGenerator({ latencyMs: 1, partialImages: 0 }));

describe("files shared in a job's thread on Slack", () => {
  it("are read with the bot token, become feedback with images, and the generator gets them on the next iteration", async () => {
    const { generator, requests } = recording();
    const { fake, jobs, sender, command } = await startHarness({ generator });
    await command(`${EASY_PROMPT} --iterations 1`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const jobId = onlyJobId(jobs);
    const reference = await createSimGenerator({ width: 128, height: 128 }).generate({ prompt: "a purple heart", seed: 2 });
    await share(fake, sender, card.ts, [fake.shareFile("like-this.png", reference)]);
    await fake.waitFor("the feedback with its image", () => {
      const status = jobs.status(jobId);
      return status.ok && status.job.trajectory.feedback[0]?.imageHashes?.length === 1;
    });
    expect(fake.fileReads).toEqual([{ path: expect.stringMatching(/^\/files-pri\/.*\/like-this\.png$/), isAuthorized: true }]);
    const continued = await jobs.continue(jobId, 1, { id: `slack:${fake.teamId}:${alice.id}`, name: "Alice" });
    expect(continued.ok || continued.message).toBe(true);
    await fake.waitFor("the second image", () => requests.length >= 2);
    expect(requests[1]!.images).toEqual([reference]);
  });

  it.each([
    ["a file that is not an image", (fake: FakeSlack) => [fake.shareFile("notes.txt", new TextEncoder().encode("hello"), "text/plain")], '"notes.txt" is not a PNG, JPEG or WebP image'],
    ["a 30 MB image", (fake: FakeSlack) => [fake.shareFile("huge.png", new Uint8Array(30 * 1024 * 1024))], '"huge.png" is 30 MB; reference images may be at most 20 MB'],
    ["twenty images", (fake: FakeSlack) => Array.from({ length: 20 }, (_, i) => fake.shareFile(`r${i}.png`, TINY_PNG)), "20 images were sent; the limit is 4"],
  ])("%s gets its own answer and adds nothing", async (_what, make, message) => {
    const { fake, jobs, sender, command } = await startHarness();
    await command(`${EASY_PROMPT} --iterations 1`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    await share(fake, sender, card.ts, make(fake), "like this");
    const answer = await fake.waitFor("the ephemeral answer", () => fake.callsOf("chat.postEphemeral").at(-1));
    expect(String(answer.args.text)).toContain(message);
    const status = jobs.status(onlyJobId(jobs));
    expect(status.ok && status.job.trajectory.feedback).toEqual([]);
    expect(status.ok && status.job.pendingFeedback).toBe(0);
  });

  it("an unreachable file URL gets its own answer and adds nothing", async () => {
    const { fake, jobs, sender, command } = await startHarness();
    await command(`${EASY_PROMPT} --iterations 1`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const gone = await startLoopbackServer(() => ({}));
    const url = `${gone.origin}/files-pri/T-F1/gone.png`;
    await gone.close();
    await share(fake, sender, card.ts, [{ id: "F1", name: "gone.png", mimetype: "image/png", size: 100, url_private: url }]);
    const answer = await fake.waitFor("the ephemeral answer", () => fake.callsOf("chat.postEphemeral").at(-1));
    expect(String(answer.args.text)).toContain('Could not reach Slack to read "gone.png"');
    const status = jobs.status(onlyJobId(jobs));
    expect(status.ok && status.job.trajectory.feedback).toEqual([]);
  });
});

describe("/gems --refine edit", () => {
  it("runs the job with edit-to-fix and the thread marks the iterations that were edits", async () => {
    const { fake, jobs, command } = await startHarness();
    await command(`${HARD_PROMPT} --iterations 3 --refine edit`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const status = jobs.status(onlyJobId(jobs));
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.modes.refine).toBe("edit");
    const edited = status.job.trajectory.iterations.filter((it) => it.edit);
    expect(edited.length).toBeGreaterThan(0);
    const texts = imageReplies(fake, card).map(textOf);
    expect(texts.some((text) => text.includes(`✏️ edit of iteration ${edited[0]!.edit!.fromN}`) && text.includes("*Edit instruction:*"))).toBe(true);
  });
});

describe("the /gems form's reference images", () => {
  async function openForm() {
    const harness = await startHarness();
    await harness.command("");
    const opened = await harness.fake.waitFor("views.open", () => harness.fake.callsOf("views.open")[0]);
    return { harness, view: opened.args.view as any };
  }

  it("files picked in the form are read with the bot token and start the job with them as references", async () => {
    const { harness, view } = await openForm();
    const reference = await createSimGenerator({ width: 128, height: 128 }).generate({ prompt: "a purple heart left of an orange car", seed: 1 });
    const file = harness.fake.shareFile("layout.png", reference);
    const delivery = await harness.sender.interaction(modalSubmission(harness.fake, view, alice, { prompt: "a red cube", iterations: "1", refine: "edit", images: [file] }));
    expect(delivery.status).toBe(200);
    const card = await waitForCard(harness.fake);
    await waitForFinal(harness.fake, card);
    const status = harness.jobs.status(onlyJobId(harness.jobs));
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.request.referenceImages).toHaveLength(1);
    expect(status.job.trajectory.modes.refine).toBe("edit");
    expect(harness.fake.fileReads).toEqual([{ path: expect.stringContaining("/layout.png"), isAuthorized: true }]);
    // The thread says what came with the job.
    expect(harness.fake.threadReplies(CHANNEL, card.ts).some((m) => m.text.includes("🖼️ 1 reference image, sent to the generator."))).toBe(true);
  });

  it("a 30 MB file is refused under the field before the form closes, and nothing starts", async () => {
    const { harness, view } = await openForm();
    const file = { id: "F9", name: "huge.png", mimetype: "image/png", size: 30 * 1024 * 1024, url_private: `${harness.fake.origin}/files-pri/T-F9/huge.png` };
    const delivery = await harness.sender.interaction(modalSubmission(harness.fake, view, alice, { prompt: "a red cube", images: [file] }));
    expect(delivery.status).toBe(200);
    expect(JSON.parse(delivery.text).errors.images).toContain('"huge.png" is 30 MB');
    expect(harness.jobs.list()).toEqual([]);
    expect(harness.fake.fileReads).toEqual([]);
  });
});
