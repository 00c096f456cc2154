import { describe, expect, it } from "vitest";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { messageEvent, type MessageEventFields } from "../fakes/slack/payloads.ts";
import type { FakeSlack } from "../fakes/slack/fake-slack.ts";
import type { SlackSender } from "../fakes/slack/signed-requests.ts";
import { CHANNEL, EASY_PROMPT, HARD_PROMPT, bob, holdAfter, imageReplies, onlyJobId, startHarness, waitForCard, waitForFinal } from "./harness.ts";

let nextTs = 0;
/** A person's message: stored on the fake (so reactions find it) and delivered as an Events API callback. */
async function say(fake: FakeSlack, sender: SlackSender, fields: Omit<MessageEventFields, "ts">): Promise<string> {
  const ts = `1800000000.${String(++nextTs).padStart(6, "0")}`;
  if (!fields.botId) fake.addUserMessage({ channel: fields.channel, ts, user: fields.user, text: fields.text, ...(fields.threadTs ? { threadTs: fields.threadTs } : {}) });
  const delivery = await sender.event(messageEvent(fake, { ...fields, ts }));
  expect(delivery.status).toBe(200);
  return ts;
}

describe("replies in a job's thread", () => {
  it("get a reaction, and become a requirement the verifier checks on the next image", async () => {
    const gate = holdAfter(createSimGenerator({ latencyMs: 1 }), 1);
    const { fake, jobs, sender, command } = await startHarness({ generator: gate.generator });
    await command(`${HARD_PROMPT} --iterations 4`);
    const card = await waitForCard(fake);
    await fake.waitFor("iteration 1's image", () => imageReplies(fake, card)[0]);
    await gate.isHolding();

    const ts = await say(fake, sender, { channel: CHANNEL, user: bob.id, text: "add a yellow star", threadTs: card.ts });

    await fake.waitFor("the reaction", () => fake.message(CHANNEL, ts)!.reactions.includes("memo"));
    const jobId = onlyJobId(jobs);
    const pending = jobs.status(jobId);
    expect(pending.ok && pending.job.pendingFeedback).toBe(1);
    gate.release();
    const listed = await fake.waitFor("the questions added", () => fake.threadReplies(CHANNEL, card.ts).find((m) => m.text.startsWith("📝")));
    expect(listed.text).toContain("Feedback from *Bob*");
    expect(listed.text).toMatch(/Added to the checklist:\n• .*star/);
    await waitForFinal(fake, card);
    const status = jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    const star = status.job.trajectory.requirements?.find((r) => r.source === "feedback");
    expect(star?.question).toMatch(/star/);
    expect(status.job.trajectory.feedback).toMatchObject([{ author: "Bob", text: "add a yellow star" }]);
    expect(status.job.trajectory.iterations.at(-1)?.verdicts.map((v) => v.requirementId)).toContain(star?.id);
  });

  it("from the bot itself, from other bots, edits and top-level messages are not feedback", async () => {
    const { fake, jobs, sender, command } = await startHarness();
    await command(`${EASY_PROMPT} --iterations 1`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const jobId = onlyJobId(jobs);

    await say(fake, sender, { channel: CHANNEL, user: fake.botUserId, botId: fake.botId, text: "add a green star", threadTs: card.ts });
    await say(fake, sender, { channel: CHANNEL, user: "U0OTHERBOT", botId: "B0OTHER", text: "add a blue star", threadTs: card.ts });
    await say(fake, sender, { channel: CHANNEL, user: bob.id, subtype: "message_changed", text: "add a pink star", threadTs: card.ts });
    await say(fake, sender, { channel: CHANNEL, user: bob.id, text: "add a black star" });
    const ts = await say(fake, sender, { channel: CHANNEL, user: bob.id, text: "add a yellow star", threadTs: card.ts });

    await fake.waitFor("the questions added", () => fake.threadReplies(CHANNEL, card.ts).find((m) => m.text.startsWith("📝")));
    await fake.waitFor("the reaction", () => fake.message(CHANNEL, ts)!.reactions.length > 0);
    expect(fake.callsOf("reactions.add")).toHaveLength(1);
    const status = jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.feedback.map((f) => f.text)).toEqual(["add a yellow star"]);
  });

  it("delivered twice by Slack becomes feedback once", async () => {
    const { fake, jobs, sender, command } = await startHarness();
    await command(`${EASY_PROMPT} --iterations 1`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const ts = "1800000000.999999";
    fake.addUserMessage({ channel: CHANNEL, ts, user: bob.id, text: "add a yellow star", threadTs: card.ts });
    const envelope = messageEvent(fake, { channel: CHANNEL, user: bob.id, text: "add a yellow star", ts, threadTs: card.ts });

    await sender.event(envelope);
    await sender.event(envelope);

    await fake.waitFor("the questions added", () => fake.threadReplies(CHANNEL, card.ts).find((m) => m.text.startsWith("📝")));
    await fake.waitFor("the reaction", () => fake.message(CHANNEL, ts)!.reactions.length > 0);
    const status = jobs.status(onlyJobId(jobs));
    expect(status.ok && status.job.trajectory.feedback).toHaveLength(1);
  });

  it("from someone who may not steer the job get an ephemeral explanation instead of a reaction", async () => {
    const { fake, jobs, sender, command } = await startHarness({ limits: { feedbackRequesterOnly: true } });
    await command(`${EASY_PROMPT} --iterations 1`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);

    const ts = await say(fake, sender, { channel: CHANNEL, user: bob.id, text: "add a yellow star", threadTs: card.ts });

    const refusal = await fake.waitFor("the ephemeral refusal", () => fake.callsOf("chat.postEphemeral")[0]);
    expect(refusal.args).toMatchObject({ channel: CHANNEL, user: bob.id, thread_ts: card.ts, text: "Only alice or an admin can give feedback on this job." });
    expect(fake.message(CHANNEL, ts)!.reactions).toEqual([]);
    const status = jobs.status(onlyJobId(jobs));
    expect(status.ok && status.job.trajectory.feedback).toEqual([]);
  });
});
