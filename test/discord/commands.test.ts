import { InteractionResponseType, MessageFlags } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OUTSIDE_THREAD } from "../../bots/discord/interactions.ts";
import { EASY_PROMPT, createJob, skills, startWorld, waitForFinal, type World } from "./harness.ts";

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

async function choicesFor(typed: string) {
  const interaction = world.fake.autocomplete(world.fake.user("ann"), { prompt: "a cat", skill: typed }, "skill");
  await world.fake.waitFor(() => interaction.callbacks[0], "the autocomplete answer");
  expect(interaction.callbacks[0]?.type).toBe(InteractionResponseType.ApplicationCommandAutocompleteResult);
  return interaction.callbacks[0]?.data.choices as Array<{ name: string; value: string }>;
}

describe("skill autocomplete", () => {
  it("offers auto, none and every skill of the library", async () => {
    const library = await skills();
    const choices = await choicesFor("");

    expect(choices.map((c) => c.value)).toEqual(["auto", "none", ...library.manifest().map((s) => s.id)]);
    for (const choice of choices) expect(choice.name.length).toBeLessThanOrEqual(100);
    expect(choices.find((c) => c.value === "spatial-layout")?.name).toMatch(/^Spatial Layout — /);
  });

  it("narrows the choices to what was typed", async () => {
    const choices = await choicesFor("TEXT");

    expect(choices.map((c) => c.value)).toEqual(["text-rendering"]);
  });
});

describe("bad input gets a private, specific answer", () => {
  async function privateAnswer(subcommand: string, options: Record<string, string | number>, channelId?: string) {
    const interaction = world.fake.command(world.fake.user("ann", "Ann"), subcommand, options, channelId);
    const answer = await world.fake.answer(interaction);
    expect(answer.isEphemeral).toBe(true);
    return { answer: answer.content, interaction };
  }

  it("an empty prompt is answered at once, without a defer", async () => {
    const { answer, interaction } = await privateAnswer("create", { prompt: "   " });

    expect(interaction.callbacks[0]).toMatchObject({ type: InteractionResponseType.ChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } });
    expect(answer).toBe('The prompt is empty. Describe the image you want, e.g. "a red cube on a blue sphere".');
  });

  it("an unknown skill names the skills there are", async () => {
    const { answer } = await privateAnswer("create", { prompt: "a cat", skill: "watercolour" });

    expect(answer).toBe('Unknown skill "watercolour". Choose auto, none, or one of: aesthetic-drawing, creative-drawing, spatial-layout, text-rendering.');
  });

  it("iterations out of range names the range", async () => {
    const { answer } = await privateAnswer("create", { prompt: "a cat", iterations: 11 });

    expect(answer).toBe("Iterations must be a whole number from 1 to 10 (got 11).");
  });

  it("/gems stop outside a job thread says where to use it", async () => {
    const { answer } = await privateAnswer("stop", {});

    expect(answer).toBe(OUTSIDE_THREAD.stop);
  });

  it("/gems feedback outside a job thread says where to use it", async () => {
    const { answer } = await privateAnswer("feedback", { text: "bluer" });

    expect(answer).toBe(OUTSIDE_THREAD.feedback);
  });

  it("no job is created for any of them", () => {
    expect(world.jobs.list().filter((job) => job.request.prompt === "a cat" || job.request.prompt.trim() === "")).toEqual([]);
  });
});

describe("/gems skills and /gems status", () => {
  it("/gems skills lists the library privately", async () => {
    const answer = await world.fake.answer(world.fake.command(world.fake.user("ann"), "skills"));

    expect(answer.isEphemeral).toBe(true);
    expect(answer.embeds[0]).toMatchObject({ title: "Skills (4)" });
    expect(answer.embeds[0].description).toContain("**Text Rendering** (`text-rendering`)");
  });

  it("/gems status in a job thread describes that job, elsewhere lists the person's jobs", async () => {
    const cleo = world.fake.user("cleo", "Cleo");
    const { jobId, threadId } = await createJob(world, cleo, { prompt: EASY_PROMPT });
    await waitForFinal(world.fake, threadId);

    const inThread = await world.fake.answer(world.fake.command(cleo, "status", {}, threadId));
    const elsewhere = await world.fake.answer(world.fake.command(cleo, "status"));

    expect(inThread.content).toMatch(new RegExp(`^Job \`${jobId}\` by Cleo: done, 1 of 3 iterations; best so far: iteration 1 \\(2/2 checks\\)\\.$`));
    expect(elsewhere.content).toBe(`Your latest jobs:\n• \`${jobId}\` done — ${EASY_PROMPT} <#${threadId}>`);
  });
});
