/**
 * What `gems serve` runs. Unscaled (no GEMS_DATABASE_URL/GEMS_REDIS_URL): one job service over
 * the data directory, the web studio, and each chat bot whose credentials are configured.
 * Scaled out, by role: `surfaces` runs the bots and the studio over the shared stores, `worker`
 * runs jobs (with a small /healthz and /metrics listener), `all` both. Surfaces are started
 * around the job service in the order its contract asks for, and stopped so no step is lost.
 */
import type { ModelServerStats } from "./web/studio-metrics.ts";
import { join } from "node:path";
import type { Runtime } from "./runtime.ts";
import { GemsError, describeError } from "../core/errors.ts";
import { createDistributedBackend, createLocalBackend } from "../core/jobs/backend.ts";
import { createDistributedJobService, type ServiceRole } from "../core/jobs/distributed/distributed-job-service.ts";
import { createJobService } from "../core/jobs/job-service.ts";
import { withModeration } from "../core/jobs/moderated-jobs.ts";
import { withSkillDefaults } from "../core/jobs/skill-defaults.ts";
import { createTeamSkillsService } from "../core/jobs/team-skills-service.ts";
import { openSqliteJobStore } from "../core/jobs/job-store.ts";
import { jobLimitsFromConfig } from "../core/jobs/limits.ts";
import { createPostgresJobStore } from "../core/jobs/postgres/job-store.ts";
import type { JobService, StartReport } from "../core/jobs/types.ts";
import { createUsageLedger, type UsageAccess } from "../core/jobs/usage-ledger.ts";
import { createServiceQuota } from "../core/jobs/service-quota.ts";
import { createDiskImageStore } from "../core/memory/image-store.ts";
import type { Database } from "../core/memory/postgres/database.ts";
import { createPostgresImageStore } from "../core/memory/postgres/image-store.ts";
import type { ImageStore } from "../core/memory/stores.ts";
import { instanceName } from "./scale-out-connections.ts";
import { startWorkerHealth, type WorkerHealth } from "./worker-health.ts";
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

export const SERVE_ROLES = ["all", "surfaces", "worker"] as const;

export interface RunningServer {
  jobs: JobService;
  report: StartReport;
  role: ServiceRole;
  /** Null for the worker role, which has no studio. */
  webUrl: string | null;
  /** The worker's /healthz and /metrics listener; null for the other roles. */
  healthUrl: string | null;
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

interface JobsSetup {
  jobs: JobService;
  images: ImageStore;
  processLabels?: { role: string; instance: string };
  /** The usage ledger over `jobs` (its quotas are the service's), for `/gems usage` and the studio. */
  usage: UsageAccess;
}

/** The one place the two shapes are chosen: SQLite in this process, or the shared stores. */
async function createJobs(runtime: Runtime, role: ServiceRole): Promise<JobsSetup> {
  const { config, logger } = runtime;
  const scaleOut = config.scaleOut;
  const models = runtime.modelNames ?? { mllm: runtime.mllm.name, generator: runtime.generator.name };
  const { prices, quotas } = config.usage;
  // Scaled out (`db`), quotas count the day's jobs in PostgreSQL, whichever process ran them;
  // otherwise an index of this process's jobs by UTC day, fed by the service `bind` returns.
  const quota = createServiceQuota({ quotas, prices, models });
  const usageDeps = { prices, quota: quota.check };
  const withLedger = (setup: Omit<JobsSetup, "usage">, db?: Database): JobsSetup => {
    const ledger = createUsageLedger({ jobs: setup.jobs, models, prices, quotas });
    return { ...setup, jobs: quota.bind(setup.jobs, db), usage: { ledger, admins: config.jobs.admins } };
  };
  if (!scaleOut) {
    if (role !== "all") {
      throw new GemsError(`--role ${role} needs the shared stores: set GEMS_DATABASE_URL and GEMS_REDIS_URL (README.md, Scaling out).`, "config");
    }
    const images = createDiskImageStore(join(config.dataDir, "images"));
    const limits = jobLimitsFromConfig(config);
    const jobs = createJobService({
      mllm: runtime.mllm,
      generator: runtime.generator,
      skills: runtime.skills,
      images,
      backend: createLocalBackend(limits, await openSqliteJobStore(config.dataDir)),
      limits,
      modes: config.modes,
      ...(runtime.modelNames ? { modelNames: runtime.modelNames } : {}),
      logger: logger.child({ component: "jobs" }),
      ...usageDeps,
    });
    return withLedger({ jobs, images });
  }
  if (!runtime.shared) {
    throw new Error("Scaled out, the server runs on the runtime's shared connections: create it with createRuntime(config, logger, { isServing: true }).");
  }
  // Team skills use these too; the runtime closes them once the service has closed (its close leaves them open).
  const { db, redis } = runtime.shared;
  const instance = instanceName(scaleOut);
  const images = createPostgresImageStore(db, { cacheBytes: scaleOut.imageCacheBytes });
  const limits = jobLimitsFromConfig(config);
  const jobs = createDistributedJobService({
    role,
    instance,
    mllm: runtime.mllm,
    generator: runtime.generator,
    skills: runtime.skills,
    images,
    backend: await createDistributedBackend({
      limits,
      store: createPostgresJobStore(db, { isShared: true, ownsDatabase: false }),
      redis,
      ownsRedis: false,
      logger: logger.child({ component: "jobs" }),
    }),
    limits,
    modes: config.modes,
    ...(runtime.modelNames ? { modelNames: runtime.modelNames } : {}),
    logger: logger.child({ component: "jobs" }),
    lockMs: scaleOut.jobLockMs,
    ...usageDeps,
  });
  return withLedger({ jobs, images, processLabels: { role, instance } }, db);
}

export async function startServer(runtime: Runtime, modelsDescription: string, options: { role?: ServiceRole } = {}): Promise<RunningServer> {
  const { config, logger } = runtime;
  const role = options.role ?? "all";
  const { jobs: service, images, processLabels, usage } = await createJobs(runtime, role);
  if (role === "worker") return startWorker(runtime, service, processLabels);
  // Every surface submits through the moderation step; nothing refused reaches the service.
  // A person's default skill is filled in first; the moderation step then sees the request as it will run.
  const withDefaults = runtime.team ? withSkillDefaults(service, { defaults: runtime.team.defaults, skills: runtime.skills, logger: logger.child({ component: "skills" }) }) : service;
  const jobs = runtime.moderation ? withModeration(withDefaults, { step: runtime.moderation, images, logger: logger.child({ component: "moderation" }) }) : withDefaults;
  const team = runtime.team ? createTeamSkillsService({ ...runtime.team, admins: config.jobs.admins, jobs: service }) : undefined;
  // The bots connect before the service has started (see below); until it has, their commands wait at this gate.
  const gate = createStartupGate(jobs, {
    onHold: (command) => logger.info({ command }, "a command arrived during start-up; it waits for the job service"),
  });
  const chatSurfaces: Surface[] = [];
  if (config.discord) {
    const bot = createDiscordBot({ jobs: gate.jobs, images, skills: runtime.skills, config: config.discord, logger: logger.child({ surface: "discord" }), usage, ...(team ? { team } : {}) });
    chatSurfaces.push({ name: "Discord", start: () => bot.start(), stop: () => bot.stop() });
  }
  if (config.slack) {
    const bot = createSlackBot({ jobs: gate.jobs, images, skills: runtime.skills, config: config.slack, logger: logger.child({ surface: "slack" }), usage, ...(team ? { team } : {}) });
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
    ...(team ? { team } : {}),
    logger: logger.child({ surface: "web" }),
    modelsDescription,
    modelServers: () => modelServerStats(runtime),
    usage,
    ...(processLabels ? { processLabels } : {}),
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
    role,
    webUrl,
    healthUrl: null,
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

/** The worker role: runs jobs from the queue; its only HTTP is /healthz and /metrics. */
async function startWorker(runtime: Runtime, jobs: JobService, processLabels: { role: string; instance: string } | undefined): Promise<RunningServer> {
  const { config } = runtime;
  const report = await jobs.start();
  let health: WorkerHealth;
  try {
    health = await startWorkerHealth(jobs, {
      host: config.web.host,
      port: config.scaleOut?.workerPort ?? 0,
      role: processLabels?.role ?? "worker",
      instance: processLabels?.instance ?? "worker",
    });
  } catch (error) {
    await jobs.close();
    throw new GemsError(
      `The worker's health listener could not start on port ${config.scaleOut?.workerPort}: ${describeError(error)}. Set GEMS_WORKER_PORT to a free port (0 picks one).`,
      "config",
      { cause: error },
    );
  }
  return {
    jobs,
    report,
    role: "worker",
    webUrl: null,
    healthUrl: health.url,
    chatSurfaces: [],
    async stop() {
      // Drain hands unfinished jobs back to the queue at their next step boundary.
      await jobs.drain({ timeoutMs: DRAIN_TIMEOUT_MS });
      await health.stop();
      await jobs.close();
    },
  };
}
