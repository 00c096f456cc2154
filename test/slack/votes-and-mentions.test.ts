import { describe, expect, it, vi } from "vitest";
import type { JobService } from "../../core/jobs/types.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { appMentionEvent, messageEvent, reactionEvent } from "../fakes/slack/payloads.ts";
import {
  CHANNEL,
  HARD_PROMPT,
  alice,
  bob,
  hasAction,
  holdAfter,
  imageReplies,
  onlyJobId,
  startHarness,
  textOf,
  waitForCard,
  waitForFinal,
  type SlackHarness,
} from "./harness.ts";
import { startSocketModeSlackBot } from "./socket-mode-harness.ts";

const votesOf = (jobs: JobService, jobId: string) => {
  const status = jobs.status(jobId);
  return status.ok ? status.job.votes : null;
};

/** A person's reaction added (or removed) on the bot's message `ts`, as Slack delivers it. */
const reacting =
  ({ fake, sender }: SlackHarness, ts: string) =>
  async (user: string, reaction: string, isAdded = true): Promise<void> => {
    const delivery = await sender.event(reactionEvent(fake, { isAdded, user, reaction, channel: CHANNEL, ts, itemUser: fake.botUserId }));
    expect(delivery.status).toBe(200);
  };

let nextTs = 0;
const newTs = () => `1800000100.${String(++nextTs).padStart(6, "0")}`;

describe("votes by reaction on Slack", () => {
  it("counts :+1:/:-1: (skin tones too) on an iteration's image per person, drops removed ones, ignores the bot and other reactions, and shows the votes in the final reply", async () => {
    const gate = holdAfter(createSimGenerator({ latencyMs: 1 }), 1);
    const harness = await startHarness({ generator: gate.generator });
    const { fake, jobs, command } = harness;
    await command(`${HARD_PROMPT} --iterations 3`);
    const card = await waitForCard(fake);
    const image = await fake.waitFor("iteration 1's image", () => imageReplies(fake, card)[0]);
    await gate.isHolding();
    const jobId = onlyJobId(jobs);
    const react = reacting(harness, image.ts);

    await react(fake.botUserId, "+1");
    await react(bob.id, "tada");
    await react(bob.id, "+1::skin-tone-2");
    await react(alice.id, "-1");
    await vi.waitFor(() => expect(votesOf(jobs, jobId)).toEqual([{ n: 1, up: 1, down: 1 }]));
    await react(alice.id, "-1", false);
    await vi.waitFor(() => expect(votesOf(jobs, jobId)).toEqual([{ n: 1, up: 1, down: 0 }]));
    expect(fake.callsOf("files.info").length).toBeGreaterThan(0);

    gate.release();
    const final = await waitForFinal(fake, card);
    expect(textOf(final)).toContain("🗳️ Team votes: #1 👍 1");
    const done = jobs.status(jobId);
    expect(done.ok && done.job.trajectory.feedback.map((f) => f.author)).toEqual(["the team"]);
  });

  it("after the job ended, reactions update the final reply with the counts now, once per burst, and post nothing new", async () => {
    const harness = await startHarness();
    const { fake, jobs, command } = harness;
    await command("a red cube --iterations 1");
    const card = await waitForCard(fake);
    const final = await waitForFinal(fake, card);
    const [image] = imageReplies(fake, card);
    if (!image) throw new Error("no iteration image");
    const replies = fake.threadReplies(CHANNEL, card.ts).length;
    const react = reacting(harness, image.ts);

    await react(bob.id, "+1");
    await react(alice.id, "+1");
    await react(bob.id, "-1");
    await fake.waitFor("the final reply with the burst's counts", () => textOf(final).includes("🗳️ Team votes: #1 👍 1 👎 1"));
    expect(final.edits).toBe(1);
    expect(votesOf(jobs, onlyJobId(jobs))).toEqual([{ n: 1, up: 1, down: 1 }]);

    await react(bob.id, "-1", false);
    await fake.waitFor("the final reply with the later counts", () => /🗳️ Team votes: #1 👍 1(?! 👎)/.test(textOf(final)));
    // Events reach Slack in order: another update for the first burst would have come before this one.
    expect(final.edits).toBe(2);
    expect(final.blocks.some((b: any) => b.type === "image")).toBe(true);
    expect(hasAction(final, "gems_refine")).toBe(true);
    expect(fake.threadReplies(CHANNEL, card.ts)).toHaveLength(replies);
  });

  it("refuses a request signed with the wrong secret, so nobody can forge votes", async () => {
    const { fake, sender } = await startHarness();
    const delivery = await sender.event(reactionEvent(fake, { isAdded: true, user: bob.id, reaction: "+1", channel: CHANNEL, ts: "1.2", itemUser: fake.botUserId }), {
      secret: "not-the-signing-secret",
    });
    expect(delivery.status).toBe(401);
  });
});

describe("@GEMS and direct messages on Slack", () => {
  it("@GEMS <prompt> in a channel starts a job there, with the mention stripped and /gems options applied, once even if Slack sends it twice", async () => {
    const { fake, jobs, sender } = await startHarness();
    const mention = appMentionEvent(fake, { user: bob.id, text: `<@${fake.botUserId}> a red cube --iterations 1 --skill none`, channel: CHANNEL, ts: newTs() });

    expect((await sender.event(mention)).status).toBe(200);
    expect((await sender.event(mention)).status).toBe(200);

    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const jobId = onlyJobId(jobs);
    const status = jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.request).toMatchObject({ prompt: "a red cube", maxIterations: 1, skill: "none" });
    expect(status.job.requester.id).toBe(`slack:${fake.teamId}:${bob.id}`);
  });

  it("a mention with a bad option is answered to the person only, and starts nothing", async () => {
    const { fake, jobs, sender } = await startHarness();
    await sender.event(appMentionEvent(fake, { user: bob.id, text: `<@${fake.botUserId}> a cube --colour red`, channel: CHANNEL, ts: newTs() }));

    const answer = await fake.waitFor("the ephemeral answer", () => fake.callsOf("chat.postEphemeral")[0]);
    expect(answer.args).toMatchObject({ channel: CHANNEL, user: bob.id });
    expect(String(answer.args["text"])).toMatch(/^Unknown option --colour/);
    expect(jobs.list()).toEqual([]);
  });

  it("a mention inside a thread starts nothing (in a job's thread it is feedback)", async () => {
    const { fake, jobs, sender } = await startHarness();
    const ts = newTs();
    const delivery = await sender.event(appMentionEvent(fake, { user: bob.id, text: `<@${fake.botUserId}> a red cube`, channel: CHANNEL, ts, threadTs: "1700000000.000001" }));
    expect(delivery.status).toBe(200);
    await sender.event(messageEvent(fake, { channel: CHANNEL, user: bob.id, text: "a red cube", ts: newTs() }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(jobs.list()).toEqual([]);
  });

  it("a direct message starts a job in the DM; bot messages, edits and thread replies in the DM do not", async () => {
    const { fake, jobs, sender } = await startHarness();
    const dm = "D0BOBDM";
    await sender.event(messageEvent(fake, { channel: dm, channelType: "im", user: fake.botUserId, botId: fake.botId, text: "a blue cone", ts: newTs() }));
    await sender.event(messageEvent(fake, { channel: dm, channelType: "im", user: bob.id, subtype: "message_changed", text: "a green cone", ts: newTs() }));
    await sender.event(messageEvent(fake, { channel: dm, channelType: "im", user: bob.id, text: "a pink cone", ts: newTs(), threadTs: "1700000000.000002" }));
    await sender.event(messageEvent(fake, { channel: dm, channelType: "im", user: bob.id, text: "a red cube --iterations 2", ts: newTs() }));

    const card = await waitForCard(fake, 0, dm);
    await waitForFinal(fake, card);
    const all = jobs.list();
    expect(all.map((j) => j.request.prompt)).toEqual(["a red cube"]);
    expect(all[0]?.request.maxIterations).toBe(2);
  });

  it("a direct message with a bad option is answered in the DM", async () => {
    const { fake, jobs, sender } = await startHarness();
    await sender.event(messageEvent(fake, { channel: "D0BOBDM", channelType: "im", user: bob.id, text: "a cube --iterations lots", ts: newTs() }));
    const answer = await fake.waitFor("the answer in the DM", () => fake.messages.find((m) => m.channel === "D0BOBDM" && m.user === fake.botUserId));
    expect(answer.text).toBe('Iterations must be a whole number from 1 to 10 (got "lots").');
    expect(jobs.list()).toEqual([]);
  });
});

describe("in Socket Mode", () => {
  it("a mention and a reaction arrive as events_api envelopes and are acknowledged; the job starts and the vote counts", async () => {
    const { fake, socket, jobs } = await startSocketModeSlackBot();

    const ack = await socket.send("events_api", appMentionEvent(fake, { user: alice.id, text: `<@${fake.botUserId}> a red cube --iterations 1`, channel: CHANNEL, ts: newTs() }));
    expect(ack.envelope_id).toMatch(/\S/);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const [image] = imageReplies(fake, card);
    if (!image) throw new Error("no image reply");
    await socket.send("events_api", reactionEvent(fake, { isAdded: true, user: bob.id, reaction: "thumbsup", channel: CHANNEL, ts: image.ts, itemUser: fake.botUserId }));
    await vi.waitFor(() => expect(votesOf(jobs, onlyJobId(jobs))).toEqual([{ n: 1, up: 1, down: 0 }]));
  });
});
