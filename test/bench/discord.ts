/**
 * The Discord bot's REST budget, against the fake Discord with the real discord.js client:
 * how many calls an iteration costs (target ≤ 3), and whether 30 jobs at once under Discord's
 * rate limits ever draw a 429 (target 0: discord.js queues per bucket, and the bot's rendering
 * must not burst past what it announces).
 */
import { readDiscordRef } from "../../bots/discord/surface-ref.ts";
import { startFakeDiscord, type FakeDiscord, type RecordedCall } from "../fakes/discord/fake-discord.ts";
import { HARD_PROMPT, finalMessages, iterationMessages, iterationNumberOf, startWorld, type World } from "../discord/harness.ts";

// Discord's message routes allow about 5 requests per 5 s per channel; the fake applies that to
// every bucket (route + channel), which is stricter than Discord for edits and reactions.
const DISCORD_LIKE_LIMIT = { limit: 5, windowMs: 5_000 };
const JOBS_AT_ONCE = 30;
const ITERATIONS_AT_ONCE = 3;

interface Submitted {
  jobId: string;
  submittedAt: number;
}

async function submit(world: World, username: string, iterations: number): Promise<Submitted> {
  const submittedAt = Date.now();
  const answer = await world.fake.answer(world.fake.command(world.fake.user(username), "create", { prompt: HARD_PROMPT, iterations }), 120_000);
  const jobId = /Job `([^`]+)`/.exec(answer.content)?.[1];
  if (!jobId) throw new Error(`bench: /gems create was refused: ${answer.content}`);
  return { jobId, submittedAt };
}

function threadOf(world: World, jobId: string): string | undefined {
  const status = world.jobs.status(jobId);
  return status.ok ? readDiscordRef(status.job.surfaceRef)?.threadId : undefined;
}

async function finished(fake: FakeDiscord, world: World, jobId: string, timeoutMs: number): Promise<string> {
  const threadId = await fake.waitFor(() => threadOf(world, jobId), `thread of ${jobId}`, timeoutMs);
  await fake.waitFor(() => finalMessages(fake, threadId)[0], `result of ${jobId}`, timeoutMs);
  return threadId;
}

/** REST calls of one job, by where they go. */
async function callsOfOneJob(iterations: number): Promise<{ thread: number; other: number }> {
  const fake = await startFakeDiscord();
  const world = await startWorld({ fake, latencyMs: 0 });
  try {
    const before = fake.calls.length;
    const { jobId } = await submit(world, "solo", iterations);
    const threadId = await finished(fake, world, jobId, 60_000);
    const calls = fake.calls.slice(before);
    const inThread = calls.filter((c) => c.path.startsWith(`/channels/${threadId}/`)).length;
    return { thread: inThread, other: calls.length - inThread };
  } finally {
    await world.close();
    await fake.close();
  }
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

export async function benchDiscord(): Promise<string> {
  const two = await callsOfOneJob(2);
  const five = await callsOfOneJob(5);
  const perIteration = (five.thread - two.thread) / 3;
  const fixed = two.thread - 2 * perIteration;

  const fake = await startFakeDiscord({ rateLimit: DISCORD_LIKE_LIMIT });
  const world = await startWorld({ fake, latencyMs: 20 });
  const started = Date.now();
  let threadReadyMs: number[] = [];
  let duplicates = 0;
  let calls: RecordedCall[] = [];
  try {
    const jobs = await Promise.all(Array.from({ length: JOBS_AT_ONCE }, (_, i) => submit(world, `person${i}`, ITERATIONS_AT_ONCE)));
    const threads = await Promise.all(
      jobs.map(async (job) => {
        const threadId = await fake.waitFor(() => threadOf(world, job.jobId), `thread of ${job.jobId}`, 300_000);
        threadReadyMs.push(Date.now() - job.submittedAt);
        await fake.waitFor(() => finalMessages(fake, threadId)[0], `result of ${job.jobId}`, 300_000);
        return threadId;
      }),
    );
    for (const threadId of threads) {
      const numbers = iterationMessages(fake, threadId).map(iterationNumberOf);
      duplicates += numbers.length - new Set(numbers).size;
    }
    calls = fake.calls;
  } finally {
    await world.close();
    await fake.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const waits = world.logs.filter((line) => line.includes("Discord rate limit; discord.js waits")).length;
  const restCalls = calls.filter((c) => c.route !== "/gateway/bot").length;
  threadReadyMs = threadReadyMs.length > 0 ? threadReadyMs : [0];

  return [
    "## Discord: REST calls and rate limits (`discord`)",
    "",
    "Setup: the real discord.js 14 client against the fake Discord (`test/fakes/discord`), the job service on the sim models, HARD_PROMPT (every iteration runs).",
    "",
    "| measure | value | target |",
    "|---|---:|---:|",
    `| REST calls per iteration (thread calls, 5-iteration job minus 2-iteration job, ÷ 3) | ${perIteration.toFixed(2)} | ≤ 3 |`,
    `| REST calls per job besides its iterations: in the thread | ${fixed.toFixed(0)} | |`,
    `| REST calls per job besides its iterations: interaction answer, starter message, thread | ${two.other} | |`,
    `| ${JOBS_AT_ONCE} jobs × ${ITERATIONS_AT_ONCE} iterations at once, limit ${DISCORD_LIKE_LIMIT.limit} per ${DISCORD_LIKE_LIMIT.windowMs / 1000} s per bucket: 429s | ${fake.rateLimited} | 0 |`,
    `| … times discord.js held a request back to stay under a limit | ${waits} | |`,
    `| … REST calls in all | ${restCalls} | |`,
    `| … duplicate iteration messages | ${duplicates} | 0 |`,
    `| … submit → thread exists, p50 / p95 / max | ${(percentile(threadReadyMs, 50) / 1000).toFixed(1)} s / ${(percentile(threadReadyMs, 95) / 1000).toFixed(1)} s / ${(Math.max(...threadReadyMs) / 1000).toFixed(1)} s | |`,
    `| … wall time until every result was posted | ${seconds.toFixed(1)} s | |`,
    "",
    "The starter messages and thread creations of jobs started in the same channel share that channel's buckets, so with many jobs at once the later threads appear seconds after the command; every job's own updates go to its thread's buckets.",
  ].join("\n");
}
