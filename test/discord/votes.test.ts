import { GatewayIntentBits, type APIUser } from "discord.js";
import { describe, expect, it, vi } from "vitest";
import { EASY_PROMPT, HARD_PROMPT, createJob, iterationMessages, waitForFinal, type Gate, type World } from "./harness.ts";
import { shareGatedWorld } from "./shared-world.ts";

let world: World;
let gate: Gate;
let alice: APIUser;
let bob: APIUser;
let carol: APIUser;
shareGatedWorld({ limits: { resultBy: "votes" } }, (shared) => {
  ({ world, gate, alice, bob } = shared);
  carol = world.fake.user("carol", "Carol");
});

const votesOf = (jobId: string) => {
  const status = world.jobs.status(jobId);
  return status.ok ? status.job.votes : null;
};

describe("votes by reaction on Discord", () => {
  it("identifies with the reactions intent, so Discord sends MESSAGE_REACTION_ADD at all", () => {
    const intents = Number(world.fake.gateway.identifies.at(-1)?.["intents"]);
    expect(intents & GatewayIntentBits.GuildMessageReactions).toBe(GatewayIntentBits.GuildMessageReactions);
  });

  it("counts 👍/👎 (any skin tone) on an iteration's message per person, drops removed ones, ignores the bot and other emoji, and shows the votes in the final message", async () => {
    gate.close();
    const base = gate.calls;
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 3 });
    await gate.arrived(base + 1);
    gate.releaseWaiting();
    await gate.arrived(base + 2);
    const first = await world.fake.waitFor(() => iterationMessages(world.fake, threadId)[0], "iteration 1's message");
    expect(world.fake.messagesIn(threadId).some((m) => m.content.includes("React 👍 or 👎 on an iteration's message to vote"))).toBe(true);

    world.fake.react(world.fake.bot, first, "👍");
    world.fake.react(bob, first, "😀");
    world.fake.react(bob, first, "👍🏽");
    world.fake.react(carol, first, "👎");
    await vi.waitFor(() => expect(votesOf(jobId)).toEqual([{ n: 1, up: 1, down: 1 }]));

    world.fake.unreact(carol, first, "👎");
    await vi.waitFor(() => expect(votesOf(jobId)).toEqual([{ n: 1, up: 1, down: 0 }]));
    world.fake.react(carol, first, "👍");
    await vi.waitFor(() => expect(votesOf(jobId)).toEqual([{ n: 1, up: 2, down: 0 }]));

    gate.open();
    const final = await waitForFinal(world.fake, threadId);
    expect(final.content).toContain("🗳️ Team votes: #1 👍 2 — the most voted image is the result");
    expect(final.attachments.map((a) => a.filename)).toEqual(["best-iteration-1.png"]);
    const status = world.jobs.status(jobId);
    expect(status.ok && status.job.best?.n).toBe(1);

    // A vote after the end: the counts change, the result chosen at the end stays.
    world.fake.react(alice, first, "👍");
    await world.fake.waitFor(
      () => final.content.includes("🗳️ Team votes: #1 👍 3 — the result is the image most voted when the job ended"),
      "the final message with the vote cast after the end",
    );
  });

  it("ignores reactions on messages that are not an iteration's", async () => {
    gate.open();
    const { jobId, threadId } = await createJob(world, alice, { prompt: "a red cube", iterations: 1 });
    const final = await waitForFinal(world.fake, threadId);
    world.fake.react(bob, final, "👍");
    const [iteration] = iterationMessages(world.fake, threadId);
    if (!iteration) throw new Error("no iteration message");
    world.fake.react(bob, iteration, "👎");
    await vi.waitFor(() => expect(votesOf(jobId)).toEqual([{ n: 1, up: 0, down: 1 }]));
  });

  it("after the job ended, reactions edit the final message with the counts now, once per burst, and post nothing new", async () => {
    gate.open();
    const { jobId, threadId } = await createJob(world, alice, { prompt: EASY_PROMPT, iterations: 1 });
    const final = await waitForFinal(world.fake, threadId);
    expect(final.content).not.toContain("Team votes");
    const [iteration] = iterationMessages(world.fake, threadId);
    if (!iteration) throw new Error("no iteration message");
    const posted = world.fake.messagesIn(threadId).length;

    world.fake.react(bob, iteration, "👍");
    world.fake.react(carol, iteration, "👍");
    world.fake.react(alice, iteration, "👎");
    await world.fake.waitFor(() => final.content.includes("🗳️ Team votes: #1 👍 2 👎 1\n"), "the final message with the burst's counts");
    expect(final.edits).toBe(1);
    expect(votesOf(jobId)).toEqual([{ n: 1, up: 2, down: 1 }]);

    world.fake.unreact(alice, iteration, "👎");
    await world.fake.waitFor(() => final.content.includes("🗳️ Team votes: #1 👍 2\n"), "the final message with the later counts");
    // Events reach Discord in order: another edit for the first burst would have come before this one.
    expect(final.edits).toBe(2);
    expect(final.attachments.map((a) => a.filename)).toEqual(["best-iteration-1.png"]);
    expect(final.content).not.toContain("the most voted image is the result");
    expect(world.fake.messagesIn(threadId)).toHaveLength(posted);
  });
});
