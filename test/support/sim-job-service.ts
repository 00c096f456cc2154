/**
 * A job service on the sim models and in-memory stores, for tests that wire a bot to it by hand
 * (start-up, connection modes) instead of through their surface's harness.
 */
import type { Logger } from "pino";
import { createJobService } from "../../core/jobs/job-service.ts";
import { createInMemoryJobStore } from "../../core/jobs/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { silentLogger } from "../../core/logger.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

export interface SimJobServiceSetup {
  skills: SkillLibrary;
  limits: JobLimits;
  /** Pass the bot's image store when the bot must see the images the jobs store. */
  images?: ImageStore;
  logger?: Logger;
  /** Sim latency per model call; none by default. */
  latencyMs?: number;
}

export function createSimJobService(setup: SimJobServiceSetup): JobService {
  const latencyMs = setup.latencyMs ?? 0;
  return createJobService({
    mllm: createSimMllm({ latencyMs }),
    generator: createSimGenerator({ latencyMs }),
    skills: setup.skills,
    images: setup.images ?? createInMemoryImageStore(),
    store: createInMemoryJobStore(),
    logger: setup.logger ?? silentLogger,
    limits: setup.limits,
  });
}
