/**
 * What `gems serve` runs: one job service over the data directory, the web studio, and each
 * chat bot whose credentials are configured. Surfaces are started around the job service in the
 * order its contract asks for, and stopped so that no step is lost.
 */
import { join } from "node:path";
import type { Runtime } from "./runtime.ts";
import { createJobService } from "../core/jobs/job-service.ts";
import { openSqliteJobStore } from "../core/jobs/job-store.ts";
import { jobLimitsFromConfig } from "../core/jobs/limits.ts";
import type { JobService, StartReport } from "../core/jobs/types.ts";
import { createDiskImageStore } from "../core/memory/image-store.ts";
import { createWebStudio } from "./web/index.ts";

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
    logger: logger.child({ component: "jobs" }),
  });
  const chatSurfaces: Surface[] = [];
  const report = await jobs.start();
  if (report.corrupt.length > 0) {
    logger.warn({ corrupt: report.corrupt }, `${report.corrupt.length} stored job(s) could not be read and were skipped`);
  }

  const studio = createWebStudio({
    jobs,
    images,
    skills: runtime.skills,
    config: config.web,
    logger: logger.child({ surface: "web" }),
    modelsDescription,
  });
  let webUrl: string;
  try {
    ({ url: webUrl } = await studio.start());
  } catch (error) {
    await jobs.close();
    throw error;
  }

  for (const surface of chatSurfaces) await surface.start();

  return {
    jobs,
    report,
    webUrl,
    chatSurfaces: chatSurfaces.map((s) => s.name),
    async stop() {
      for (const surface of chatSurfaces) {
        await surface.stop().catch((error: unknown) => logger.error({ err: error, surface: surface.name }, "surface did not stop cleanly"));
      }
      await studio.stop();
      await jobs.drain({ timeoutMs: DRAIN_TIMEOUT_MS });
      await jobs.close();
    },
  };
}
