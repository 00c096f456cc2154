import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageFlags, type APIUser } from "discord.js";
import { createModerationStep } from "../../core/moderation/moderator.ts";
import { createWordListModerator } from "../../core/moderation/word-list.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { EASY_PROMPT, createJob, startWorld, waitForFinal, type World } from "./harness.ts";

const BLOCKED = "zorblax";
let world: World;
let alice: APIUser;
let generatorCalls = 0;

beforeAll(async () => {
  const inner = createSimGenerator({ latencyMs: 2, partialImages: 0 });
  const counting: ImageGenerator = { ...inner, name: inner.name, generate: (request) => ((generatorCalls += 1), inner.generate(request)) };
  world = await startWorld({ generator: counting, moderation: createModerationStep([createWordListModerator([BLOCKED])], "closed", silentLogger) });
  alice = world.fake.user("alice", "Alice");
});
afterAll(() => world?.close());

const everyMessage = () => [...world.fake.state.messages.values()];
/** What others can see: anything not marked ephemeral. */
const publicMessages = () => everyMessage().filter((m) => (m.flags & MessageFlags.Ephemeral) === 0);

describe("moderation on Discord", () => {
  it("a blocked prompt is answered only to the requester, never reaches the generator and posts nothing", async () => {
    const before = publicMessages().length;
    const answer = await world.fake.answer(world.fake.command(alice, "create", { prompt: `a ${BLOCKED.toUpperCase()} in a field` }));
    expect(answer.isEphemeral).toBe(true);
    expect(answer.content).toContain("did not pass the content filter");
    expect(publicMessages()).toHaveLength(before);
    expect(world.jobs.list()).toHaveLength(0);
    expect(generatorCalls).toBe(0);
    const warn = world.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "moderation refused a prompt");
    expect(warn).toMatchObject({ level: 40, user: `discord:${alice.id}`, moderator: "word-list" });
    expect(JSON.stringify(warn)).not.toContain(BLOCKED);
  });

  it("a blocked feedback is answered by direct message, never in the thread, and never reaches memory or the generator", async () => {
    const { jobId, threadId } = await createJob(world, alice, { prompt: EASY_PROMPT, iterations: 1 });
    await waitForFinal(world.fake, threadId);
    const calls = generatorCalls;
    const inThread = world.fake.messagesIn(threadId).length;

    const reply = world.fake.say(alice, threadId, `now add a ${BLOCKED}`);
    const dm = await world.fake.waitFor(
      () => everyMessage().find((m) => world.fake.state.channels.get(m.channelId)?.kind === "dm" && m.author.id === world.fake.bot.id),
      "the direct message",
    );
    expect(world.fake.state.channels.get(dm.channelId)?.name).toBe(alice.id);
    expect(dm.content).toContain("Your feedback was not taken");
    expect(dm.content).not.toContain(BLOCKED);
    // Only the person's own message is new in the thread: no answer, no reaction.
    expect(world.fake.messagesIn(threadId)).toHaveLength(inThread + 1);
    expect(reply.reactions).toEqual([]);
    const status = world.jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.pendingFeedback).toBe(0);
    expect(status.job.trajectory.feedback).toEqual([]);
    expect(generatorCalls).toBe(calls);
    expect(world.logs.some((l) => l.includes("moderation refused a feedback"))).toBe(true);
  });
});
