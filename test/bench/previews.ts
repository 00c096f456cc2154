/**
 * Live previews: what they cost on the chat platforms and how soon people see one. Side by side
 * in one run, on the sim generator with a fixed latency and its three partial drawings:
 * - Discord REST calls and Slack Web API calls per iteration with previews off and on (the
 *   5-iteration job minus the 2-iteration job, ÷ 3, so per-job calls cancel out);
 * - time from the generator being called to the first preview on each surface, next to when
 *   the generator reported it (the surface's own delay is the difference).
 */
import { join } from "node:path";
import { createJobService } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore } from "../../core/jobs/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createSlackBot } from "../../bots/slack/index.ts";
import { PreviewPacing } from "../../bots/slack/preview-pacing.ts";
import { main } from "../../bots/cli/main.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { startFakeDiscord } from "../fakes/discord/fake-discord.ts";
import { startFakeSlack, type FakeSlack } from "../fakes/slack/fake-slack.ts";
import { slashCommand } from "../fakes/slack/payloads.ts";
import { createSlackSender } from "../fakes/slack/signed-requests.ts";
import { testLimits } from "../support/limits.ts";
import { HARD_PROMPT, finalMessages, startWorld } from "../discord/harness.ts";
import { eventsOf, readSse, startStudio } from "../web/studio-harness.ts";

/** Scaled-down real timing: a 10 s image with previews every 2.5 s becomes 1 s and 250 ms. */
const GENERATOR_MS = 1_000;
const INTERVAL_MS = 250;
/** Slack's per-job card budget (5 s) scaled the same way. */
const SLACK_PACING = { perJobMs: 500, perMinute: 1_000 };
/** For the first-preview times: real defaults (2.5 s interval; the first preview is never held). */
const FIRST_PREVIEW_GENERATOR_MS = 2_000;

const DRAWING = /drawing… \d+%/;
const BUSY_JOBS = 10;

interface GeneratorClock {
  calledAt: number;
  firstReportAt: number | null;
}

/** The sim generator, remembering (in performance.now() time) when it was called and first reported. */
function timedSim(latencyMs: number, partialImages: number): { generator: ImageGenerator; clocks: GeneratorClock[] } {
  const sim = createSimGenerator({ latencyMs, partialImages, width: 256, height: 256 });
  const clocks: GeneratorClock[] = [];
  return {
    clocks,
    generator: {
      name: "sim",
      generate(request) {
        const clock: GeneratorClock = { calledAt: performance.now(), firstReportAt: null };
        clocks.push(clock);
        const onProgress = request.onProgress;
        return sim.generate({
          ...request,
          ...(onProgress
            ? {
                onProgress: (progress) => {
                  clock.firstReportAt ??= performance.now();
                  onProgress(progress);
                },
              }
            : {}),
        });
      },
    },
  };
}

// ---- Discord --------------------------------------------------------------------------------

async function discordJob(iterations: number, previews: boolean): Promise<{ threadCalls: number; clocks: GeneratorClock[]; shownAt: number | null }> {
  const fake = await startFakeDiscord();
  const timed = timedSim(GENERATOR_MS, previews ? 3 : 0);
  const world = await startWorld({ fake, latencyMs: 0, generator: timed.generator, limits: { previewIntervalMs: INTERVAL_MS } });
  try {
    const before = fake.calls.length;
    const answer = await fake.answer(fake.command(fake.user("solo"), "create", { prompt: HARD_PROMPT, iterations }), 60_000);
    const jobId = /Job `([^`]+)`/.exec(answer.content)?.[1];
    if (!jobId) throw new Error(`bench: /gems create was refused: ${answer.content}`);
    const threadId = /<#(\d+)>/.exec(answer.content)?.[1] ?? "";
    await fake.waitFor(() => finalMessages(fake, threadId)[0], `result of ${jobId}`, 120_000);
    const calls = fake.calls.slice(before).filter((c) => c.path.startsWith(`/channels/${threadId}/`));
    const firstShown = calls.find((c) => DRAWING.test(String(c.body?.content ?? "")));
    return { threadCalls: calls.length, clocks: timed.clocks, shownAt: firstShown ? firstShown.at : null };
  } finally {
    await world.close();
    await fake.close();
  }
}

async function discordPerIteration(previews: boolean): Promise<number> {
  const two = await discordJob(2, previews);
  const five = await discordJob(5, previews);
  return (five.threadCalls - two.threadCalls) / 3;
}

/** Several jobs with previews on at once, under Discord-like limits: does any call draw a 429? */
async function discordUnderLimits(jobsAtOnce: number): Promise<{ rateLimited: number; previewCalls: number; seconds: number }> {
  const fake = await startFakeDiscord({ rateLimit: { limit: 5, windowMs: 5_000 } });
  const world = await startWorld({ fake, latencyMs: 0, generator: timedSim(GENERATOR_MS, 3).generator, limits: { previewIntervalMs: INTERVAL_MS } });
  const started = Date.now();
  try {
    await Promise.all(
      Array.from({ length: jobsAtOnce }, async (_, i) => {
        const answer = await fake.answer(fake.command(fake.user(`busy${i}`), "create", { prompt: HARD_PROMPT, iterations: 2 }), 120_000);
        const threadId = /<#(\d+)>/.exec(answer.content)?.[1] ?? "";
        await fake.waitFor(() => finalMessages(fake, threadId)[0], `result of job ${i}`, 300_000);
      }),
    );
    const previewCalls = fake.calls.filter((c) => DRAWING.test(String(c.body?.content ?? ""))).length;
    return { rateLimited: fake.rateLimited, previewCalls, seconds: (Date.now() - started) / 1000 };
  } finally {
    await world.close();
    await fake.close();
  }
}

// ---- Slack ----------------------------------------------------------------------------------

const SIGNING_SECRET = "bench-signing-secret-0123456789ab";
const CHANNEL = "C0BENCH";
let slackJobs = 0;

async function slackJob(
  fake: FakeSlack,
  generator: ImageGenerator,
  iterations: number,
  limits: Partial<JobLimits>,
): Promise<{ calls: number; updates: Array<{ at: number; text: string }> }> {
  const images = createInMemoryImageStore();
  const skills = await loadSkillLibrary(join(import.meta.dirname, "../../skills"));
  const jobs = createJobService({
    createJobId: () => `bench-${++slackJobs}`,
    mllm: createSimMllm(),
    generator,
    skills,
    images,
    store: createInMemoryJobStore(),
    logger: silentLogger,
    limits: testLimits(limits),
  });
  const bot = createSlackBot({
    jobs,
    images,
    skills,
    config: { botToken: fake.botToken, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl, port: 0, host: "127.0.0.1" },
    logger: silentLogger,
    previewPacing: new PreviewPacing(SLACK_PACING),
  });
  await bot.start();
  await jobs.start();
  try {
    const address = bot.address();
    if (!address) throw new Error("bench: the Slack bot is not listening");
    const sender = createSlackSender(`http://${address.host}:${address.port}/slack/events`, SIGNING_SECRET);
    const before = fake.calls.length;
    const user = { id: "U0BENCH", name: "bench" };
    fake.addUser({ id: user.id, name: user.name, displayName: "Bench" });
    await sender.command(slashCommand(fake, `${HARD_PROMPT} --iterations ${iterations}`, user, CHANNEL));
    await fake.waitFor(
      "the job's result",
      // Each measurement runs on a fresh fake Slack, so the first result is this job's.
      () => fake.messages.some((m) => m.channel === CHANNEL && m.blocks.some((b: any) => b.type === "actions" && b.elements.some((e: any) => e.action_id === "gems_refine"))),
      120_000,
    );
    const calls = fake.calls.slice(before);
    return {
      calls: calls.length,
      updates: calls.filter((c) => c.method === "chat.update").map((c) => ({ at: c.at, text: String(c.args["text"] ?? "") })),
    };
  } finally {
    await bot.stop();
    await jobs.close();
  }
}

async function slackPerIteration(previews: boolean): Promise<number> {
  const run = async (iterations: number) => {
    const fake = await startFakeSlack();
    try {
      return (await slackJob(fake, timedSim(GENERATOR_MS, previews ? 3 : 0).generator, iterations, { previewIntervalMs: INTERVAL_MS })).calls;
    } finally {
      await fake.close();
    }
  };
  const two = await run(2);
  const five = await run(5);
  return (five - two) / 3;
}

// ---- first preview per surface ----------------------------------------------------------------

interface FirstPreview {
  surface: string;
  reportedMs: number;
  shownMs: number;
}

async function firstPreviewDiscord(): Promise<FirstPreview> {
  const fake = await startFakeDiscord();
  const timed = timedSim(FIRST_PREVIEW_GENERATOR_MS, 3);
  const world = await startWorld({ fake, latencyMs: 0, generator: timed.generator });
  // The fake stamps calls with Date.now(); the generator with performance.now().
  const offset = Date.now() - performance.now();
  try {
    const answer = await fake.answer(fake.command(fake.user("first"), "create", { prompt: HARD_PROMPT, iterations: 1 }), 60_000);
    const threadId = /<#(\d+)>/.exec(answer.content)?.[1] ?? "";
    const shown = await fake.waitFor(() => fake.calls.find((c) => c.path.startsWith(`/channels/${threadId}/`) && DRAWING.test(String(c.body?.content ?? ""))), "first preview", 60_000);
    const clock = timed.clocks[0]!;
    await fake.waitFor(() => finalMessages(fake, threadId)[0], "result", 60_000);
    return { surface: "Discord (message posted with the preview)", reportedMs: (clock.firstReportAt ?? NaN) - clock.calledAt, shownMs: shown.at - offset - clock.calledAt };
  } finally {
    await world.close();
    await fake.close();
  }
}

async function firstPreviewSlack(): Promise<FirstPreview> {
  const fake = await startFakeSlack();
  const timed = timedSim(FIRST_PREVIEW_GENERATOR_MS, 3);
  try {
    const { updates } = await slackJob(fake, timed.generator, 1, {});
    const clock = timed.clocks[0]!;
    const shown = updates.find((u) => DRAWING.test(u.text));
    return { surface: "Slack (status card shows the percent)", reportedMs: (clock.firstReportAt ?? NaN) - clock.calledAt, shownMs: (shown?.at ?? NaN) - clock.calledAt };
  } finally {
    await fake.close();
  }
}

async function firstPreviewStudio(): Promise<FirstPreview> {
  const timed = timedSim(FIRST_PREVIEW_GENERATOR_MS, 3);
  const studio = await startStudio({ generator: timed.generator });
  try {
    const created = await fetch(`${studio.url}/api/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: HARD_PROMPT, iterations: 1, name: "Bench" }),
    });
    const { jobId } = (await created.json()) as { jobId: string };
    let shownAt = NaN;
    await readSse(`${studio.url}/api/jobs/${jobId}/events`, (messages) => {
      if (Number.isNaN(shownAt) && eventsOf(messages).some((e) => e.type === "image.preview")) shownAt = performance.now();
      return eventsOf(messages).some((e) => e.type === "job.done" || e.type === "job.failed");
    }, { timeoutMs: 60_000 });
    const clock = timed.clocks[0]!;
    return { surface: "Studio (SSE event at the browser's end)", reportedMs: (clock.firstReportAt ?? NaN) - clock.calledAt, shownMs: shownAt - clock.calledAt };
  } finally {
    await studio.close();
  }
}

/** The real `gems run` on a terminal: from the status line saying "generating" to it showing a percent. */
async function firstPreviewCli(): Promise<FirstPreview> {
  const writes: Array<{ at: number; text: string }> = [];
  const stdout = Object.assign(new (await import("node:stream")).Writable({ write: (chunk, _e, done) => (writes.push({ at: performance.now(), text: String(chunk) }), done()) }), { isTTY: true });
  const stderr = new (await import("node:stream")).Writable({ write: (_c, _e, done) => done() });
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(join(tmpdir(), "gems-bench-cli-"));
  try {
    const code = await main({
      argv: ["run", "a red cube", "--iterations", "1", "--out", join(dir, "out")],
      env: { GEMS_DATA_DIR: join(dir, "data"), GEMS_SIM_LATENCY_MS: String(FIRST_PREVIEW_GENERATOR_MS) },
      stdout,
      stderr,
      cwd: dir,
    });
    if (code !== 0) throw new Error(`bench: gems run exited ${code}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const started = writes.find((w) => w.text.includes("generating image 1"))?.at ?? NaN;
  const shown = writes.find((w) => /% drawn/.test(w.text))?.at ?? NaN;
  // The sim reports its first partial a quarter of the way through the image.
  return { surface: "CLI (status line on a terminal)", reportedMs: FIRST_PREVIEW_GENERATOR_MS / 4, shownMs: shown - started };
}

export async function benchPreviews(): Promise<string> {
  const discordOff = await discordPerIteration(false);
  const discordOn = await discordPerIteration(true);
  const busy = await discordUnderLimits(BUSY_JOBS);
  const slackOff = await slackPerIteration(false);
  const slackOn = await slackPerIteration(true);
  const firsts = [await firstPreviewDiscord(), await firstPreviewSlack(), await firstPreviewStudio(), await firstPreviewCli()];
  const ms = (value: number) => (Number.isFinite(value) ? `${Math.round(value)} ms` : "—");
  return [
    "## Live previews: platform calls and time to the first preview (`previews`)",
    "",
    `Calls: the sim generator takes ${GENERATOR_MS} ms per image and reports three partial drawings (at 25, 50 and 75%); previews every ${INTERVAL_MS} ms (\`GEMS_PREVIEW_INTERVAL_MS\`), Slack's per-job card budget ${SLACK_PACING.perJobMs} ms: a 10 s image with the 2.5 s and 5 s defaults, scaled down 10×. "Off" is the same generator reporting nothing. Each figure is (5-iteration job − 2-iteration job) ÷ 3, so per-job calls cancel out; Discord counts REST calls in the job's thread, Slack every Web API call.`,
    "",
    "| per iteration | previews off | previews on | extra |",
    "|---|---:|---:|---:|",
    `| Discord REST calls | ${discordOff.toFixed(2)} | ${discordOn.toFixed(2)} | ${(discordOn - discordOff).toFixed(2)} |`,
    `| Slack Web API calls | ${slackOff.toFixed(2)} | ${slackOn.toFixed(2)} | ${(slackOn - slackOff).toFixed(2)} |`,
    "",
    `Under limits: ${BUSY_JOBS} jobs × 2 iterations at once with previews on (same scaled timing, so ${BUSY_JOBS * 2 * 3} previews in ${"~"}2 s per job), the fake Discord limiting every bucket to 5 requests per 5 s: ${busy.rateLimited} responses were 429 (target 0), and the bots made ${busy.previewCalls} preview calls; the rest were skipped because a newer preview or the final image was already in the log when the bot got to them (${busy.seconds.toFixed(1)} s in all).`,
    "",
    `First preview: one 1-iteration job per surface, the sim generator at ${FIRST_PREVIEW_GENERATOR_MS} ms per image (first partial at a quarter, ${FIRST_PREVIEW_GENERATOR_MS / 4} ms), default interval. Times from the generator being called (CLI: from the status line saying "generating") to the preview reaching the platform's fake, the SSE client, or the terminal.`,
    "",
    "| surface | generator reported | surface showed | surface's own delay |",
    "|---|---:|---:|---:|",
    ...firsts.map((f) => `| ${f.surface} | ${ms(f.reportedMs)} | ${ms(f.shownMs)} | ${ms(f.shownMs - f.reportedMs)} |`),
  ].join("\n");
}
