import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { PreviewPacing } from "../../bots/slack/preview-pacing.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { startFakeSlack } from "../fakes/slack/fake-slack.ts";
import { stallingGenerator } from "../support/stalling-generator.ts";
import { CHANNEL, HARD_PROMPT, imageReplies, onCleanup, onlyJobId, startHarness, textOf, waitForCard, waitForFinal } from "./harness.ts";

const DRAWING = /🎨 drawing… (\d+)%/;
const unlimited = () => new PreviewPacing({ perJobMs: 0, perMinute: 10_000 });

describe("live previews on Slack", () => {
  it("show the percent on the status card while an image is drawn, and the image arrives as before", async () => {
    const h = await startHarness({
      generator: createSimGenerator({ latencyMs: 600, width: 96, height: 96 }),
      limits: { previewIntervalMs: 1 },
      previewPacing: unlimited(),
    });
    await h.command(`${HARD_PROMPT} --iterations 2`);
    const card = await waitForCard(h.fake);
    await waitForFinal(h.fake, card);

    const cardUpdates = h.fake.callsOf("chat.update").filter((c) => c.args["ts"] === card.ts);
    const shown = cardUpdates.flatMap((c) => {
      const match = /Iteration (\d) of 2 · 🎨 drawing… (\d+)%/.exec(String(c.args["text"]));
      return match ? [{ n: Number(match[1]), percent: Number(match[2]) }] : [];
    });
    // Every iteration showed its previews, newer after older (one the log had already
    // superseded when the bot got to it, on a busy machine, is skipped).
    for (const n of [1, 2]) {
      const percents = shown.filter((s) => s.n === n).map((s) => s.percent);
      expect(percents.length).toBeGreaterThanOrEqual(1);
      expect(percents.every((p, i) => [25, 50, 75].includes(p) && (i === 0 || p > percents[i - 1]!))).toBe(true);
    }
    // The card stops saying "drawing" once the image is in, and at the end.
    const afterLastPreview = cardUpdates.slice(cardUpdates.findLastIndex((c) => DRAWING.test(String(c.args["text"]))) + 1);
    expect(afterLastPreview.length).toBeGreaterThan(0);
    expect(textOf(h.fake.message(CHANNEL, card.ts)!)).not.toMatch(DRAWING);
    // Previews cost card edits only: still one image reply per iteration, no extra messages.
    expect(imageReplies(h.fake, card)).toHaveLength(2);
    expect(h.fake.callsOf("files.getUploadURLExternal")).toHaveLength(2);
  });

  it("keep within the bot's preview budget: one card edit per job per interval, whatever the core sends", async () => {
    const h = await startHarness({
      generator: createSimGenerator({ latencyMs: 300, width: 96, height: 96 }),
      limits: { previewIntervalMs: 1 },
      // Once per job per minute: only the job's first preview gets through.
      previewPacing: new PreviewPacing({ perJobMs: 60_000, perMinute: 100 }),
    });
    await h.command(`${HARD_PROMPT} --iterations 2`);
    const card = await waitForCard(h.fake);
    await waitForFinal(h.fake, card);
    const stored = h.jobs.events(onlyJobId(h.jobs));
    expect(stored.ok && stored.events.filter((e) => e.type === "image.preview").length).toBeGreaterThanOrEqual(4);
    // One card edit with a percent for the whole job, whatever the core sent.
    const shown = h.fake.callsOf("chat.update").filter((c) => DRAWING.test(String(c.args["text"])));
    expect(shown).toHaveLength(1);
  });

  it("leave no stale percent on the card after a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gems-slack-previews-"));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const fake = await startFakeSlack();
    onCleanup(() => fake.close());
    const images = createInMemoryImageStore();
    const stalling = stallingGenerator();
    const before = await startHarness({ fake, images, store: await openSqliteJobStore(dir), generator: stalling, limits: { previewIntervalMs: 1 }, previewPacing: unlimited(), isManual: true });
    await before.command("a red cube --iterations 1");
    const card = await waitForCard(fake);
    await stalling.reported;
    await fake.waitFor("the card to show the preview's percent", () => /drawing… 30%/.test(fake.message(CHANNEL, card.ts)!.text));
    await before.jobs.close();
    await before.bot.stop();

    await startHarness({ fake, images, store: await openSqliteJobStore(dir), previewPacing: unlimited() });
    await waitForFinal(fake, card);
    await fake.waitFor("the card to show the job done", () => fake.message(CHANNEL, card.ts)!.text.includes("✅"));
    expect(textOf(fake.message(CHANNEL, card.ts)!)).not.toMatch(DRAWING);
    // The restarted bot never showed the old run's preview again.
    expect(fake.callsOf("chat.update").filter((c) => /30%/.test(String(c.args["text"])))).toHaveLength(1);
  });
});

describe("preview pacing", () => {
  it("lets a job show one preview per interval and all jobs together a budget per minute", () => {
    let now = 0;
    const pacing = new PreviewPacing({ perJobMs: 5_000, perMinute: 3, now: () => now });
    expect(pacing.take("a")).toBe(true);
    expect(pacing.take("a")).toBe(false);
    now = 4_999;
    expect(pacing.take("a")).toBe(false);
    expect(pacing.take("b")).toBe(true);
    now = 5_000;
    expect(pacing.take("a")).toBe(true);
    // Three in the last minute: the budget is spent for everyone.
    expect(pacing.take("c")).toBe(false);
    now = 60_001;
    expect(pacing.take("c")).toBe(true);
  });
});
