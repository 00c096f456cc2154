/** The job service's limits and rules: how the models are shared among people and jobs. */
import { choice, flag, integer, personIds, type Env, type EnvOf } from "./env-fields.ts";
import type { GeneratorConfig } from "./models.ts";

export const JOBS_EXAMPLES: Record<string, string> = {
  GEMS_MAX_RUNNING_JOBS: "8",
  GEMS_GENERATOR_CONCURRENCY: "2",
  GEMS_MLLM_CONCURRENCY: "16",
  GEMS_MAX_QUEUED_PER_PERSON: "5",
  GEMS_RATE_LIMIT_PER_HOUR: "30",
  GEMS_ADMINS: "discord:123456789012345678,slack:T0123ABCD:U0123ABCD,web:ada",
  GEMS_FEEDBACK_REQUESTER_ONLY: "false",
  GEMS_RETENTION_DAYS: "30",
  GEMS_OUTAGE_BUDGET_MS: "90000",
  GEMS_PREVIEW_INTERVAL_MS: "2500",
  GEMS_RESULT_BY: "votes",
};

export const JOBS_FIELDS = {
  GEMS_MAX_RUNNING_JOBS: integer(1, 256, 8),
  GEMS_GENERATOR_CONCURRENCY: integer(1, 64, 2),
  GEMS_MLLM_CONCURRENCY: integer(1, 256, 16),
  GEMS_MAX_QUEUED_PER_PERSON: integer(1, 1000, 5),
  GEMS_RATE_LIMIT_PER_HOUR: integer(0, 100_000, 30),
  GEMS_ADMINS: personIds,
  GEMS_FEEDBACK_REQUESTER_ONLY: flag(false),
  GEMS_RETENTION_DAYS: integer(1, 3650, 30),
  GEMS_OUTAGE_BUDGET_MS: integer(0, 3_600_000, 90_000),
  GEMS_PREVIEW_INTERVAL_MS: integer(0, 60_000, 2_500),
  // Team votes: whether the most voted image (👍 − 👎) is a job's result instead of the one that passed most.
  GEMS_RESULT_BY: choice(["passes", "votes"] as const),
};

/** How the job service shares the models among people and jobs; see core/jobs/README.md. */
export interface JobsConfig {
  /** Jobs whose agent loop runs at the same time. */
  maxRunningJobs: number;
  /** Generator calls in flight across all jobs. */
  generatorConcurrency: number;
  /** MLLM calls in flight across all jobs. */
  mllmConcurrency: number;
  /** Jobs one person may have waiting (not yet running). */
  maxQueuedPerPerson: number;
  /** New jobs per person in any 60 minutes; 0 turns the limit off. */
  rateLimitPerHour: number;
  /** Surface-qualified person ids ("discord:123") who may stop, pick or continue anyone's job. */
  admins: string[];
  /** When true, only the requester (and admins) may give feedback on a job. */
  feedbackRequesterOnly: boolean;
  /** Finished jobs older than this are deleted with their images. */
  retentionDays: number;
  /** How long a job waits out failing model servers before it fails. */
  outageBudgetMs: number;
  /** At most one live preview per iteration per this many ms; 0 turns previews off. */
  previewIntervalMs: number;
  /** A job's result: the image that passed most (`passes`) or the most voted one (`votes`, ties by passes). */
  resultBy: "passes" | "votes";
}

export function jobsOf(e: EnvOf<typeof JOBS_FIELDS>, merged: Env, generator: GeneratorConfig): JobsConfig {
  return {
    maxRunningJobs: e.GEMS_MAX_RUNNING_JOBS,
    // A pool can take as many calls as its servers together; the old default of 2 would idle them.
    generatorConcurrency:
      merged["GEMS_GENERATOR_CONCURRENCY"]?.trim() || !("isPooled" in generator && generator.isPooled)
        ? e.GEMS_GENERATOR_CONCURRENCY
        : Math.max(e.GEMS_GENERATOR_CONCURRENCY, generator.servers.reduce((sum, server) => sum + server.capacity, 0)),
    mllmConcurrency: e.GEMS_MLLM_CONCURRENCY,
    maxQueuedPerPerson: e.GEMS_MAX_QUEUED_PER_PERSON,
    rateLimitPerHour: e.GEMS_RATE_LIMIT_PER_HOUR,
    admins: e.GEMS_ADMINS,
    feedbackRequesterOnly: e.GEMS_FEEDBACK_REQUESTER_ONLY,
    retentionDays: e.GEMS_RETENTION_DAYS,
    outageBudgetMs: e.GEMS_OUTAGE_BUDGET_MS,
    previewIntervalMs: e.GEMS_PREVIEW_INTERVAL_MS,
    resultBy: e.GEMS_RESULT_BY ?? "passes",
  };
}
