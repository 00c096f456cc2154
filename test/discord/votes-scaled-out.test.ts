/**
 * Scaled out: a vote recorded by one process (here a second surfaces process, as the studio or
 * the Slack bot would be) edits the final message that the Discord bot's process posted.
 * Real PostgreSQL and Redis, a schema and key prefix of this test's own.
 */
import { describe, expect, it } from "vitest";
import { makeCluster } from "../jobs/distributed-harness.ts";
import { onCleanup } from "../support/cleanup.ts";
import { EASY_PROMPT, createJob, startWorld, waitForFinal } from "./harness.ts";

describe("votes after the end, scaled out, on Discord", () => {
  it("votes recorded in another process edit the final message in the thread once per burst", async () => {
    const cluster = await makeCluster();
    const runner = await cluster.service("all");
    const voters = await cluster.service("surfaces");
    const world = await startWorld({ jobs: runner });
    onCleanup(() => world.close());
    await voters.start();
    const alice = world.fake.user("alice", "Alice");
    const { jobId, threadId } = await createJob(world, alice, { prompt: EASY_PROMPT, iterations: 1 });
    const final = await waitForFinal(world.fake, threadId);

    const bob = { id: "web:bob", name: "Bob" };
    const carol = { id: "slack:T1:U3", name: "Carol" };
    expect(await voters.vote(jobId, bob, 1, "up")).toMatchObject({ ok: true });
    expect(await voters.vote(jobId, carol, 1, "down")).toMatchObject({ ok: true });
    await world.fake.waitFor(() => final.content.includes("🗳️ Team votes: #1 👍 1 👎 1\n"), "the final message with the burst's counts");
    expect(final.edits).toBe(1);

    expect(await voters.vote(jobId, carol, 1, "up")).toMatchObject({ ok: true, votes: [{ n: 1, up: 2, down: 0 }] });
    await world.fake.waitFor(() => final.content.includes("🗳️ Team votes: #1 👍 2\n"), "the final message with the later counts");
    expect(final.edits).toBe(2);
  });
});
