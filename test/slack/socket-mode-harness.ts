/**
 * The Slack bot in Socket Mode for tests: the fake Slack's Web API plus its Socket Mode
 * WebSocket, and a real job service on the sim models. Unlike startHarness there is no HTTP
 * receiver and no signing secret: everything reaches the bot as envelopes over the socket.
 * Everything started here is closed after the test.
 */
import { createSlackBot, type SlackBot } from "../../bots/slack/index.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { silentLogger } from "../../core/logger.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { startFakeSlack, type FakeSlack } from "../fakes/slack/fake-slack.ts";
import { startFakeSocketMode, type FakeSocketMode } from "../fakes/slack/socket-mode.ts";
import { createSimJobService } from "../support/sim-job-service.ts";
import { TEST_LIMITS, bundledSkills, onCleanup } from "./harness.ts";

export interface SocketModeSlackBot {
  fake: FakeSlack;
  socket: FakeSocketMode;
  jobs: JobService;
  bot: SlackBot;
}

/** Resolves once the bot holds its Socket Mode connection, so envelopes sent now reach it. */
export async function startSocketModeSlackBot(): Promise<SocketModeSlackBot> {
  const fake = await startFakeSlack();
  onCleanup(() => fake.close());
  const socket = await startFakeSocketMode(fake);
  onCleanup(() => socket.close());
  const images = createInMemoryImageStore();
  const skills = await bundledSkills();
  const jobs = createSimJobService({ skills, images, limits: TEST_LIMITS, latencyMs: 1 });
  const bot = createSlackBot({ jobs, images, skills, config: { botToken: fake.botToken, appToken: fake.appToken, apiUrl: fake.apiUrl, port: 0 }, logger: silentLogger });
  onCleanup(async () => {
    await bot.stop();
    await jobs.close();
  });
  await jobs.start();
  await bot.start();
  await socket.connected();
  return { fake, socket, jobs, bot };
}
