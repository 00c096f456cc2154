/**
 * A world for the Discord bot's end-to-end tests: the fake Discord, a real job service on the
 * sim models, and the real bot (discord.js included) between them. Helpers act as people do
 * and read what Discord would show.
 */
import { wireUsage, type HarnessUsage } from "../support/usage.ts";
import { createTeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { TeamSkillLibrary } from "../../core/skills/team-skills.ts";
import type { SkillDefaultStore } from "../../core/skills/file-skill-store.ts";
import { withModeration } from "../../core/jobs/moderated-jobs.ts";
import type { ModerationStep } from "../../core/moderation/moderator.ts";
import { testLimits } from "../support/limits.ts";
import type { APIUser } from "discord.js";
import { createDiscordBot, type DiscordBot } from "../../bots/discord/index.ts";
import { parseCustomId, type ButtonAction } from "../../bots/discord/buttons.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import { createJobService } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore, type JobStore } from "../../core/jobs/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { createLogger } from "../../core/logger.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { startFakeDiscord, type FakeDiscord, type FakeMessage } from "../fakes/discord/fake-discord.ts";

/**
 * More requirements than the sim can draw at once: in 600 probe runs of 5 iterations it never
 * passed them all, so its jobs run every iteration they are given.
 */
export const HARD_PROMPT = 'three green cones left of two yellow cubes and a purple sphere above a red ring, five blue stars, a white cat, with the text "HELLO"';
/** The sim draws this right the first time. */
export const EASY_PROMPT = "a red cube";

export const TEST_LIMITS: JobLimits = testLimits({ maxRunningJobs: 8, generatorConcurrency: 4, mllmConcurrency: 16, maxQueuedPerPerson: 50 });

let skillsPromise: Promise<SkillLibrary> | undefined;
export function skills(): Promise<SkillLibrary> {
  skillsPromise ??= loadSkillLibrary(new URL("../../skills", import.meta.url).pathname);
  return skillsPromise;
}

/** A generator whose calls wait at a gate until the test opens it. */
export interface Gate {
  generator: ImageGenerator;
  /** Resolves once `count` calls in total have reached the gate. */
  arrived(count: number): Promise<void>;
  open(): void;
  /** From now on calls wait again. */
  close(): void;
  /** Lets the calls waiting now through; later ones wait again. */
  releaseWaiting(): void;
  /** Calls that reached the gate so far. */
  readonly calls: number;
}

export function gatedGenerator(inner: ImageGenerator): Gate {
  let isOpen = false;
  let calls = 0;
  const waiting: Array<() => void> = [];
  const arrivals: Array<() => void> = [];
  return {
    get calls() {
      return calls;
    },
    close() {
      isOpen = false;
    },
    arrived: (count) =>
      new Promise<void>((resolve) => {
        const check = () => (calls >= count ? resolve() : arrivals.push(check));
        check();
      }),
    open() {
      isOpen = true;
      for (const release of waiting.splice(0)) release();
    },
    releaseWaiting() {
      for (const release of waiting.splice(0)) release();
    },
    generator: {
      name: inner.name,
      async generate(request) {
        calls++;
        for (const notify of arrivals.splice(0)) notify();
        if (!isOpen) {
          await new Promise<void>((resolve, reject) => {
            const onAbort = () => reject(Object.assign(new Error("aborted at the gate"), { name: "AbortError" }));
            if (request.signal?.aborted) return onAbort();
            request.signal?.addEventListener("abort", onAbort, { once: true });
            waiting.push(() => {
              request.signal?.removeEventListener("abort", onAbort);
              resolve();
            });
          });
        }
        return inner.generate(request);
      },
    },
  };
}

export interface WorldOptions {
  fake?: FakeDiscord;
  store?: JobStore;
  images?: ImageStore;
  generator?: ImageGenerator;
  latencyMs?: number;
  limits?: Partial<JobLimits>;
  /** A usage ledger with these prices, quotas and admins: wired into the service and the bot as bots/server.ts does. */
  usage?: HarnessUsage & { admins?: string[] };
  /** Puts the moderation step between the bot and the job service, as the server does. */
  moderation?: ModerationStep;
  /** Team skills: the library replaces the bundled one for the job service and the bot. */
  team?: { library: TeamSkillLibrary; defaults: SkillDefaultStore; admins: string[] };
  /** A job service made by the test (e.g. a scaled-out one), not started yet; it replaces the world's own. */
  jobs?: JobService;
}

export interface World {
  fake: FakeDiscord;
  jobs: JobService;
  bot: DiscordBot;
  images: ImageStore;
  /** Every log line the bot and the job service wrote (JSON). */
  logs: string[];
  /** Every job event, for tests that wait on the job rather than on Discord. */
  events: JobEvent[];
  /** Called after each job event the observer gets. */
  watchers: Set<() => void>;
  /** Stops the bot and closes the job service; the fake stays up unless it was made here. */
  close(): Promise<void>;
}

// Counted across worlds: two worlds on one fake Discord must not reuse a job id (posts carry
// nonces made from it, which the fake deduplicates as Discord does).
let jobCounter = 0;

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const fake = options.fake ?? (await startFakeDiscord());
  const logs: string[] = [];
  const logger = createLogger("debug", { write: (line: string) => void logs.push(line) });
  const images = options.images ?? createInMemoryImageStore();
  const latencyMs = options.latencyMs ?? 2;
  const library = options.team?.library ?? (await skills());
  const usage = wireUsage(options.usage);
  const { jobs, ledger } = usage.attach(options.jobs ?? createJobService({
    ...usage.deps,
    mllm: createSimMllm({ latencyMs }),
    // No partial drawings unless a test brings its own generator: the REST-call budgets here are for previews off.
    generator: options.generator ?? createSimGenerator({ latencyMs, partialImages: 0 }),
    skills: library,
    images,
    store: options.store ?? createInMemoryJobStore(),
    limits: { ...TEST_LIMITS, ...options.limits },
    logger,
    // The sim's seed comes from the job id: counted ids make every run draw the same images.
    createJobId: () => `job${String(++jobCounter).padStart(4, "0")}`,
  }));
  const events: JobEvent[] = [];
  const watchers = new Set<() => void>();
  jobs.subscribe(
    "observer",
    (event) => {
      events.push(event);
      for (const watcher of [...watchers]) watcher();
    },
    { isAllJobs: true },
  );
  await jobs.start();
  const bot = createDiscordBot({
    jobs: options.moderation ? withModeration(jobs, { step: options.moderation, images, logger }) : jobs,
    ...(options.team ? { team: createTeamSkillsService({ ...options.team, jobs }) } : {}),
    images,
    skills: library,
    config: { token: fake.token, applicationId: fake.applicationId, guildId: fake.guildId, apiUrl: fake.apiUrl },
    logger,
    ...(ledger ? { usage: { ledger, admins: options.usage?.admins ?? [] } } : {}),
  });
  await bot.start();
  return {
    fake,
    jobs,
    bot,
    images,
    logs,
    events,
    watchers,
    async close() {
      await bot.stop();
      await jobs.close();
      if (!options.fake) await fake.close();
    },
  };
}

// ---- reading what Discord shows ----------------------------------------------------------

export function customIdsOf(message: FakeMessage): string[] {
  return message.components.flatMap((row: any) => (row.components ?? []).map((c: any) => String(c.custom_id)));
}

export function actionsOf(message: FakeMessage): ButtonAction[] {
  return customIdsOf(message).flatMap((id) => parseCustomId(id) ?? []);
}

export function hasAction(message: FakeMessage, kind: ButtonAction["kind"]): boolean {
  return actionsOf(message).some((a) => a.kind === kind);
}

export const isIterationMessage = (message: FakeMessage): boolean => /^\*\*Iteration \d+ of \d+\*\*/.test(message.content);
export const iterationNumberOf = (message: FakeMessage): number => Number(/^\*\*Iteration (\d+)/.exec(message.content)?.[1] ?? NaN);
export const isFinalMessage = (message: FakeMessage): boolean => hasAction(message, "more");
export const isStatusMessage = (message: FakeMessage): boolean => message.content.startsWith("**Status:**");

export function iterationMessages(fake: FakeDiscord, threadId: string): FakeMessage[] {
  return fake.messagesIn(threadId).filter(isIterationMessage);
}

export function finalMessages(fake: FakeDiscord, threadId: string): FakeMessage[] {
  return fake.messagesIn(threadId).filter(isFinalMessage);
}

export function statusMessage(fake: FakeDiscord, threadId: string): FakeMessage | undefined {
  return fake.messagesIn(threadId).find(isStatusMessage);
}

/** Waits until the thread has `count` final messages and returns the last. */
export function waitForFinal(fake: FakeDiscord, threadId: string, count = 1): Promise<FakeMessage> {
  return fake.waitFor(() => finalMessages(fake, threadId)[count - 1], `final message #${count} in thread ${threadId}`);
}

// ---- acting as people ---------------------------------------------------------------------

export interface CreatedJob {
  jobId: string;
  threadId: string;
  answer: string;
}

/** Runs /gems create and returns the job and its thread, from the private answer. */
export async function createJob(world: World, user: APIUser, options: { prompt: string; skill?: string; iterations?: number }): Promise<CreatedJob> {
  const interaction = world.fake.command(user, "create", {
    prompt: options.prompt,
    ...(options.skill !== undefined ? { skill: options.skill } : {}),
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
  });
  const answer = await world.fake.answer(interaction);
  const jobId = /Job `([^`]+)`/.exec(answer.content)?.[1];
  const threadId = /<#(\d+)>/.exec(answer.content)?.[1];
  if (!jobId || !threadId) throw new Error(`unexpected answer to /gems create: ${answer.content}`);
  return { jobId, threadId, answer: answer.content };
}

/** Waits for a job event the observer saw. */
export function waitForEvent(world: World, match: (event: JobEvent) => boolean, what: string, timeoutMs = 15_000): Promise<JobEvent> {
  const seen = world.events.find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const watcher = () => {
      const event = world.events.find(match);
      if (!event) return;
      cleanup();
      resolve(event);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      world.watchers.delete(watcher);
    };
    world.watchers.add(watcher);
  });
}
