/**
 * Builds job services for tests: real stores (in-memory Keyv or SQLite in a temp dir), the sim
 * or wire-fake models, a surface that records what it is given, and small port wrappers that
 * count or hold model calls. Nothing here replaces code of the service under test.
 */
import { expect } from "vitest";
import { onCleanup } from "../support/cleanup.ts";
import { testLimits } from "../support/limits.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobEvent } from "../../core/agent/events.ts";
import { createJobService, type JobServiceDeps } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore, openSqliteJobStore, type JobStore } from "../../core/jobs/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import type { JobService, Person, StartReport, SubmitResult, SurfaceRef } from "../../core/jobs/types.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator, Mllm } from "../../core/models/ports.ts";
import type { Sleep } from "../../core/models/retry.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { createSimGenerator as createSimGeneratorWithPartials, type SimGeneratorOptions } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

export const alice: Person = { id: "discord:1", name: "Alice" };
export const bob: Person = { id: "discord:2", name: "Bob" };
export const carol: Person = { id: "slack:U3", name: "Carol" };
export const admin: Person = { id: "discord:99", name: "Ada" };
export const thread: SurfaceRef = { surface: "test", channelId: "c1", threadId: "t1" };

/** A prompt the sim cannot satisfy at once, so its jobs run several iterations. */
export const HARD_PROMPT = 'three green cones left of two yellow cubes and a purple sphere above a red ring with the text "HELLO"';

export const TEST_LIMITS: JobLimits = testLimits({ admins: [admin.id] });

export { onCleanup };

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gems-jobs-"));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

let skillsPromise: Promise<SkillLibrary> | undefined;
export function skills(): Promise<SkillLibrary> {
  skillsPromise ??= loadSkillLibrary(join(import.meta.dirname, "../../skills"));
  return skillsPromise;
}

export async function sqliteStore(dataDir: string): Promise<JobStore> {
  return openSqliteJobStore(dataDir);
}

export interface ServiceSetup extends Partial<Omit<JobServiceDeps, "limits">> {
  limits?: Partial<JobLimits>;
  /** Leave the service open after the test (the test closes it itself). */
  isManual?: boolean;
}

/**
 * Job ids seed the sim generator, so counted ids make every run of a test draw the same images.
 * Ids keep counting across services, so that one test's restarted service never reuses an id.
 */
let nextJobNumber = 0;
const countedJobId = (): string => `job-${String(++nextJobNumber).padStart(4, "0")}`;

/** A service on the sim models and an in-memory store unless told otherwise; closed after the test. */
export async function makeService(setup: ServiceSetup = {}): Promise<JobService> {
  const { limits, isManual, ...rest } = setup;
  const service = createJobService({
    createJobId: countedJobId,
    mllm: createSimMllm(),
    generator: createSimGenerator(),
    skills: await skills(),
    images: createInMemoryImageStore(),
    store: createInMemoryJobStore(),
    logger: silentLogger,
    ...rest,
    limits: { ...TEST_LIMITS, ...limits },
  });
  if (!isManual) onCleanup(() => service.close());
  return service;
}

/** A surface that records every event it is handed and lets a test wait for one. */
export interface RecordingSurface {
  events: JobEvent[];
  of(jobId: string): JobEvent[];
  /** Resolves with the first recorded event (past or future) that matches. */
  waitFor(match: (event: JobEvent) => boolean): Promise<JobEvent>;
  /** Resolves once `jobId` has a job.done, job.failed or job.cancelled event. */
  finished(jobId: string): Promise<JobEvent>;
}

export const isTerminal = (event: JobEvent): boolean =>
  event.type === "job.done" || event.type === "job.failed" || event.type === "job.cancelled";

export function recordSurface(
  service: JobService,
  name = "test",
  options: { isAllJobs?: boolean; before?: (event: JobEvent) => void | Promise<void> } = {},
): RecordingSurface {
  const events: JobEvent[] = [];
  const waiters: Array<{ match: (event: JobEvent) => boolean; resolve: (event: JobEvent) => void }> = [];
  service.subscribe(
    name,
    async (event) => {
      await options.before?.(event);
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    },
    { isAllJobs: options.isAllJobs ?? false },
  );
  const waitFor = (match: (event: JobEvent) => boolean): Promise<JobEvent> => {
    const seen = events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.push({ match, resolve }));
  };
  return {
    events,
    of: (jobId) => events.filter((e) => e.jobId === jobId),
    waitFor,
    finished: (jobId) => waitFor((e) => e.jobId === jobId && isTerminal(e)),
  };
}

export function submitted(result: SubmitResult): string {
  if (!result.ok) throw new Error(`expected the job to be accepted: ${result.message}`);
  return result.jobId;
}

export interface KilledAndResumed {
  /** Alice's job, which got Bob's feedback after its first verdict; and Bob's job. */
  jobA: string;
  jobB: string;
  /** What a surface saw from the killed service, and from the one that resumed. */
  before: RecordingSurface;
  after: RecordingSurface;
  resumed: JobService;
  report: StartReport;
}

/**
 * The crash every durable store must survive: two jobs running, feedback given to one after its
 * first verdict, then the service dropped without drain() as by kill -9, and a new service on the
 * same storage started; resolves once both jobs have ended there. `openService` opens a service
 * on the storage under test (called twice).
 */
export async function killMidRunAndResume(openService: (setup?: ServiceSetup) => Promise<JobService>): Promise<KilledAndResumed> {
  const first = await openService({ mllm: createSimMllm({ latencyMs: 2 }), generator: createSimGenerator({ latencyMs: 5 }), isManual: true });
  const before = recordSurface(first);
  await first.start();
  const jobA = submitted(await first.submit({ prompt: HARD_PROMPT, skill: "none", iterations: 3 }, alice, thread));
  const jobB = submitted(await first.submit({ prompt: `${HARD_PROMPT} and a cat`, skill: "none", iterations: 3 }, bob, thread));
  await before.waitFor((e) => e.jobId === jobA && e.type === "verified" && e.n === 1);
  expect((await first.addFeedback(jobA, bob, "make the ring much bigger")).ok).toBe(true);
  // Dropped without drain(): nothing more is written, as after kill -9.
  await first.close();

  const resumed = await openService();
  const after = recordSurface(resumed);
  const report = await resumed.start();
  await Promise.all([after.finished(jobA), after.finished(jobB)]);
  return { jobA, jobB, before, after, resumed, report };
}

/** Counts calls in flight through a port, and the most there ever were. */
export interface CallCounter {
  inFlight: number;
  peak: number;
  total: number;
}

export function countingMllm(mllm: Mllm): { mllm: Mllm; counter: CallCounter } {
  const counter: CallCounter = { inFlight: 0, peak: 0, total: 0 };
  return {
    counter,
    mllm: {
      name: mllm.name,
      async chat(request) {
        counter.inFlight++;
        counter.total++;
        counter.peak = Math.max(counter.peak, counter.inFlight);
        try {
          return await mllm.chat(request);
        } finally {
          counter.inFlight--;
        }
      },
    },
  };
}

export function countingGenerator(generator: ImageGenerator): { generator: ImageGenerator; counter: CallCounter } {
  const counter: CallCounter = { inFlight: 0, peak: 0, total: 0 };
  return {
    counter,
    generator: {
      name: generator.name,
      async generate(request) {
        counter.inFlight++;
        counter.total++;
        counter.peak = Math.max(counter.peak, counter.inFlight);
        try {
          return await generator.generate(request);
        } finally {
          counter.inFlight--;
        }
      },
    },
  };
}

/**
 * A generator whose calls wait until the test lets them through, so a job can be held at a
 * known step. `held` resolves when a call is waiting; calls honour their abort signal.
 */
export function gatedGenerator(generator: ImageGenerator) {
  let isOpen = false;
  const waiting: Array<() => void> = [];
  const arrivals: Array<() => void> = [];
  let calls = 0;
  const gate = {
    get calls() {
      return calls;
    },
    /** Resolves when `count` calls in total have arrived at the gate. */
    arrived(count: number): Promise<void> {
      if (calls >= count) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const check = () => (calls >= count ? resolve() : arrivals.push(check));
        arrivals.push(check);
      });
    },
    open(): void {
      isOpen = true;
      for (const release of waiting.splice(0)) release();
    },
    /** Lets the calls waiting now through, and keeps later ones waiting. */
    releaseWaiting(): void {
      for (const release of waiting.splice(0)) release();
    },
    generator: {
      name: generator.name,
      async generate(request) {
        calls++;
        for (const notify of arrivals.splice(0)) notify();
        if (!isOpen) {
          await new Promise<void>((resolve, reject) => {
            const onAbort = () => {
              const error = new Error("aborted while held at the gate");
              error.name = "AbortError";
              reject(error);
            };
            if (request.signal?.aborted) return onAbort();
            request.signal?.addEventListener("abort", onAbort, { once: true });
            waiting.push(() => {
              request.signal?.removeEventListener("abort", onAbort);
              resolve();
            });
          });
        }
        return generator.generate(request);
      },
    } satisfies ImageGenerator,
  };
  return gate;
}

/** A clock that only moves when the service sleeps (outage backoff, delivery retries) or the test says. */
export function fakeClock(start = Date.parse("2030-01-01T00:00:00Z")) {
  const clock = {
    ms: start,
    sleeps: [] as number[],
    now: () => new Date(clock.ms),
    advance(ms: number) {
      clock.ms += ms;
    },
    sleep: (async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw abortError();
      clock.sleeps.push(ms);
      clock.ms += ms;
      // A real turn of the event loop, so a service that sleeps in a loop cannot starve the test.
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw abortError();
    }) satisfies Sleep,
  };
  return clock;
}

function abortError(): Error {
  const error = new Error("sleep aborted");
  error.name = "AbortError";
  return error;
}

/**
 * The sim generator as these tests use it: without partial drawings unless a test asks, so the
 * timing and call-count checks here measure the service, not the previews' extra work.
 */
const createSimGenerator = (options: SimGeneratorOptions = {}) => createSimGeneratorWithPartials({ partialImages: 0, ...options });

export { createSimGenerator, createSimMllm };
