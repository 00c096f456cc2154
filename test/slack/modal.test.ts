import { describe, expect, it } from "vitest";
import { modalSubmission } from "../fakes/slack/payloads.ts";
import { CHANNEL, EASY_PROMPT, alice, bundledSkills, onlyJobId, startHarness, textOf, waitForCard } from "./harness.ts";

async function openModal() {
  const harness = await startHarness();
  const delivery = await harness.command("");
  const view = await harness.fake.waitFor("views.open", () => harness.fake.views[0]);
  return { harness, delivery, view };
}

describe("the /gems modal", () => {
  it("opens on /gems alone, with the prompt, every skill with its description, and iterations", async () => {
    const { harness, delivery, view } = await openModal();

    expect(delivery.status).toBe(200);
    const call = harness.fake.callsOf("views.open")[0]!;
    expect(call.args.trigger_id).toMatch(/\S/);
    expect(view.blocks.map((b: any) => b.block_id)).toEqual(["prompt", "skill", "iterations", "refine", "images"]);
    const options = view.blocks[1].element.options;
    expect(options.map((o: any) => o.value)).toEqual(["auto", "none", ...(await bundledSkills()).manifest().map((s) => s.id)]);
    for (const option of options) expect(option.description.text.length).toBeLessThanOrEqual(75);
    expect(options[2].description.text).toMatch(/^Use when/);
    expect(view.blocks[2].element).toMatchObject({ type: "number_input", min_value: "1", max_value: "10" });
  });

  it("starts a job in the channel it was opened from when submitted", async () => {
    const { harness, view } = await openModal();

    const delivery = await harness.sender.interaction(modalSubmission(harness.fake, view, alice, { prompt: EASY_PROMPT, skill: "none", iterations: "2" }));

    expect(delivery.status).toBe(200);
    expect(delivery.text).toBe("");
    const card = await waitForCard(harness.fake);
    expect(card.channel).toBe(CHANNEL);
    expect(textOf(card)).toContain("no skill");
    const status = harness.jobs.status(onlyJobId(harness.jobs));
    if (!status.ok) throw new Error(status.message);
    expect(status.job.request).toMatchObject({ prompt: EASY_PROMPT, skill: "none", maxIterations: 2 });
    expect(status.job.requester).toEqual({ id: `slack:${harness.fake.teamId}:${alice.id}`, name: alice.name });
  });

  it("stays open with an error under each bad field when the submission is invalid", async () => {
    const { harness, view } = await openModal();

    const delivery = await harness.sender.interaction(modalSubmission(harness.fake, view, alice, { prompt: "   ", skill: "painting", iterations: "12" }));

    expect(delivery.status).toBe(200);
    const answer = JSON.parse(delivery.text);
    expect(answer.response_action).toBe("errors");
    expect(answer.errors.prompt).toContain("The prompt is empty");
    expect(answer.errors.skill).toContain('Unknown skill "painting"');
    expect(answer.errors.iterations).toBe("Iterations must be a whole number from 1 to 10 (got 12).");
    expect(harness.jobs.list()).toEqual([]);
  });

  it("names only the field that is wrong", async () => {
    const { harness, view } = await openModal();

    const delivery = await harness.sender.interaction(modalSubmission(harness.fake, view, alice, { prompt: EASY_PROMPT, iterations: "0" }));

    expect(Object.keys(JSON.parse(delivery.text).errors)).toEqual(["iterations"]);
    expect(harness.jobs.list()).toEqual([]);
  });
});
