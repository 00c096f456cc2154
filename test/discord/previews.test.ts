import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { isPng } from "../../core/images/png.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { partialDrawings } from "../../servers/sim/partial-drawings.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { startFakeDiscord, type FakeDiscord } from "../fakes/discord/fake-discord.ts";
import { stallingGenerator } from "../support/stalling-generator.ts";
import { EASY_PROMPT, HARD_PROMPT, createJob, iterationMessages, iterationNumberOf, startWorld, waitForFinal } from "./harness.ts";

let fake: FakeDiscord;
let dir: string;
beforeAll(async () => {
  fake = await startFakeDiscord();
  dir = await mkdtemp(join(tmpdir(), "gems-discord-previews-"));
});
afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const callsTo = (threadId: string, messageId: string) => fake.calls.filter((c) => c.path === `/channels/${threadId}/messages/${messageId}`);

describe("live previews on Discord", () => {
  it("posts each iteration's message at its first preview, edits in newer ones with the percent, and ends with the final image in the same message", async () => {
    // 600 ms per image with three partial drawings; previews every 1 ms lets each one through.
    const world = await startWorld({ fake, generator: createSimGenerator({ latencyMs: 600, width: 128, height: 128 }), limits: { previewIntervalMs: 1 } });
    try {
      const alice = fake.user("alice", "Alice");
      const { threadId, jobId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 2 });
      await waitForFinal(fake, threadId);

      const messages = iterationMessages(fake, threadId);
      // Previews add edits, not messages: one message per iteration.
      expect(messages.map(iterationNumberOf)).toEqual([1, 2]);
      let postedAsPreview = 0;
      for (const message of messages) {
        const n = iterationNumberOf(message);
        // …and now carries the final image only, with its checklist.
        expect(message.files.map((f) => f.filename)).toEqual([`iteration-${n}.png`]);
        expect(isPng(message.files[0]!.bytes)).toBe(true);
        expect(message.content).not.toContain("drawing…");
        expect(message.content).toMatch(/checks passed/);
        // The message was posted as a preview, with the partial drawing attached, unless the bot
        // reached the iteration only after its image was done (a busy machine): then every
        // preview was stale and the message starts with the final image.
        const posted = fake.calls.find((c) => c.method === "POST" && c.path === `/channels/${threadId}/messages` && String(c.body?.content).startsWith(`**Iteration ${n} of 2** · 🎨 drawing…`));
        if (!posted) continue;
        postedAsPreview++;
        expect(posted.files.map((f) => f.filename)).toEqual([`iteration-${n}-preview.png`]);
        // …edited with newer previews and percentages (one the log already superseded when the
        // bot got to it, on a busy machine, is skipped: never an older one after a newer one)…
        const edits = callsTo(threadId, message.id).filter((c) => c.method === "PATCH");
        const previewEdits = edits.filter((c) => String(c.body?.content).includes("🎨 drawing…"));
        const percents = [posted, ...previewEdits].map((c) => Number(/drawing… (\d+)%/.exec(String(c.body.content))?.[1]));
        expect(percents.length).toBeGreaterThanOrEqual(1);
        expect(percents.every((p, i) => [25, 50, 75].includes(p) && (i === 0 || p > percents[i - 1]!))).toBe(true);
        expect(previewEdits.every((c) => c.files.length === 1 && c.body.attachments?.length === 1)).toBe(true);
      }
      expect(postedAsPreview).toBeGreaterThanOrEqual(1);
      // The sim's three partials per image, unless a busy machine merged two while one was stored.
      const stored = world.jobs.events(jobId);
      const logged = stored.ok ? stored.events.filter((e) => e.type === "image.preview") : [];
      expect(logged.length).toBeGreaterThanOrEqual(4);
      expect(logged.length).toBeLessThanOrEqual(6);
    } finally {
      await world.close();
    }
  });

  it("makes one preview call per preview event at most, so the core's interval bounds Discord's edits", async () => {
    // Reports every 5 ms for 400 ms; previews at most every 100 ms.
    const sim = createSimGenerator({ width: 64, height: 64 });
    const chatty: ImageGenerator = {
      name: "chatty",
      async generate(request) {
        const { onProgress, ...plain } = request;
        const png = await sim.generate(plain);
        const [partial] = partialDrawings(png, 1);
        for (let i = 1; i <= 80; i++) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          onProgress?.({ percent: i, preview: i % 10 === 0 ? partial!.png : null });
        }
        return png;
      },
    };
    const world = await startWorld({ fake, generator: chatty, limits: { previewIntervalMs: 100 } });
    try {
      const alice = fake.user("alice", "Alice");
      const started = Date.now();
      const { threadId, jobId } = await createJob(world, alice, { prompt: EASY_PROMPT, iterations: 1 });
      await waitForFinal(fake, threadId);
      const elapsed = Date.now() - started;
      const [message] = iterationMessages(fake, threadId);
      const previewCalls = fake.calls.filter(
        (c) => (c.path === `/channels/${threadId}/messages` || c.path === `/channels/${threadId}/messages/${message!.id}`) && String(c.body?.content).includes("🎨 drawing…"),
      );
      const stored = world.jobs.events(jobId);
      const previews = stored.ok ? stored.events.filter((e) => e.type === "image.preview") : [];
      expect(previews.length).toBeGreaterThanOrEqual(2);
      expect(previews.length).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 100));
      expect(previewCalls.length).toBeLessThanOrEqual(previews.length);
      // The picture is uploaded only when it changes; a new percentage alone is a plain edit.
      expect(previewCalls.filter((c) => c.files.length > 0).length).toBeLessThan(previewCalls.length);
      expect(message!.files.map((f) => f.filename)).toEqual(["iteration-1.png"]);
    } finally {
      await world.close();
    }
  });

  it("a restart while an image is drawn leaves no stale preview: the message is cleared, then gets the final image", async () => {
    const images = createInMemoryImageStore();
    const stalling = stallingGenerator();
    const first = await startWorld({ fake, store: await openSqliteJobStore(dir), images, generator: stalling, limits: { previewIntervalMs: 1 } });
    const alice = fake.user("alice", "Alice");
    const { jobId, threadId } = await createJob(first, alice, { prompt: EASY_PROMPT, iterations: 1 });
    await stalling.reported;
    const [preview] = await fake.waitFor(() => {
      const found = iterationMessages(fake, threadId);
      return found.length > 0 && found[0]!.files.length > 0 ? found : null;
    }, "the iteration's message with its preview");
    expect(preview!.content).toMatch(/drawing… 30%/);
    // As after kill -9, once the bot stored which message is the iteration's.
    await expect.poll(() => {
      const status = first.jobs.status(jobId);
      return status.ok ? (status.job.surfaceRef as { iterationMessages?: Record<string, string> }).iterationMessages?.["1"] : undefined;
    }).toBe(preview!.id);
    await first.jobs.close();
    await first.bot.stop();

    const second = await startWorld({ fake, store: await openSqliteJobStore(dir), images, limits: { previewIntervalMs: 1 } });
    try {
      await waitForFinal(fake, threadId);
      const messages = iterationMessages(fake, threadId);
      expect(messages.map((m) => m.id)).toEqual([preview!.id]);
      const edits = callsTo(threadId, preview!.id).filter((c) => c.method === "PATCH");
      // The restarted bot never showed the old run's preview again.
      expect(edits.filter((c) => String(c.body?.content).includes("drawing… 30%"))).toHaveLength(0);
      // The stale preview was taken down at the restart, before the image was drawn again.
      const cleared = edits.find((c) => String(c.body?.content).includes("drawing again after a restart"));
      expect(cleared?.body.attachments).toEqual([]);
      expect(messages[0]!.files.map((f) => f.filename)).toEqual(["iteration-1.png"]);
      expect(messages[0]!.content).not.toContain("drawing");
      const status = second.jobs.status(jobId);
      expect(status.ok && status.job.status).toBe("done");
    } finally {
      await second.close();
    }
  });

  it("stopping a job while its image is drawn removes the preview from the iteration's message", async () => {
    const stalling = stallingGenerator();
    const world = await startWorld({ fake, generator: stalling, limits: { previewIntervalMs: 1 } });
    try {
      const alice = fake.user("alice", "Alice");
      const { jobId, threadId } = await createJob(world, alice, { prompt: EASY_PROMPT, iterations: 1 });
      await stalling.reported;
      const [message] = await fake.waitFor(() => {
        const found = iterationMessages(fake, threadId);
        return found.length > 0 && found[0]!.files.length > 0 ? found : null;
      }, "the preview");
      const stopped = await world.jobs.cancel(jobId, { id: `discord:${alice.id}`, name: "Alice" });
      expect(stopped.ok).toBe(true);
      await waitForFinal(fake, threadId);
      expect(message!.files).toEqual([]);
      expect(message!.content).toMatch(/stopped before this image was finished/);
    } finally {
      await world.close();
    }
  });
});
