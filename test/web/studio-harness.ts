/**
 * A web studio on a real job service (sim models, in-memory stores) at 127.0.0.1:0, plus the
 * small HTTP and SSE clients the web tests read it with.
 */
import { wireUsage, type HarnessUsage } from "../support/usage.ts";
import { createTeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { TeamSkillLibrary } from "../../core/skills/team-skills.ts";
import type { SkillDefaultStore } from "../../core/skills/file-skill-store.ts";
import { withModeration } from "../../core/jobs/moderated-jobs.ts";
import type { ModerationStep } from "../../core/moderation/moderator.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import type { ModelServerStats } from "../../bots/web/studio-metrics.ts";
import { testLimits } from "../support/limits.ts";
import { join } from "node:path";
import { createJobService } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore } from "../../core/jobs/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import { silentLogger } from "../../core/logger.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { createWebStudio, type WebStudio } from "../../bots/web/index.ts";
import type { WebAuthConfig } from "../../bots/web/sign-in.ts";
import type { Logger } from "pino";

export const STUDIO_LIMITS: JobLimits = testLimits({ generatorConcurrency: 4, mllmConcurrency: 16, verifyConcurrency: 8 });

/** The sim cannot satisfy this at once, so its jobs run several iterations. */
export const HARD_PROMPT = 'three green cones left of two yellow cubes and a purple sphere above a red ring with the text "HELLO"';

export interface StudioHarness {
  url: string;
  jobs: JobService;
  images: ImageStore;
  studio: WebStudio;
  /** Resolves with the first delivered event (past or future) that matches. */
  waitForEvent(match: (event: JobEvent) => boolean, timeoutMs?: number): Promise<JobEvent>;
  finished(jobId: string): Promise<JobEvent>;
  close(): Promise<void>;
}

/** Counts across services, so a restarted service in the same file never reuses an id. */
let jobCounter = 0;

export async function startStudio(
  options: {
    latencyMs?: number;
    generator?: ImageGenerator;
    modelServers?: () => ModelServerStats[];
    generatorLatencyMs?: number;
    previewIntervalMs?: number;
    /** Studio sign-in; none (on 127.0.0.1) unless given. */
    auth?: WebAuthConfig;
    /** GEMS_ADMINS, for the job service and the studio alike. */
    admins?: string[];
    logger?: Logger;
    /** The studio's clock (session expiry). */
    now?: () => number;
    /** A usage ledger with these prices and quotas, wired as bots/server.ts does. */
    usage?: HarnessUsage;
    /** Puts the moderation step between the studio and the job service, as the server does. */
    moderation?: ModerationStep;
    /** Team skills: the library replaces the bundled one for the job service and the studio. */
    team?: { library: TeamSkillLibrary; defaults: SkillDefaultStore };
  } = {},
): Promise<StudioHarness> {
  const latencyMs = options.latencyMs ?? 0;
  const images = createInMemoryImageStore();
  const skills = options.team?.library ?? (await loadSkillLibrary(join(import.meta.dirname, "../../skills")));
  const usage = wireUsage(options.usage);
  const { jobs, ledger } = usage.attach(createJobService({
    ...usage.deps,
    // Job ids seed the sim generator: counted ids make every run draw the same images.
    createJobId: () => `job-${String(++jobCounter).padStart(4, "0")}`,
    mllm: createSimMllm({ latencyMs }),
    // Partial drawings (live previews) only when a test sets the generator's own latency.
    generator:
      options.generator ??
      createSimGenerator({ latencyMs: options.generatorLatencyMs ?? latencyMs, width: 256, height: 256, ...(options.generatorLatencyMs === undefined ? { partialImages: 0 } : {}) }),
    skills,
    images,
    store: createInMemoryJobStore(),
    limits: {
      ...STUDIO_LIMITS,
      ...(options.previewIntervalMs === undefined ? {} : { previewIntervalMs: options.previewIntervalMs }),
      ...(options.admins ? { admins: options.admins } : {}),
    },
    logger: silentLogger,
  }));
  await jobs.start();
  const seen: JobEvent[] = [];
  const waiters = new Set<{ match: (event: JobEvent) => boolean; resolve: (event: JobEvent) => void }>();
  jobs.subscribe(
    "test-watch",
    (event) => {
      seen.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
    },
    { isAllJobs: true },
  );
  function waitForEvent(match: (event: JobEvent) => boolean, timeoutMs = 15_000): Promise<JobEvent> {
    const past = seen.find(match);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (event: JobEvent) => {
          clearTimeout(timer);
          resolve(event);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error("timed out waiting for a job event"));
      }, timeoutMs);
      waiters.add(waiter);
    });
  }
  const studio = createWebStudio({
    jobs: options.moderation ? withModeration(jobs, { step: options.moderation, images, logger: silentLogger }) : jobs,
    ...(options.team ? { team: createTeamSkillsService({ ...options.team, admins: options.admins ?? [], jobs }) } : {}),
    images,
    skills,
    config: { port: 0, host: "127.0.0.1", ...(options.auth ? { auth: options.auth } : {}) },
    ...(options.admins ? { admins: options.admins } : {}),
    ...(options.now ? { now: options.now } : {}),
    logger: options.logger ?? silentLogger,
    modelsDescription: "simulated MLLM and generator",
    modelServers: options.modelServers,
    ...(ledger ? { usage: { ledger, admins: options.admins ?? [] } } : {}),
  });
  const { url } = await studio.start();
  return {
    url: url.replace(/\/$/, ""),
    jobs,
    images,
    studio,
    waitForEvent,
    finished: (jobId) => waitForEvent((event) => event.jobId === jobId && isTerminal(event)),
    async close() {
      await studio.stop();
      await jobs.close();
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  body: any;
}

export async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": "application/json", ...headers };
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  const isJson = response.headers.get("content-type")?.startsWith("application/json") ?? false;
  return { status: response.status, headers: response.headers, body: isJson ? JSON.parse(text) : text };
}

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Reads a server-sent event stream until `isEnough` says so (or the timeout passes), then
 * disconnects. Parses the wire format itself so the test sees exactly what a browser would.
 */
export async function readSse(
  url: string,
  isEnough: (messages: SseMessage[]) => boolean,
  options: { headers?: Record<string, string>; timeoutMs?: number; onOpen?: () => void | Promise<void> } = {},
): Promise<{ status: number; contentType: string | null; messages: SseMessage[] }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
  const messages: SseMessage[] = [];
  try {
    const response = await fetch(url, { headers: options.headers ?? {}, signal: controller.signal });
    const contentType = response.headers.get("content-type");
    if (!response.body || !contentType?.startsWith("text/event-stream")) {
      return { status: response.status, contentType, messages };
    }
    await options.onOpen?.();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message: SseMessage = { id: null, event: "message", data: "" };
          let hasData = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "id") message.id = value;
            if (field === "event") message.event = value;
            if (field === "data") {
              message.data += (hasData ? "\n" : "") + value;
              hasData = true;
            }
          }
          if (hasData) messages.push(message);
        }
        if (isEnough(messages)) break;
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
    return { status: response.status, contentType, messages };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

export const eventsOf = (messages: SseMessage[]): JobEvent[] =>
  messages.filter((m) => m.event === "message").map((m) => JSON.parse(m.data) as JobEvent);

export const isTerminal = (event: JobEvent): boolean =>
  event.type === "job.done" || event.type === "job.failed" || event.type === "job.cancelled";

/** Waits for an event the service delivered (the harness subscribes to every job's events). */
export function waitForEvent(harness: StudioHarness, match: (event: JobEvent) => boolean, timeoutMs = 15_000): Promise<JobEvent> {
  return harness.waitForEvent(match, timeoutMs);
}
