import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteJobStore, type JobStore } from "../../core/jobs/job-store.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { startFakeDiscord, type FakeDiscord } from "../fakes/discord/fake-discord.ts";
import {
  HARD_PROMPT,
  createJob,
  gatedGenerator,
  isStatusMessage,
  iterationMessages,
  iterationNumberOf,
  startWorld,
  waitForFinal,
} from "./harness.ts";

let fake: FakeDiscord;
let dir: string;
beforeAll(async () => {
  fake = await startFakeDiscord();
  dir = await mkdtemp(join(tmpdir(), "gems-discord-"));
});
afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * The worst case at-least-once delivery allows: the delivery cursors were lost with the crash,
 * so every event of the job comes again.
 */
function forgettingCursors(store: JobStore): JobStore {
  return {
    ...store,
    async load() {
      const loaded = await store.load();
      for (const record of loaded.records) record.cursors = {};
      return loaded;
    },
  };
}

describe("restart", () => {
  it("a job running when the bot stopped resumes in the same thread with a resumed line and no repeated messages", async () => {
    const images = createInMemoryImageStore();
    const gate = gatedGenerator(createSimGenerator({ latencyMs: 2 }));
    const first = await startWorld({ fake, store: await openSqliteJobStore(dir), images, generator: gate.generator });
    const alice = fake.user("alice", "Alice");
    const { jobId, threadId } = await createJob(first, alice, { prompt: HARD_PROMPT, iterations: 3 });
    await gate.arrived(1);
    gate.releaseWaiting();
    await gate.arrived(2);
    await fake.waitFor(() => iterationMessages(fake, threadId)[0]?.embeds[1], "iteration 1 with its next prompt");
    const postsBefore = fake.calls.filter((c) => c.method === "POST").length;

    // As after kill -9: the job service writes nothing more, the gateway connection drops.
    await first.jobs.close();
    await first.bot.stop();
    const second = await startWorld({ fake, store: forgettingCursors(await openSqliteJobStore(dir)), images });
    try {
      await waitForFinal(fake, threadId);

      const messages = fake.messagesIn(threadId);
      expect(iterationMessages(fake, threadId).map(iterationNumberOf)).toEqual([1, 2, 3]);
      expect(messages.filter((m) => m.content.startsWith("🔁 GEMS Bot restarted; this job resumed at iteration 2 of 3."))).toHaveLength(1);
      expect(messages.filter((m) => m.content.startsWith("🧭 **Plan:**"))).toHaveLength(1);
      expect(messages.filter(isStatusMessage)).toHaveLength(1);
      expect(fake.messagesIn(fake.channel.id).filter((m) => m.content.includes(`<@${alice.id}> asked GEMS`))).toHaveLength(1);
      expect([...fake.state.channels.values()].filter((c) => c.kind === "thread")).toHaveLength(1);
      // The second process posted only what was new: resumed line, iterations 2 and 3, result.
      expect(fake.calls.filter((c) => c.method === "POST").length - postsBefore).toBe(4);
      const status = second.jobs.status(jobId);
      expect(status.ok && status.job.status).toBe("done");
    } finally {
      await second.close();
    }
  });
});
