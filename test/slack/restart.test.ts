import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import { createDiskImageStore } from "../../core/memory/image-store.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { startFakeSlack } from "../fakes/slack/fake-slack.ts";
import { CHANNEL, HARD_PROMPT, holdAfter, imageReplies, onCleanup, startHarness, waitForCard, waitForFinal } from "./harness.ts";

describe("a restart", () => {
  it("posts a resumed line in the thread, and nothing the thread already has", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gems-slack-"));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const fake = await startFakeSlack();
    onCleanup(() => fake.close());
    const images = createDiskImageStore(join(dir, "images"));
    const gate = holdAfter(createSimGenerator({ latencyMs: 1 }), 1);
    const before = await startHarness({ fake, images, store: await openSqliteJobStore(dir), generator: gate.generator, isManual: true });
    await before.command(`${HARD_PROMPT} --iterations 3`);
    const card = await waitForCard(fake);
    await fake.waitFor("iteration 1's image", () => imageReplies(fake, card)[0]);
    await gate.isHolding();

    // Killed mid-iteration: nothing more is stored.
    await before.jobs.close();
    await before.bot.stop();
    // As if the process died before any delivery cursor reached the disk: every event comes again.
    const store = await openSqliteJobStore(dir);
    const [record] = (await store.load()).records;
    record!.cursors = {};
    await store.put(record!);
    await store.close();
    const postsBefore = fake.threadReplies(CHANNEL, card.ts).length;

    await startHarness({ fake, images, store: await openSqliteJobStore(dir) });

    await waitForFinal(fake, card);
    const replies = fake.threadReplies(CHANNEL, card.ts);
    expect(replies.filter((m) => m.text.startsWith("♻️"))).toHaveLength(1);
    expect(replies.indexOf(replies.find((m) => m.text.startsWith("♻️"))!)).toBe(postsBefore);
    expect(replies.filter((m) => m.text.startsWith("🧭"))).toHaveLength(1);
    expect(imageReplies(fake, card).map((m) => m.text.match(/^\*Iteration (\d+)/)?.[1])).toEqual(["1", "2", "3"]);
    expect(fake.messages.filter((m) => m.threadTs === null && m.user === fake.botUserId)).toHaveLength(1);
    await fake.waitFor("the card to show the job done", () => fake.message(CHANNEL, card.ts)!.text.includes("✅"));
  });
});
