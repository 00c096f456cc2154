/**
 * The bot connects before the job service has started (so it gets the events it missed), which
 * leaves a window where a /gems create arrives and the service cannot take it yet. People retry
 * exactly then, right after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiscordBot } from "../../bots/discord/index.ts";
import { createStartupGate, STARTING_MESSAGE } from "../../bots/startup-gate.ts";
import { silentLogger } from "../../core/logger.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { startFakeDiscord, type FakeDiscord } from "../fakes/discord/fake-discord.ts";
import { createSimJobService } from "../support/sim-job-service.ts";
import { TEST_LIMITS, skills } from "./harness.ts";

let fake: FakeDiscord;
beforeAll(async () => {
  fake = await startFakeDiscord();
});
afterAll(async () => {
  await fake?.close();
});

async function botBeforeStart(waitMs: number) {
  const images = createInMemoryImageStore();
  const jobs = createSimJobService({ skills: await skills(), images, limits: TEST_LIMITS });
  let markHeld: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (markHeld = resolve));
  const gate = createStartupGate(jobs, { waitMs, onHold: () => markHeld() });
  const bot = createDiscordBot({
    jobs: gate.jobs,
    images,
    skills: await skills(),
    logger: silentLogger,
    config: { token: fake.token, applicationId: fake.applicationId, guildId: fake.guildId, apiUrl: fake.apiUrl },
  });
  await bot.start();
  return {
    jobs,
    gate,
    held,
    close: async () => {
      await bot.stop();
      await jobs.close();
    },
  };
}

describe("a /gems create during start-up", () => {
  it("waits for the job service and is accepted once it has started", async () => {
    const world = await botBeforeStart(10_000);
    try {
      const interaction = fake.command(fake.user("ada", "Ada"), "create", { prompt: "a red cube", iterations: 1 });
      // The bot has deferred its reply and handed the command to the service, which is not started.
      await world.held;
      expect(world.gate.held()).toBe(1);
      await world.jobs.start();
      world.gate.open();
      const answer = await fake.answer(interaction);
      expect(answer.content).toMatch(/^🎨 Job `\w+` accepted\./);
    } finally {
      await world.close();
    }
  });

  it("is answered 'starting, try again in a few seconds' when start-up takes too long, never with an internal error", async () => {
    const world = await botBeforeStart(50);
    try {
      const answer = await fake.answer(fake.command(fake.user("bo", "Bo"), "create", { prompt: "a red cube" }));
      expect(answer.content).toContain(STARTING_MESSAGE);
      expect(answer.content).not.toMatch(/start\(\)|internal|unexpected/i);
    } finally {
      await world.close();
    }
  });
});
