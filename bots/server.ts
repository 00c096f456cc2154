/**
 * What `gems serve` runs: one job service over the data directory, the web studio, and each
 * chat bot whose credentials are configured. Surfaces are started around the job service in the
 * order its contract asks for, and stopped so that no step is lost.
 */
import type { ModelServerStats } from "./web/studio-metrics.ts";
import { join } from "node:path";
import type { Runtime } from "./runtime.ts";
import { createJobService } from "../core/jobs/job-service.ts";
import { openSqliteJobStore } from "../core/jobs/job-store.ts";
import { jobLimitsFromConfig } from "../core/jobs/limits.ts";
import type { JobService, StartReport } from "../core/jobs/types.ts";
import { createDiskImageStore } from "../core/memory/image-store.ts";
import { createWebStudio } from "./web/index.ts";
import { createSlackBot } from "./slack/index.ts";
import { createDiscordBot } from "./discord/index.ts";
import { createStartupGate } from "./startup-gate.ts";

/** A chat platform or the studio, as the server drives it. */
interface Surface {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RunningServer {
  jobs: JobService;
  report: StartReport;
  webUrl: string;
  /** Names of the chat platforms that connected. */
  chatSurfaces: string[];
  /** Stops taking work, lets running steps finish and commit, then closes everything. */
  stop(): Promise<void>;
}

const DRAIN_TIMEOUT_MS = 60_000;

/** The pools' per-server numbers; empty when neither model runs as a pool. */
function modelServerStats(runtime: Runtime): ModelServerStats[] {
  const of = (model: "mllm" | "generator", port: object) =>
    "stats" in port && typeof port.stats === "function"
      ? (port.stats as () => Array<Omit<ModelServerStats, "model">>)().map((stats) => ({ ...stats, model }))
      : [];
  return [...of("mllm", runtime.mllm), ...of("generator", runtime.generator)];
}

export async function startServer(runtime: Runtime, modelsDescription: string): Promise<RunningServer> {
  const { config, logger } = runtime;
  const images = createDiskImageStore(join(config.dataDir, "images"));
  const jobs = createJobService({
    mllm: runtime.mllm,
    generator: runtime.generator,
    skills: runtime.skills,
    images,
    store: await openSqliteJobStore(config.dataDir),
    limits: jobLimitsFromConfig(config),
    modes: config.modes,
    ...(runtime.modelNames ? { modelNames: runtime.modelNames } : {}),
    logger: logger.child({ component: "jobs" }),
  });
  // The bots connect before the service has started (see below); until it has, their commands wait at this gate.
  const gate = createStartupGate(jobs, {
    onHold: (command) => logger.info({ command }, "a command arrived during start-up; it waits for the job service"),
  });
  const chatSurfaces: Surface[] = [];
  if (config.discord) {
    const bot = createDiscordBot({ jobs: gate.jobs, images, skills: runtime.skills, config: config.discord, logger: logger.child({ surface: "discord" }) });
    chatSurfaces.push({ name: "Discord", start: () => bot.start(), stop: () => bot.stop() });
  }
  if (config.slack) {
    const bot = createSlackBot({ jobs: gate.jobs, images, skills: runtime.skills, config: config.slack, logger: logger.child({ surface: "slack" }) });
    chatSurfaces.push({ name: "Slack", start: () => bot.start(), stop: () => bot.stop() });
  }
  const stopSurfaces = async (surfaces: readonly Surface[]): Promise<void> => {
    for (const surface of surfaces) {
      await surface.stop().catch((error: unknown) => logger.error({ err: error, surface: surface.name }, "surface did not stop cleanly"));
    }
  };

  // Chat bots subscribe before the service starts, so events they never received come back.
  const started: Surface[] = [];
  try {
    for (const surface of chatSurfaces) {
      await surface.start();
      started.push(surface);
    }
  } catch (error) {
    await stopSurfaces(started);
    await jobs.close();
    throw error;
  }
  let report: StartReport;
  try {
    report = await jobs.start();
  } catch (error) {
    await stopSurfaces(started);
    await jobs.close();
    throw error;
  }
  gate.open();
  if (report.corrupt.length > 0) {
    logger.warn({ corrupt: report.corrupt }, `${report.corrupt.length} stored job(s) could not be read and were skipped`);
  }

  const studio = createWebStudio({
    jobs,
    images,
    skills: runtime.skills,
    config: config.web,
    admins: config.jobs.admins,
    logger: logger.child({ surface: "web" }),
    modelsDescription,
    modelServers: () => modelServerStats(runtime),
  });
  let webUrl: string;
  try {
    ({ url: webUrl } = await studio.start());
  } catch (error) {
    await stopSurfaces(chatSurfaces);
    await jobs.close();
    throw error;
  }

  return {
    jobs,
    report,
    webUrl,
    chatSurfaces: chatSurfaces.map((s) => s.name),
    async stop() {
      await studio.stop();
      // Drain first: events of the steps that finish while draining still reach the chat bots.
      await jobs.drain({ timeoutMs: DRAIN_TIMEOUT_MS });
      await stopSurfaces(chatSurfaces);
      await jobs.close();
    },
  };
}
