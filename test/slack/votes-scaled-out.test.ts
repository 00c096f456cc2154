/**
 * Scaled out: a vote recorded by one process (here a second surfaces process, as the studio or
 * the Discord bot would be) updates the final reply that the Slack bot's process posted.
 * Real PostgreSQL and Redis, a schema and key prefix of this test's own.
 */
import { describe, expect, it } from "vitest";
import { makeCluster } from "../jobs/distributed-harness.ts";
import { onlyJobId, startHarness, textOf, waitForCard, waitForFinal } from "./harness.ts";

describe("votes after the end, scaled out, on Slack", () => {
  it("votes recorded in another process update the final reply once per burst", async () => {
    const cluster = await makeCluster();
    const runner = await cluster.service("all");
    const voters = await cluster.service("surfaces");
    const { fake, command } = await startHarness({ jobs: runner });
    await voters.start();
    await command("a red cube --iterations 1");
    const card = await waitForCard(fake);
    const final = await waitForFinal(fake, card);
    const jobId = onlyJobId(runner);

    const bob = { id: "web:bob", name: "Bob" };
    const carol = { id: "discord:3", name: "Carol" };
    expect(await voters.vote(jobId, bob, 1, "up")).toMatchObject({ ok: true });
    expect(await voters.vote(jobId, carol, 1, "down")).toMatchObject({ ok: true });
    await fake.waitFor("the final reply with the burst's counts", () => textOf(final).includes("🗳️ Team votes: #1 👍 1 👎 1"));
    expect(final.edits).toBe(1);

    expect(await voters.vote(jobId, carol, 1, "up")).toMatchObject({ ok: true, votes: [{ n: 1, up: 2, down: 0 }] });
    await fake.waitFor("the final reply with the later counts", () => /🗳️ Team votes: #1 👍 2(?! 👎)/.test(textOf(final)));
    expect(final.edits).toBe(2);
  });
});
