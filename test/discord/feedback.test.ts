import type { APIUser } from "discord.js";
import { describe, expect, it } from "vitest";
import {
  HARD_PROMPT,
  createJob,
  iterationMessages,
  waitForFinal,
  type Gate,
  type World,
} from "./harness.ts";
import { shareGatedWorld } from "./shared-world.ts";

let world: World;
let gate: Gate;
let alice: APIUser;
let bob: APIUser;
shareGatedWorld({}, (shared) => ({ world, gate, alice, bob } = shared));

const checklistOf = (content: string): string[] => content.split("\n").filter((line) => /^(✅|❌) /.test(line)).map((line) => line.slice(2).trim());

describe("feedback in a job's thread", () => {
  it("a reply while the job runs gets 👀, then ✅ and an answer listing its questions, and the next checks include them", async () => {
    const base = gate.calls;
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 3 });
    await gate.arrived(base + 1);
    gate.releaseWaiting();
    await gate.arrived(base + 2);
    await world.fake.waitFor(() => iterationMessages(world.fake, threadId)[0], "iteration 1's message");

    const reply = world.fake.say(bob, threadId, "make the sphere green");
    await world.fake.waitFor(() => reply.reactions.includes("👀"), "the 👀 acknowledgement");
    const pending = world.jobs.status(jobId);
    expect(pending.ok && pending.job.pendingFeedback).toBe(1);
    gate.open();

    const note = await world.fake.waitFor(
      () => world.fake.messagesIn(threadId).find((m) => m.messageReference?.message_id === reply.id),
      "the answer to the feedback",
    );
    expect(note.content).toBe("📝 Feedback from **Bob**: “make the sphere green”\n➕ Is the sphere green?\n➖ ~~Is the sphere purple?~~ (replaced)\nThe next attempt and every check after it include it.");
    expect(reply.reactions).toEqual(["👀", "✅"]);
    await waitForFinal(world.fake, threadId);

    const status = world.jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.feedback).toMatchObject([{ author: "Bob", text: "make the sphere green", atIteration: 2 }]);
    const [first, second, third] = iterationMessages(world.fake, threadId).map((m) => checklistOf(m.content));
    expect(first).toContain("Is the sphere purple?");
    expect(first).not.toContain("Is the sphere green?");
    for (const later of [second, third]) {
      expect(later).toContain("Is the sphere green?");
      expect(later).not.toContain("Is the sphere purple?");
    }
  });

  it("feedback on a finished job goes into memory at once and says to press Refine more", async () => {
    gate.open();
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 1 });
    await waitForFinal(world.fake, threadId);

    const reply = world.fake.say(alice, threadId, "add a yellow star");

    const note = await world.fake.waitFor(
      () => world.fake.messagesIn(threadId).find((m) => m.messageReference?.message_id === reply.id),
      "the answer to the feedback",
    );
    expect(note.content).toMatch(/^📝 Feedback from \*\*Alice\*\*: “add a yellow star”\n➕ .*star/);
    expect(note.content.endsWith("Press **Refine more** to try again with it.")).toBe(true);
    const status = world.jobs.status(jobId);
    expect(status.ok && status.job.trajectory.requirements?.some((r) => r.source === "feedback" && /star/.test(r.question))).toBe(true);
  });

  it("/gems feedback in the thread is stored like a reply and answered privately", async () => {
    gate.open();
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 1 });
    await waitForFinal(world.fake, threadId);

    const answer = await world.fake.answer(world.fake.command(bob, "feedback", { text: "make the cubes blue" }, threadId));

    expect(answer).toMatchObject({ isEphemeral: true, content: expect.stringMatching(/^📝 Added to the job's memory/) });
    await world.fake.waitFor(() => world.fake.messagesIn(threadId).find((m) => m.content.startsWith("📝 Feedback from **Bob**: “make the cubes blue”")), "the note in the thread");
    const status = world.jobs.status(jobId);
    expect(status.ok && status.job.trajectory.feedback.map((f) => f.text)).toEqual(["make the cubes blue"]);
  });

  it("feedback over the length limit is answered with the limit, and nothing is stored", async () => {
    gate.open();
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 1 });
    await waitForFinal(world.fake, threadId);

    const reply = world.fake.say(bob, threadId, "more contrast ".repeat(180));

    const answer = await world.fake.waitFor(
      () => world.fake.messagesIn(threadId).find((m) => m.messageReference?.message_id === reply.id),
      "the refusal",
    );
    expect(answer.content).toBe("⚠️ The feedback is 2519 characters long; the limit is 2000. Keep it to the changes that matter most.");
    expect(reply.reactions).toEqual([]);
    const status = world.jobs.status(jobId);
    expect(status.ok && status.job.trajectory.feedback).toEqual([]);
  });

  it("messages in channels that are not job threads, and the bot's own, are not feedback", async () => {
    gate.open();
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 1 });
    await waitForFinal(world.fake, threadId);
    const before = world.fake.calls.length;

    const message = world.fake.say(bob, world.fake.channel.id, "make it green");
    const own = world.fake.say(world.fake.bot, threadId, "make it green");
    // A marker the bot does answer, so the test knows the message above was seen and skipped.
    const marker = await world.fake.answer(world.fake.command(bob, "skills"));

    expect(marker.isEphemeral).toBe(true);
    expect(message.reactions).toEqual([]);
    expect(own.reactions).toEqual([]);
    const status = world.jobs.status(jobId);
    expect(status.ok && status.job.trajectory.feedback).toEqual([]);
    expect(world.fake.calls.slice(before).filter((c) => c.path.includes("/reactions/") || c.path.endsWith("/messages"))).toEqual([]);
  });
});
