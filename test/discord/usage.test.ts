/**
 * Usage and quotas on Discord, at the wire: the final message shows the job's cost,
 * `/gems usage` answers privately (admins see the team by person), and a daily quota refuses a
 * new job and stops a running one with its best image.
 */
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { startFakeDiscord } from "../fakes/discord/fake-discord.ts";
import { EASY_PROMPT, HARD_PROMPT, createJob, startWorld, waitForFinal, type World } from "./harness.ts";

const PRICES = { currency: "USD", models: { sim: { input: 1, output: 2, image: 0.01 } } };
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe("usage on Discord", () => {
  it("shows the cost in the final message and answers /gems usage privately, by person for admins", async () => {
    world = await startWorld({ usage: { prices: PRICES, admins: [] } });
    const ann = world.fake.user("ann", "Ann");
    const ada = world.fake.user("ada", "Ada");
    const { threadId } = await createJob(world, ann, { prompt: EASY_PROMPT });
    const final = await waitForFinal(world.fake, threadId);
    expect(final.content).toMatch(/\nCost: \$0\.\d{4} \([\d,]+ tokens in, [\d,]+ out, 1 image\)\n/);

    const mine = await world.fake.answer(world.fake.command(ann, "usage"));
    expect(mine.isEphemeral).toBe(true);
    expect(mine.content).toMatch(/^Your usage, the last 7 days: \$0\.\d{4}, 1 job, 1 image, [\d,]+ tokens in, [\d,]+ out$/);
    const adasOwn = await world.fake.answer(world.fake.command(ada, "usage", { days: 30 }));
    expect(adasOwn.content).toBe("Your usage, the last 30 days: 0 jobs, 0 images, 0 tokens in, 0 out");
  });

  it("gives admins the team's usage by person", async () => {
    const fake = await startFakeDiscord();
    onTestFinished(() => fake.close());
    const ada = fake.user("ada", "Ada");
    world = await startWorld({ fake, usage: { prices: PRICES, admins: [`discord:${ada.id}`] } });
    const ann = world.fake.user("ann", "Ann");
    const { threadId } = await createJob(world, ann, { prompt: EASY_PROMPT });
    await waitForFinal(world.fake, threadId);
    const team = await world.fake.answer(world.fake.command(ada, "usage"));
    expect(team.isEphemeral).toBe(true);
    expect(team.content.split("\n")).toEqual([
      expect.stringMatching(/^The team, the last 7 days: \$0\.\d{4}, 1 job, 1 image, /),
      expect.stringMatching(new RegExp(`^• Ann \\(discord:${ann.id}\\): \\$0\\.\\d{4}, 1 job, 1 image, `)),
    ]);
  });

  it("refuses a job at submit over the daily quota, and stops a running one with its best image", async () => {
    world = await startWorld({ usage: { prices: PRICES, quotas: { personDaily: { kind: "images", images: 2 }, channelDaily: null } } });
    const bea = world.fake.user("bea", "Bea");
    const { threadId } = await createJob(world, bea, { prompt: HARD_PROMPT, iterations: 4 });
    const final = await waitForFinal(world.fake, threadId);
    expect(final.content).toMatch(/🪫 \*\*Stopped by a quota\*\* — You have used 2 of 2 images today \(UTC\), your daily quota\. It resets at 00:00 UTC, in .*\nBest: iteration \d/);
    expect(final.content).toContain("2 images)");
    expect(final.attachments.length).toBe(1);

    const refused = await world.fake.answer(world.fake.command(bea, "create", { prompt: EASY_PROMPT }));
    expect(refused.isEphemeral).toBe(true);
    expect(refused.content).toMatch(/^You have used 2 of 2 images today \(UTC\), your daily quota\./);
  });
});
