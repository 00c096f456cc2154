/** Everything the job service enforces; built from config by jobLimitsFromConfig. */
export interface JobLimits {
  maxRunningJobs: number;
  generatorConcurrency: number;
  mllmConcurrency: number;
  maxQueuedPerPerson: number;
  /** 0 turns the rate limit off. */
  rateLimitPerHour: number;
  admins: readonly string[];
  feedbackRequesterOnly: boolean;
  retentionDays: number;
  outageBudgetMs: number;
  /** Iterations of a job that does not say. */
  defaultIterations: number;
  /** Verifier questions one job may have in flight (within the shared MLLM limit). */
  verifyConcurrency: number;
  /** At most one preview per iteration per this many ms; 0 turns previews off; default 2.5 s. */
  previewIntervalMs?: number;
  /** What a job's result is at its end: the image that passed most (default) or the most voted one. */
  resultBy?: "passes" | "votes";
}

/** The parts of the app config the limits come from (core does not import config/; Config fits). */
export interface JobLimitSettings {
  jobs: Omit<JobLimits, "defaultIterations" | "verifyConcurrency">;
  maxIterations: number;
  verifyConcurrency: number;
}

/** The service's limits as configured. */
export function jobLimitsFromConfig(config: Readonly<JobLimitSettings>): JobLimits {
  return { ...config.jobs, defaultIterations: config.maxIterations, verifyConcurrency: config.verifyConcurrency };
}

/** Most iterations per call to continue(); the same bound as a new request. */
export const MAX_EXTRA_ITERATIONS = 10;

/**
 * Most iterations one job may ever reach through continue(). Every iteration adds to the
 * record rewritten on each commit, so a job cannot grow without bound.
 */
export const MAX_TOTAL_ITERATIONS = 30;
