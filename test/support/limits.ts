/**
 * Job-service limits for tests: no rate limit, a month of retention, and small concurrency
 * that each harness raises or lowers with `overrides` for what it exercises.
 */
import type { JobLimits } from "../../core/jobs/limits.ts";

export function testLimits(overrides: Partial<JobLimits> = {}): JobLimits {
  return {
    maxRunningJobs: 4,
    generatorConcurrency: 2,
    mllmConcurrency: 8,
    maxQueuedPerPerson: 20,
    rateLimitPerHour: 0,
    admins: [],
    feedbackRequesterOnly: false,
    retentionDays: 30,
    outageBudgetMs: 90_000,
    defaultIterations: 3,
    verifyConcurrency: 4,
    ...overrides,
  };
}

/**
 * Limits for the job services the multi-process tests and benchmarks start in child processes:
 * the MLLM is never the bottleneck and nothing expires during a run, so what a run measures is
 * the running and generator limits the caller sets.
 */
export function childProcessLimits(
  overrides: Pick<JobLimits, "maxRunningJobs" | "generatorConcurrency" | "maxQueuedPerPerson" | "defaultIterations">,
): JobLimits {
  return testLimits({ mllmConcurrency: 64, retentionDays: 365, verifyConcurrency: 8, ...overrides });
}
