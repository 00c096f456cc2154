import { describe, expect, it } from "vitest";
import { createModerationStep } from "../../core/moderation/moderator.ts";
import { createWordListModerator } from "../../core/moderation/word-list.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { messageEvent } from "../fakes/slack/payloads.ts";
import { CHANNEL, EASY_PROMPT, alice, onlyJobId, startHarness, waitForCard, waitForFinal } from "./harness.ts";

const BLOCKED = "zorblax";

function counted() {
  const inner = createSimGenerator({ latencyMs: 1, partialImages: 0 });
  const counter = { calls: 0 };
  const generator: ImageGenerator = { ...inner, name: inner.name, generate: (request) => ((counter.calls += 1), inner.generate(request)) };
  return { generator, counter };
}
const moderation = () => createModerationStep([createWordListModerator([BLOCKED])], "closed", silentLogger);

describe("moderation on Slack", () => {
  it("a blocked /gems prompt is answered ephemerally, never reaches the generator and posts nothing in the channel", async () => {
    const { generator, counter } = counted();
    const { fake, jobs, command } = await startHarness({ generator, moderation: moderation() });
    await command(`a ${BLOCKED} at noon --iterations 1`);
    const answer = await fake.waitFor("an answer on the response_url", () => fake.responses[0]);
    expect(answer.body).toMatchObject({ response_type: "ephemeral" });
    expect(String(answer.body.text)).toContain("did not pass the content filter");
    expect(fake.messages.filter((m) => m.user === fake.botUserId)).toEqual([]);
    expect(fake.callsOf("chat.postMessage")).toEqual([]);
    expect(jobs.list()).toEqual([]);
    expect(counter.calls).toBe(0);
  });

  it("a blocked reply in a job's thread is answered with chat.postEphemeral to its author only, and never reaches memory", async () => {
    const { generator, counter } = counted();
    const { fake, jobs, sender, command } = await startHarness({ generator, moderation: moderation() });
    await command(`${EASY_PROMPT} --iterations 1`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const jobId = onlyJobId(jobs);
    const calls = counter.calls;
    const posted = fake.messages.filter((m) => m.user === fake.botUserId).length;

    const ts = "1800000000.000777";
    fake.addUserMessage({ channel: CHANNEL, ts, threadTs: card.ts, user: alice.id, text: `add a ${BLOCKED}` });
    const delivery = await sender.event(messageEvent(fake, { channel: CHANNEL, user: alice.id, text: `add a ${BLOCKED}`, threadTs: card.ts, ts }));
    expect(delivery.status).toBe(200);

    const ephemeral = await fake.waitFor("the ephemeral refusal", () => fake.callsOf("chat.postEphemeral")[0]);
    expect(ephemeral.args).toMatchObject({ channel: CHANNEL, user: alice.id, thread_ts: card.ts });
    expect(String(ephemeral.args.text)).toContain("Your feedback was not taken");
    expect(fake.messages.filter((m) => m.user === fake.botUserId)).toHaveLength(posted);
    expect(fake.message(CHANNEL, ts)?.reactions).toEqual([]);
    const status = jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.pendingFeedback).toBe(0);
    expect(status.job.trajectory.feedback).toEqual([]);
    expect(counter.calls).toBe(calls);
  });
});
