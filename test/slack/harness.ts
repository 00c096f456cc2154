/**
 * The Slack bot end to end for tests: the fake Slack (Web API on loopback), the real Bolt app
 * on 127.0.0.1 with its HTTP receiver, and a real job service on the sim models with small
 * latencies and an in-memory store (or whatever store a test passes). Requests reach the bot
 * signed as Slack signs them. Everything started here is closed after the test.
 */
import { wireUsage, type HarnessUsage } from "../support/usage.ts";
import { withSkillDefaults } from "../../core/jobs/skill-defaults.ts";
import { createTeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { TeamSkillLibrary } from "../../core/skills/team-skills.ts";
import type { SkillDefaultStore } from "../../core/skills/file-skill-store.ts";
import { withModeration } from "../../core/jobs/moderated-jobs.ts";
import type { ModerationStep } from "../../core/moderation/moderator.ts";
import { onCleanup } from "../support/cleanup.ts";
import { testLimits } from "../support/limits.ts";
import { join } from "node:path";
import { createJobService } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore, type JobStore } from "../../core/jobs/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator, Mllm } from "../../core/models/ports.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { createSlackBot, type SlackBot } from "../../bots/slack/index.ts";
import type { PreviewPacing } from "../../bots/slack/preview-pacing.ts";
import { startFakeSlack, type FakeMessage, type FakeSlack } from "../fakes/slack/fake-slack.ts";
import { slashCommand, type SlackUser } from "../fakes/slack/payloads.ts";
import { createSlackSender, type Delivery, type SlackSender } from "../fakes/slack/signed-requests.ts";

export const SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
export const CHANNEL = "C0ART";
export const alice: SlackUser = { id: "U0ALICE", name: "alice" };
export const bob: SlackUser = { id: "U0BOB", name: "bob" };
export const admin: SlackUser = { id: "U0ADA", name: "ada" };

/** The sim cannot satisfy this at once, so its jobs run several iterations. */
export const HARD_PROMPT = 'three green cones left of two yellow cubes and a purple sphere above a red ring with the text "HELLO"';
/** The sim gets this right on the first try. */
export const EASY_PROMPT = "a red cube";

export const TEST_LIMITS: JobLimits = testLimits();

export { onCleanup };

let skillsPromise: Promise<SkillLibrary> | undefined;
export function bundledSkills(): Promise<SkillLibrary> {
  skillsPromise ??= loadSkillLibrary(join(import.meta.dirname, "../../skills"));
  return skillsPromise;
}

export interface HarnessOptions {
  fake?: FakeSlack;
  store?: JobStore;
  images?: ImageStore;
  mllm?: Mllm;
  generator?: ImageGenerator;
  limits?: Partial<JobLimits>;
  /** Sim latency per model call. */
  latencyMs?: number;
  /** Leave the job service and bot to the test to close (restart tests). */
  isManual?: boolean;
  previewPacing?: PreviewPacing;
  /** A usage ledger with these prices and quotas, wired as bots/server.ts does (admins: the harness's admin). */
  usage?: HarnessUsage;
  /** Puts the moderation step between the bot and the job service, as the server does. */
  moderation?: ModerationStep;
  /** Team skills: the library replaces the bundled one for the job service and the bot. */
  team?: { library: TeamSkillLibrary; defaults: SkillDefaultStore; admins: string[] };
  /** A job service made by the test (e.g. a scaled-out one), not started yet; it replaces the harness's own. */
  jobs?: JobService;
}

export interface SlackHarness {
  fake: FakeSlack;
  jobs: JobService;
  bot: SlackBot;
  images: ImageStore;
  sender: SlackSender;
  /** `/gems <text>` from `user` in the test channel. */
  command(text: string, user?: SlackUser, channel?: string): Promise<Delivery>;
  /** Closes the bot and the job service (not the fake). */
  close(): Promise<void>;
}

/** Counts across services, so a restarted service in the same file never reuses an id. */
let jobCounter = 0;

export async function startHarness(options: HarnessOptions = {}): Promise<SlackHarness> {
  const fake = options.fake ?? (await startFakeSlack());
  if (!options.fake) onCleanup(() => fake.close());
  for (const user of [alice, bob, admin]) fake.addUser({ id: user.id, name: user.name, displayName: user.name[0]!.toUpperCase() + user.name.slice(1) });
  const latencyMs = options.latencyMs ?? 1;
  const images = options.images ?? createInMemoryImageStore();
  const skills = options.team?.library ?? (await bundledSkills());
  const admins = [`slack:${fake.teamId}:${admin.id}`];
  const usage = wireUsage(options.usage);
  const { jobs, ledger } = usage.attach(options.jobs ?? createJobService({
    ...usage.deps,
    // Job ids seed the sim generator: counted ids make every run draw the same images.
    createJobId: () => `job-${String(++jobCounter).padStart(4, "0")}`,
    mllm: options.mllm ?? createSimMllm({ latencyMs }),
    // No partial drawings unless a test brings its own generator: call counts here are for previews off.
    generator: options.generator ?? createSimGenerator({ latencyMs, partialImages: 0 }),
    skills,
    images,
    store: options.store ?? createInMemoryJobStore(),
    logger: silentLogger,
    limits: { ...TEST_LIMITS, admins: [`slack:${fake.teamId}:${admin.id}`], ...options.limits },
  }));
  const bot = createSlackBot({
    ...(ledger ? { usage: { ledger, admins } } : {}),
    // As the server composes them: a person's default skill first, then moderation.
    jobs: ((inner) => (options.moderation ? withModeration(inner, { step: options.moderation, images, logger: silentLogger }) : inner))(
      options.team ? withSkillDefaults(jobs, { defaults: options.team.defaults, skills, logger: silentLogger }) : jobs,
    ),
    ...(options.team ? { team: createTeamSkillsService({ ...options.team, jobs }) } : {}),
    images,
    skills,
    config: { botToken: fake.botToken, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl, port: 0, host: "127.0.0.1" },
    logger: silentLogger,
    // Retries as Slack's client does them, only with waits short enough for a test.
    client: { retryConfig: { retries: 3, factor: 1, minTimeout: 20, maxTimeout: 20, randomize: false } },
    ...(options.previewPacing ? { previewPacing: options.previewPacing } : {}),
  });
  await bot.start();
  await jobs.start();
  let isClosed = false;
  const close = async () => {
    if (isClosed) return;
    isClosed = true;
    await bot.stop();
    await jobs.close();
  };
  if (!options.isManual) onCleanup(close);
  const address = bot.address();
  if (!address) throw new Error("the bot is not listening");
  const sender = createSlackSender(`http://${address.host}:${address.port}/slack/events`, SIGNING_SECRET);
  return {
    fake,
    jobs,
    bot,
    images,
    sender,
    command: (text, user = alice, channel = CHANNEL) => sender.command(slashCommand(fake, text, user, channel)),
    close,
  };
}

/** The job's status card: the first top-level bot message in the channel. */
export function waitForCard(fake: FakeSlack, nth = 0, channel = CHANNEL): Promise<FakeMessage> {
  return fake.waitFor(`status card #${nth + 1}`, () => fake.messages.filter((m) => m.channel === channel && m.threadTs === null && m.user === fake.botUserId)[nth]);
}

const hasAction = (message: FakeMessage, actionId: string) =>
  message.blocks.some((b: any) => b.type === "actions" && b.elements.some((e: any) => e.action_id === actionId));

/** The thread's final reply (the one with Refine more); the `nth` when a job ended more than once. */
export function waitForFinal(fake: FakeSlack, card: FakeMessage, nth = 0): Promise<FakeMessage> {
  return fake.waitFor(`final reply #${nth + 1}`, () => fake.threadReplies(card.channel, card.ts).filter((m) => hasAction(m, "gems_refine"))[nth]);
}

export { hasAction };

/** Thread replies that carry an uploaded image, i.e. one per iteration (and maybe the result). */
export function imageReplies(fake: FakeSlack, card: FakeMessage): FakeMessage[] {
  return fake.threadReplies(card.channel, card.ts).filter((m) => m.files.length > 0);
}

/** The text of every section and context in a message, for assertions. */
export function textOf(message: FakeMessage): string {
  const parts = [message.text];
  for (const block of message.blocks as any[]) {
    if (block.text?.text) parts.push(block.text.text);
    for (const element of block.elements ?? []) if (typeof element.text === "string") parts.push(element.text);
  }
  return parts.join("\n");
}

/** The only job the service has. */
export function onlyJobId(jobs: JobService): string {
  const all = jobs.list();
  if (all.length !== 1) throw new Error(`expected one job, found ${all.length}`);
  return all[0]!.jobId;
}

/**
 * A generator that lets the first `free` calls through and holds later ones until released,
 * so a job can be caught between iterations. Held calls honour their abort signal.
 */
export function holdAfter(generator: ImageGenerator, free: number) {
  let calls = 0;
  let isOpen = false;
  const held: Array<() => void> = [];
  const arrivals: Array<() => void> = [];
  return {
    get calls() {
      return calls;
    },
    /** Resolves once a call is being held. */
    isHolding(): Promise<void> {
      if (held.length > 0) return Promise.resolve();
      return new Promise((resolve) => arrivals.push(resolve));
    },
    release(): void {
      isOpen = true;
      for (const go of held.splice(0)) go();
    },
    generator: {
      name: generator.name,
      async generate(request) {
        calls++;
        if (!isOpen && calls > free) {
          await new Promise<void>((resolve, reject) => {
            const onAbort = () => reject(Object.assign(new Error("aborted while held"), { name: "AbortError" }));
            if (request.signal?.aborted) return onAbort();
            request.signal?.addEventListener("abort", onAbort, { once: true });
            held.push(() => {
              request.signal?.removeEventListener("abort", onAbort);
              resolve();
            });
            for (const arrived of arrivals.splice(0)) arrived();
          });
        }
        return generator.generate(request);
      },
    } satisfies ImageGenerator,
  };
}
