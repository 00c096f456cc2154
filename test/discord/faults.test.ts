import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeDiscord } from "../fakes/discord/fake-discord.ts";
import { HARD_PROMPT, createJob, iterationMessages, iterationNumberOf, startWorld, waitForEvent, waitForFinal, type World } from "./harness.ts";

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const starterPosts = (w: World) => w.fake.calls.filter((c) => c.method === "POST" && c.path === `/channels/${w.fake.channel.id}/messages`);

describe("when Discord pushes back", () => {
  it("a 429 is waited out for as long as Discord says, then the post goes through once", async () => {
    const alice = world.fake.user("alice", "Alice");
    const before = starterPosts(world).length;
    world.fake.inject({ method: "POST", path: new RegExp(`^/channels/${world.fake.channel.id}/messages$`), status: 429, times: 1, retryAfter: 0.4 });

    const { threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 1 });
    await waitForFinal(world.fake, threadId);

    const [limited, retried, ...more] = starterPosts(world).slice(before);
    expect([limited?.status, retried?.status, more.length]).toEqual([429, 200, 0]);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(400);
    expect(world.fake.messagesIn(world.fake.channel.id).filter((m) => m.content.includes(`<@${alice.id}> asked GEMS`))).toHaveLength(1);
  });

  it("after 500s that outlast discord.js's retries, the bot logs, the job goes on, and its thread catches up", async () => {
    const alice = world.fake.user("alice", "Alice");
    const before = starterPosts(world).length;
    // discord.js tries a request four times (one try and three retries) before it gives up.
    world.fake.inject({ method: "POST", path: new RegExp(`^/channels/${world.fake.channel.id}/messages$`), status: 500, times: 4 });

    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 2 });
    await waitForFinal(world.fake, threadId);

    expect(starterPosts(world).slice(before).map((c) => c.status)).toEqual([500, 500, 500, 500, 200]);
    expect(world.logs.some((line) => line.includes("could not show a job event in Discord; will retry") && line.includes(jobId))).toBe(true);
    expect(iterationMessages(world.fake, threadId).map(iterationNumberOf)).toEqual([1, 2]);
    const status = world.jobs.status(jobId);
    expect(status.ok && status.job.status).toBe("done");
  });

  it("without permission to create threads, the person is told which permissions are missing and the job still runs", async () => {
    const alice = world.fake.user("alice", "Alice");
    world.fake.inject({ method: "POST", path: /^\/channels\/\d+\/messages\/\d+\/threads$/, status: 403, times: 1 });

    const answer = await world.fake.answer(world.fake.command(alice, "create", { prompt: HARD_PROMPT, iterations: 1 }));

    expect(answer.content).toMatch(/^🎨 Job `(\w+)` accepted\. .* I could not open a thread here: I need the View Channel, Send Messages, Create Public Threads and Send Messages in Threads permissions in this channel\.$/);
    const jobId = /Job `(\w+)`/.exec(answer.content)?.[1] ?? "";
    await waitForEvent(world, (e) => e.jobId === jobId && e.type === "job.done", "the job to finish without its thread");
    expect(world.logs.some((line) => line.includes("Discord refused the job's messages for good") && line.includes(jobId))).toBe(true);
  });

  it("never writes the bot token or an interaction token to the log", async () => {
    const tokens = [...world.fake.state.interactions.values()].map((i) => i.token);
    expect(tokens.length).toBeGreaterThan(0);
    const log = world.logs.join("");
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [world.fake.token, ...tokens]) expect(log).not.toContain(secret);
  });
});

describe("under Discord's rate limits", () => {
  it("four jobs at once are rendered without a single 429", async () => {
    const fake = await startFakeDiscord({ rateLimit: { limit: 3, windowMs: 500 } });
    const limited = await startWorld({ fake });
    try {
      const people = ["ann", "ben", "cat", "dan"].map((name) => fake.user(name));
      const jobs = await Promise.all(people.map((person) => createJob(limited, person, { prompt: HARD_PROMPT, iterations: 2 })));
      await Promise.all(jobs.map((job) => waitForFinal(fake, job.threadId)));

      expect(fake.rateLimited).toBe(0);
      // The limits did bite: discord.js held requests back until the bucket reset.
      expect(limited.logs.some((line) => line.includes("Discord rate limit; discord.js waits"))).toBe(true);
      for (const job of jobs) expect(iterationMessages(fake, job.threadId).map(iterationNumberOf)).toEqual([1, 2]);
    } finally {
      await limited.close();
      await fake.close();
    }
  });
});
