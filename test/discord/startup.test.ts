import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiscordBot } from "../../bots/discord/index.ts";
import { createLogger } from "../../core/logger.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { startFakeDiscord, type FakeDiscord } from "../fakes/discord/fake-discord.ts";
import { createSimJobService } from "../support/sim-job-service.ts";
import { EASY_PROMPT, TEST_LIMITS, createJob, skills, startWorld, waitForFinal } from "./harness.ts";

let fake: FakeDiscord;
beforeAll(async () => {
  fake = await startFakeDiscord();
});
afterAll(async () => {
  await fake?.close();
});

describe("start-up and the gateway", () => {
  it("keeps one gateway session alive with heartbeats", async () => {
    // Short enough to see several beats, long enough that a busy test machine does not make
    // discord.js give up on an ACK it has not read yet.
    const beating = await startFakeDiscord({ heartbeatIntervalMs: 250 });
    const world = await startWorld({ fake: beating });
    try {
      await beating.waitFor(() => beating.gateway.heartbeats >= 3, "three heartbeats");

      expect(beating.gateway.identifies).toHaveLength(1);
      expect(beating.gateway.sessions.filter((s) => s.isReady)).toHaveLength(1);
    } finally {
      await world.close();
      await beating.close();
    }
  });

  it("a wrong token stops start-up with a message that names the setting and not the token", async () => {
    const logs: string[] = [];
    const logger = createLogger("debug", { write: (line: string) => void logs.push(line) });
    const images = createInMemoryImageStore();
    const jobs = createSimJobService({ skills: await skills(), images, limits: TEST_LIMITS, logger });
    const bot = createDiscordBot({ jobs, images, skills: await skills(), logger, config: { token: "wrong-token-123", applicationId: fake.applicationId, apiUrl: fake.apiUrl } });

    const failure = await bot.start().then(
      () => null,
      (error: unknown) => error as Error,
    );

    expect(failure?.message).toMatch(/^Could not register the \/gems command with Discord: .*401.*Check DISCORD_TOKEN and DISCORD_APPLICATION_ID\.$/);
    expect(failure?.message).not.toContain("wrong-token-123");
    expect(logs.join("")).not.toContain("wrong-token-123");
    // Without a guild id the command is registered globally.
    expect(fake.calls.some((c) => c.method === "PUT" && c.path === `/applications/${fake.applicationId}/commands` && c.status === 401)).toBe(true);
    await bot.stop();
    await jobs.close();
  });

  it("/gems create inside a job's thread starts the new job's thread in the channel", async () => {
    const world = await startWorld({ fake });
    try {
      const alice = fake.user("alice", "Alice");
      const first = await createJob(world, alice, { prompt: EASY_PROMPT });
      await waitForFinal(fake, first.threadId);

      const interaction = fake.command(alice, "create", { prompt: "a blue sphere" }, first.threadId);
      const answer = await fake.answer(interaction);

      const threadId = /<#(\d+)>/.exec(answer.content)?.[1] ?? "";
      expect(fake.state.channels.get(threadId)).toMatchObject({ kind: "thread", parentId: fake.channel.id, name: "a blue sphere" });
    } finally {
      await world.close();
    }
  });
});
