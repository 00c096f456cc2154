import { GatewayIntentBits, InteractionResponseType, MessageFlags } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPng } from "../../core/images/png.ts";
import {
  EASY_PROMPT,
  HARD_PROMPT,
  createJob,
  finalMessages,
  hasAction,
  iterationMessages,
  iterationNumberOf,
  isStatusMessage,
  startWorld,
  statusMessage,
  waitForFinal,
  type World,
} from "./harness.ts";

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

describe("starting", () => {
  it("registers /gems with its subcommands in the configured guild", () => {
    const put = world.fake.calls.find((c) => c.method === "PUT" && c.route === "/applications/:app/guilds/:guild/commands");
    expect(put?.path).toBe(`/applications/${world.fake.applicationId}/guilds/${world.fake.guildId}/commands`);
    expect(put?.body).toEqual([expect.objectContaining({ name: "gems" })]);
    expect(put?.body[0].options.map((o: { name: string }) => o.name)).toEqual(["create", "skills", "skill", "status", "stop", "feedback", "usage"]);
  });

  it("finds the gateway through GET /gateway/bot on DISCORD_API_URL and asks for the message-content intent", () => {
    expect(world.fake.calls.some((c) => c.method === "GET" && c.path === "/gateway/bot")).toBe(true);
    const [identify] = world.fake.gateway.identifies;
    const intents = Number(identify?.intents);
    expect(intents & GatewayIntentBits.MessageContent).toBe(GatewayIntentBits.MessageContent);
    expect(intents & GatewayIntentBits.GuildMessages).toBe(GatewayIntentBits.GuildMessages);
    expect(intents & GatewayIntentBits.Guilds).toBe(GatewayIntentBits.Guilds);
  });
});

describe("/gems create", () => {
  it("answers privately within the deadline with the queue position and a link to the job's thread", async () => {
    const alice = world.fake.user("alice", "Alice");
    const interaction = world.fake.command(alice, "create", { prompt: EASY_PROMPT });

    const answer = await world.fake.answer(interaction);

    expect(interaction.callbacks[0]).toMatchObject({ type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } });
    expect((interaction.answeredAt ?? Infinity) - interaction.dispatchedAt).toBeLessThan(3000);
    expect(answer.isEphemeral).toBe(true);
    expect(answer.content).toMatch(/^🎨 Job `\w+` accepted\. (It starts now\.|It is number \d+ in line\.) Follow it in <#\d+>\.$/);
  });

  it("opens a thread named after the prompt on the bot's message in the channel", async () => {
    const alice = world.fake.user("alice", "Alice");
    const { threadId } = await createJob(world, alice, { prompt: `${EASY_PROMPT}\non a table` });

    const thread = world.fake.state.channels.get(threadId);
    expect(thread).toMatchObject({ kind: "thread", name: `${EASY_PROMPT} on a table`, parentId: world.fake.channel.id });
    const starter = world.fake.state.messages.get(thread?.starterMessageId ?? "");
    expect(starter?.channelId).toBe(world.fake.channel.id);
    expect(starter?.author.id).toBe(world.fake.bot.id);
    expect(starter?.content).toContain(`<@${alice.id}> asked GEMS for`);
  });

  it("posts one message per iteration with its PNG, the checklist and the prompt used, then the result with Refine more and Use this", async () => {
    const alice = world.fake.user("alice", "Alice");
    const { threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 3 });

    const final = await waitForFinal(world.fake, threadId);

    const iterations = iterationMessages(world.fake, threadId);
    expect(iterations.map(iterationNumberOf)).toEqual([1, 2, 3]);
    for (const message of iterations) {
      expect(message.files).toHaveLength(1);
      expect(message.files[0]?.filename).toBe(`iteration-${iterationNumberOf(message)}.png`);
      expect(isPng(message.files[0]?.bytes ?? new Uint8Array())).toBe(true);
      expect(message.content).toMatch(/checks passed( \([^)]*\))?\n(✅|❌) /);
      expect(message.content.split("\n").filter((line) => /^(✅|❌) /.test(line)).length).toBeGreaterThanOrEqual(5);
      expect(message.embeds[0]).toMatchObject({ title: "Prompt used" });
      expect(hasAction(message, "pick")).toBe(true);
    }
    // After refinement, the iteration's message also shows the prompt the next one will use.
    expect(iterations[0]?.embeds[1]).toMatchObject({ title: "Next prompt (iteration 2)" });
    expect(iterations[0]?.embeds[1].description).toBe(iterations[1]?.embeds[0].description);
    expect(iterations[2]?.embeds).toHaveLength(1);

    expect(final.content).toMatch(new RegExp(`^<@${alice.id}> 🏁 \\*\\*Done\\*\\* — 3 iterations; the best was iteration \\d \\(\\d/\\d+ checks\\)\\.`));
    expect(final.files).toHaveLength(1);
    expect(isPng(final.files[0]?.bytes ?? new Uint8Array())).toBe(true);
    expect(hasAction(final, "more")).toBe(true);
    expect(hasAction(final, "pick")).toBe(true);
    expect(finalMessages(world.fake, threadId)).toHaveLength(1);
  });

  it("keeps a status message in the thread that is edited as the job moves and loses Stop when it ends", async () => {
    const alice = world.fake.user("alice", "Alice");
    const { threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 2 });
    await waitForFinal(world.fake, threadId);

    const status = statusMessage(world.fake, threadId);
    const messages = world.fake.messagesIn(threadId);
    expect(messages.filter(isStatusMessage)).toHaveLength(1);
    expect(messages[0]).toBe(status);
    expect(status?.edits).toBeGreaterThanOrEqual(3);
    expect(status?.content).toMatch(/^\*\*Status:\*\* 🏁 Done after 2 iterations/);
    expect(status?.components).toEqual([]);
    const edits = world.fake.calls.filter((c) => c.method === "PATCH" && c.path === `/channels/${threadId}/messages/${status?.id}`);
    expect(edits.some((c) => String(c.body.content).includes("Generating iteration 2 of 2"))).toBe(true);
    expect(edits.some((c) => c.body.components?.length === 1)).toBe(true);
  });

  it("makes at most three REST calls per iteration when the generator sends no previews", async () => {
    const alice = world.fake.user("alice", "Alice");
    const before = world.fake.calls.length;
    const { threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 4 });
    await waitForFinal(world.fake, threadId);

    const calls = world.fake.calls.slice(before).filter((c) => c.path.startsWith(`/channels/${threadId}/`));
    // Per job, outside the iterations: the status message, the plan, the final status edit and
    // the result. Everything else is per iteration.
    const perJob = 4;
    expect((calls.length - perJob) / 4).toBeLessThanOrEqual(3);
  });
});
