import { describe, expect, it } from "vitest";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { buttonPress } from "../fakes/slack/payloads.ts";
import type { FakeMessage } from "../fakes/slack/fake-slack.ts";
import { CHANNEL, HARD_PROMPT, admin, alice, bob, hasAction, holdAfter, imageReplies, onlyJobId, startHarness, textOf, waitForCard, waitForFinal, type SlackHarness } from "./harness.ts";
import type { SlackUser } from "../fakes/slack/payloads.ts";

async function press(harness: SlackHarness, message: FakeMessage, actionId: string, user: SlackUser) {
  const latest = harness.fake.message(message.channel, message.ts)!;
  const delivery = await harness.sender.interaction(buttonPress(harness.fake, latest, actionId, user));
  expect(delivery.status).toBe(200);
}

/** A job held before its second image, with its card (which has Stop). */
async function runningJob() {
  const gate = holdAfter(createSimGenerator({ latencyMs: 1 }), 1);
  const harness = await startHarness({ generator: gate.generator });
  await harness.command(`${HARD_PROMPT} --iterations 3`);
  const card = await waitForCard(harness.fake);
  await harness.fake.waitFor("iteration 1's image", () => imageReplies(harness.fake, card)[0]);
  await gate.isHolding();
  return { harness, card, gate, jobId: onlyJobId(harness.jobs) };
}

function statusOf(harness: SlackHarness, jobId: string) {
  const status = harness.jobs.status(jobId);
  if (!status.ok) throw new Error(status.message);
  return status.job;
}

describe("buttons", () => {
  it("Stop ends a running job with its best image, and the card loses its Stop button", async () => {
    const { harness, card, jobId } = await runningJob();
    expect(hasAction(harness.fake.message(CHANNEL, card.ts)!, "gems_stop")).toBe(true);

    await press(harness, card, "gems_stop", alice);

    const final = await waitForFinal(harness.fake, card);
    expect(textOf(final)).toContain("⏹ *Stopped.*");
    expect(final.blocks.find((b: any) => b.type === "image").slack_file.id).toBe(imageReplies(harness.fake, card)[0]!.files[0]!.id);
    expect(statusOf(harness, jobId).status).toBe("cancelled");
    await harness.fake.waitFor("the card without Stop", () => !hasAction(harness.fake.message(CHANNEL, card.ts)!, "gems_stop"));
    expect(textOf(harness.fake.message(CHANNEL, card.ts)!)).toContain("⏹ Stopped");
  });

  it("a stranger's press gets an ephemeral explanation and changes nothing", async () => {
    const { harness, card, jobId } = await runningJob();

    await press(harness, card, "gems_stop", bob);

    const answer = await harness.fake.waitFor("an answer on the response_url", () => harness.fake.responses[0]);
    expect(answer.body).toMatchObject({ response_type: "ephemeral", replace_original: false, text: "Only alice or an admin can stop this job." });
    expect(statusOf(harness, jobId).status).toBe("running");
  });

  it("an admin may stop anyone's job", async () => {
    const { harness, card, jobId } = await runningJob();

    await press(harness, card, "gems_stop", admin);

    await waitForFinal(harness.fake, card);
    expect(statusOf(harness, jobId).status).toBe("cancelled");
    expect(harness.fake.responses).toEqual([]);
  });

  it("Use this makes the shown image the job's result", async () => {
    const harness = await startHarness();
    await harness.command(`${HARD_PROMPT} --iterations 2`);
    const card = await waitForCard(harness.fake);
    const final = await waitForFinal(harness.fake, card);
    const jobId = onlyJobId(harness.jobs);
    const best = statusOf(harness, jobId).best!;

    await press(harness, final, "gems_pick", alice);

    const picked = await waitForFinal(harness.fake, card, 1);
    expect(textOf(picked)).toContain(`📌 *Iteration ${best.n} is the result.*`);
    expect(picked.blocks.find((b: any) => b.type === "actions").elements.map((e: any) => e.action_id)).toEqual(["gems_refine"]);
    expect(statusOf(harness, jobId)).toMatchObject({ status: "done", stopReason: "picked", best: { n: best.n } });
  });

  it("Refine more runs more iterations in the same thread", async () => {
    const harness = await startHarness();
    await harness.command(`${HARD_PROMPT} --iterations 1`);
    const card = await waitForCard(harness.fake);
    const final = await waitForFinal(harness.fake, card);

    await press(harness, final, "gems_refine", alice);

    const second = await waitForFinal(harness.fake, card, 1);
    const jobId = onlyJobId(harness.jobs);
    const job = statusOf(harness, jobId);
    expect(job.iterations).toBeGreaterThan(1);
    expect(job.iterations).toBeLessThanOrEqual(3);
    const replies = harness.fake.threadReplies(CHANNEL, card.ts);
    expect(replies.some((m) => m.text.startsWith("🔁 Refining further: up to 2 more iterations"))).toBe(true);
    const numbers = imageReplies(harness.fake, card).map((m) => Number(m.text.match(/^\*Iteration (\d+)/)?.[1]));
    expect(numbers).toEqual(Array.from({ length: job.iterations }, (_, i) => i + 1));
    expect(replies.indexOf(second)).toBeGreaterThan(replies.indexOf(final));
    expect(harness.fake.messages.filter((m) => m.threadTs === null && m.user === harness.fake.botUserId)).toHaveLength(1);
  });

  it("Refine more on a job whose last image passed everything explains what to do instead", async () => {
    const harness = await startHarness();
    await harness.command("a red cube --iterations 2");
    const card = await waitForCard(harness.fake);
    const final = await waitForFinal(harness.fake, card);
    expect(textOf(final)).toContain("Every check passed");

    await press(harness, final, "gems_refine", alice);

    const answer = await harness.fake.waitFor("an answer on the response_url", () => harness.fake.responses[0]);
    expect(answer.body.text).toContain("Add feedback saying what to change, then continue.");
  });
});
