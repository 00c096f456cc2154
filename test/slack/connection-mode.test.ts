import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { appOptionsFor, receiverModeOf } from "../../bots/slack/app-options.ts";
import { createBoltLogger } from "../../bots/slack/bolt-logger.ts";
import { createSlackBot } from "../../bots/slack/index.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { silentLogger } from "../../core/logger.ts";
import { startFakeSlack } from "../fakes/slack/fake-slack.ts";
import { createSimJobService } from "../support/sim-job-service.ts";
import { slashCommand } from "../fakes/slack/payloads.ts";
import { CHANNEL, EASY_PROMPT, TEST_LIMITS, alice, bundledSkills, onCleanup, textOf, waitForCard } from "./harness.ts";
import { startSocketModeSlackBot } from "./socket-mode-harness.ts";

const base = { botToken: "xoxb-1", port: 3000 };

describe("connecting to Slack", () => {
  it("uses Socket Mode when an app token is set, even with a signing secret", () => {
    const config = { ...base, appToken: "xapp-1", signingSecret: "s" };

    expect(receiverModeOf(config)).toBe("socket");
    expect(appOptionsFor(config, createBoltLogger(silentLogger))).toMatchObject({ socketMode: true, appToken: "xapp-1", token: "xoxb-1" });
  });

  it("uses HTTP with the signing secret on SLACK_PORT without an app token", () => {
    const config = { ...base, signingSecret: "s", port: 4321 };

    expect(receiverModeOf(config)).toBe("http");
    const options = appOptionsFor(config, createBoltLogger(silentLogger));
    expect(options).toMatchObject({ signingSecret: "s", port: 4321 });
    expect(options.socketMode).toBeUndefined();
  });

  it("points the Web API client at SLACK_API_URL", () => {
    const options = appOptionsFor({ ...base, signingSecret: "s", apiUrl: "http://127.0.0.1:9/api" }, createBoltLogger(silentLogger));

    expect(options.clientOptions?.slackApiUrl).toBe("http://127.0.0.1:9/api/");
  });

  it("refuses to start with neither a signing secret nor an app token, and says which to set", () => {
    expect(() => receiverModeOf(base)).toThrow("Slack needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode); neither is set.");
  });

  it("never writes a Slack token into the log", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logger = createBoltLogger(pino({ level: "debug" }, sink));

    logger.debug("http request body:", { token: "xoxb-123-secret" }, "xapp-1-A1-secret", new Error("bad xoxp-9-user"));

    expect(lines.join("")).not.toMatch(/xoxb-|xapp-|xoxp-/);
    expect(lines.join("")).toContain("[redacted]");
  });

  it("in Socket Mode takes a slash command over the WebSocket and acknowledges it", async () => {
    const { fake, socket, bot } = await startSocketModeSlackBot();

    const ack = await socket.send("slash_commands", slashCommand(fake, EASY_PROMPT, alice, CHANNEL));

    expect(bot.mode).toBe("socket");
    expect(bot.address()).toBeNull();
    expect(ack.envelope_id).toMatch(/\S/);
    expect(fake.callsOf("apps.connections.open")).toHaveLength(1);
    expect(textOf(await waitForCard(fake))).toContain("a red cube");
  });

  it("stops start-up with a message naming SLACK_BOT_TOKEN when Slack refuses the token", async () => {
    const fake = await startFakeSlack();
    onCleanup(() => fake.close());
    const jobs = createSimJobService({ skills: await bundledSkills(), limits: TEST_LIMITS });
    onCleanup(() => jobs.close());
    const bot = createSlackBot({
      jobs,
      images: createInMemoryImageStore(),
      skills: await bundledSkills(),
      config: { botToken: "xoxb-revoked", signingSecret: "s", apiUrl: fake.apiUrl, port: 0, host: "127.0.0.1" },
      logger: silentLogger,
    });

    await expect(bot.start()).rejects.toThrow("Slack refused SLACK_BOT_TOKEN (invalid_auth).");
    expect(bot.address()).toBeNull();
  });
});
