/**
 * Usage and quotas on Slack, at the wire: the final reply shows the job's cost, `/gems usage`
 * answers ephemerally on the response_url (the admin sees the team by person), and a daily
 * quota refuses a new job and stops a running one with its best image.
 */
import { describe, expect, it } from "vitest";
import { HARD_PROMPT, EASY_PROMPT, admin, bob, startHarness, textOf, waitForCard, waitForFinal } from "./harness.ts";

const PRICES = { currency: "USD", models: { sim: { input: 1, output: 2, image: 0.01 } } };

describe("usage on Slack", () => {
  it("shows the cost in the final reply; /gems usage is ephemeral, by person for admins", async () => {
    const harness = await startHarness({ usage: { prices: PRICES } });
    await harness.command(EASY_PROMPT);
    const final = await waitForFinal(harness.fake, await waitForCard(harness.fake));
    expect(textOf(final)).toMatch(/Cost: \$0\.\d{4} \([\d,]+ tokens in, [\d,]+ out, 1 image\)/);

    await harness.command("usage 30d", bob);
    const own = await harness.fake.waitFor("bob's answer", () => harness.fake.responses[0]);
    expect(own.body).toMatchObject({ response_type: "ephemeral", text: "Your usage, the last 30 days: 0 jobs, 0 images, 0 tokens in, 0 out" });

    await harness.command("usage", admin);
    const team = await harness.fake.waitFor("the admin's answer", () => harness.fake.responses[1]);
    expect(team.body.response_type).toBe("ephemeral");
    expect(team.body.text).toMatch(/^The team, the last 7 days: \$0\.\d{4}, 1 job, 1 image, .*\n• \S+ \(slack:T\w+:U0ALICE\): \$0\.\d{4}, 1 job, 1 image, /);

    await harness.command("usage 999d", bob);
    const bad = await harness.fake.waitFor("the refusal", () => harness.fake.responses[2]);
    expect(bad.body.text).toBe("Usage covers 1 to 366 days back, e.g. `/gems usage 30d` (got 999).");
  });

  it("stops a job at the channel's daily quota with its best image, then refuses the next at submit", async () => {
    const harness = await startHarness({ usage: { prices: PRICES, quotas: { personDaily: null, channelDaily: { kind: "images", images: 2 } } } });
    await harness.command(`${HARD_PROMPT} --iterations 4`);
    const final = await waitForFinal(harness.fake, await waitForCard(harness.fake));
    expect(textOf(final)).toMatch(/🪫 \*Stopped by a quota:\* This channel has used 2 of 2 images today \(UTC\), its daily quota\./);
    expect(final.blocks.some((b: any) => b.type === "image")).toBe(true);

    await harness.command(EASY_PROMPT, bob);
    const refused = await harness.fake.waitFor("the refusal", () => harness.fake.responses[0]);
    expect(refused.body).toMatchObject({ response_type: "ephemeral" });
    expect(refused.body.text).toMatch(/^This channel has used 2 of 2 images today \(UTC\)/);
  });
});
