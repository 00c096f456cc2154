import { describe, expect, it } from "vitest";
import { CHANNEL, EASY_PROMPT, bundledSkills, onlyJobId, startHarness } from "./harness.ts";

async function ephemeralAnswer(text: string) {
  const harness = await startHarness();
  const delivery = await harness.command(text);
  expect(delivery.status).toBe(200);
  const answer = await harness.fake.waitFor("an answer on the response_url", () => harness.fake.responses[0]);
  return { harness, answer: answer.body };
}

describe("/gems answers only the person who asked", () => {
  it("/gems skills lists every skill with its description", async () => {
    const { answer } = await ephemeralAnswer("skills");

    expect(answer.response_type).toBe("ephemeral");
    for (const skill of (await bundledSkills()).manifest()) {
      expect(answer.text).toContain(`\`${skill.id}\``);
      expect(answer.text).toContain(skill.description.slice(0, 40));
    }
  });

  it("/gems help explains the command, the options, the buttons and feedback", async () => {
    const { answer } = await ephemeralAnswer("help");

    expect(answer.response_type).toBe("ephemeral");
    expect(answer.text).toContain("/gems <prompt>");
    expect(answer.text).toContain("--iterations");
    expect(answer.text).toContain("Refine more");
    expect(answer.text).toContain("thread");
  });

  it.each([
    ["an empty prompt", "--iterations 2", "The prompt is empty. Describe the image you want"],
    ["an unknown skill", "a cat --skill painting", 'Unknown skill "painting". Choose auto, none, or one of: aesthetic-drawing'],
    ["iterations above the range", "a cat --iterations 11", "Iterations must be a whole number from 1 to 10 (got 11)."],
    ["iterations below the range", "a cat --iterations=0", "Iterations must be a whole number from 1 to 10 (got 0)."],
    ["iterations that are not a number", "a cat --iterations many", 'Iterations must be a whole number from 1 to 10 (got "many").'],
    ["an unknown option", "a cat --style oil", "Unknown option --style. Use --skill <id>, --iterations <1-10> or --refine redraw|edit"],
    ["an unknown refine mode", "a cat --refine inpaint", 'Unknown refine mode "inpaint". Choose redraw (a new prompt each time) or edit (repair the best image).'],
    ["an option without its value", "a cat --skill", "The option --skill needs a value, e.g. --skill spatial-layout."],
  ])("%s gets an ephemeral answer saying what is wrong, and nothing starts", async (_case, text, expected) => {
    const { harness, answer } = await ephemeralAnswer(text);

    expect(answer).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(answer.text).toContain(expected);
    expect(harness.jobs.list()).toEqual([]);
    expect(harness.fake.callsOf("chat.postMessage")).toEqual([]);
  });

  it("a channel the bot is not in gets an ephemeral explanation, and the job is stopped", async () => {
    const harness = await startHarness();
    harness.fake.closeChannel(CHANNEL);

    await harness.command(EASY_PROMPT);

    const answer = await harness.fake.waitFor("an answer on the response_url", () => harness.fake.responses[0]);
    expect(answer.body.text).toContain(`I can't post in <#${CHANNEL}>`);
    expect(answer.body.text).toContain("/invite");
    const status = harness.jobs.status(onlyJobId(harness.jobs));
    expect(status.ok && status.job.status).toBe("cancelled");
  });
});
