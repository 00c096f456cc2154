import { describe, expect, it } from "vitest";
import { createInMemoryJobStore, type JobStore } from "../../core/jobs/job-store.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { CHANNEL, EASY_PROMPT, HARD_PROMPT, alice, bob, holdAfter, imageReplies, onlyJobId, startHarness, textOf, waitForCard, waitForFinal } from "./harness.ts";

describe("/gems <prompt>", () => {
  it("posts a status card, one thread reply per iteration with its image uploaded in three steps, and a final reply with buttons", async () => {
    const { fake, jobs, command } = await startHarness();

    const delivery = await command(`${HARD_PROMPT} --iterations 3 --skill spatial-layout`);

    expect(delivery.status).toBe(200);
    expect(delivery.elapsedMs).toBeLessThan(3000);
    const card = await waitForCard(fake);
    expect(textOf(card)).toContain("three green cones");
    expect(textOf(card)).toContain(`<@${alice.id}>`);
    expect(textOf(card)).toContain("spatial-layout");
    const final = await waitForFinal(fake, card);
    const jobId = onlyJobId(jobs);
    const status = jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    const iterations = status.job.trajectory.iterations;
    expect(iterations.length).toBeGreaterThan(1);

    const uploads = imageReplies(fake, card);
    expect(uploads.map((m) => m.text.match(/^\*Iteration (\d+)/)?.[1])).toEqual(iterations.map((it) => String(it.n)));
    for (const [i, reply] of uploads.entries()) {
      const fileId = reply.files[0]!.id;
      const getUrl = fake.callsOf("files.getUploadURLExternal").find((c) => c.response.file_id === fileId);
      const upload = fake.callsOf("upload").find((c) => c.args.file_id === fileId);
      const complete = fake.callsOf("files.completeUploadExternal").find((c) => c.args.files.some((f: any) => f.id === fileId));
      expect(getUrl?.args.filename).toMatch(/\.png$/);
      expect(upload?.status).toBe(200);
      expect(complete?.args).toMatchObject({ channel_id: CHANNEL, thread_ts: card.ts });
      const stored = fake.files.get(fileId)!;
      expect(stored.bytes!.subarray(1, 4).toString()).toBe("PNG");
      // Each iteration's checklist: one ✅/❌ line per verdict, and the prompt used.
      const verdicts = iterations[i]!.verdicts;
      expect(reply.text.match(/^(✅|❌) /gm)?.length).toBe(verdicts.length);
      expect(reply.text).toContain("*Prompt:*");
    }

    expect(textOf(final)).toMatch(/Reached the limit of 3 iterations|Every check passed/);
    const buttons = final.blocks.find((b: any) => b.type === "actions").elements.map((e: any) => e.text.text);
    expect(buttons).toEqual(["Refine more", "Use this"]);
    const image = final.blocks.find((b: any) => b.type === "image");
    const best = status.job.best!;
    expect(image.slack_file.id).toBe(uploads[best.n - 1]!.files[0]!.id);

    await fake.waitFor("the card to show the job done", () => fake.message(CHANNEL, card.ts)!.text.includes("✅"));
    const updated = fake.message(CHANNEL, card.ts)!;
    expect(updated.edits).toBeGreaterThan(0);
    expect(updated.blocks.some((b: any) => b.type === "actions")).toBe(false);
  });

  it("shows the plan and the checklist in the thread before the first image", async () => {
    const { fake, command } = await startHarness();

    await command(`${EASY_PROMPT} --iterations 1`);

    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const replies = fake.threadReplies(CHANNEL, card.ts);
    expect(replies[0]!.text).toContain("*Checklist*");
    expect(replies[0]!.text).toContain("red");
    expect(replies[1]!.files).toHaveLength(1);
  });

  it("is acknowledged before the job is even stored", async () => {
    let releaseStore: () => void = () => undefined;
    const storeHeld = new Promise<void>((resolve) => (releaseStore = resolve));
    const inner = createInMemoryJobStore();
    // A store whose writes wait for the test: if the bot submitted before acking, the ack would wait too.
    const slowStore: JobStore = { ...inner, put: async (record) => (await storeHeld, inner.put(record)) };
    const { fake, command } = await startHarness({ store: slowStore });

    const delivery = await command(EASY_PROMPT);

    expect(delivery.status).toBe(200);
    expect(delivery.text).toBe("");
    expect(fake.callsOf("chat.postMessage")).toHaveLength(0);
    releaseStore();
    await waitForCard(fake);
  });

  it("shows a job waiting behind another its place in line on its card", async () => {
    const gate = holdAfter(createSimGenerator({ latencyMs: 1 }), 0);
    const { fake, command } = await startHarness({ generator: gate.generator, limits: { maxRunningJobs: 1 } });
    await command(EASY_PROMPT);
    await gate.isHolding();

    await command("a blue sphere", bob);

    const second = await waitForCard(fake, 1);
    expect(textOf(second)).toContain("⏳ Queued, #1 in line");
    expect(textOf(second)).toContain(`<@${bob.id}>`);
    gate.release();
    await fake.waitFor("the second card to show it running or done", () => !textOf(fake.message(CHANNEL, second.ts)!).includes("in line"));
  });
});
