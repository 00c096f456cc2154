/**
 * The daily quota check wired to a job service, the one way bots/server.ts does it and the test
 * harnesses do too, so the two cannot drift apart. The service asks the check at submit and
 * before each iteration, and the check reads that service's jobs: each needs the other, so the
 * service is built with `check` and `bind` then points the check at it (until then every job
 * may go on, as nothing has started). What the check reads (usage-quota.ts):
 *   - one process: the day index over the service, fed by the service `bind` returns, which
 *     every surface must submit through so a new job counts from its first step;
 *   - scaled out (`db`): the day's rows of the jobs table (postgres/usage-query.ts), which
 *     every process writes.
 */
import type { Database } from "../memory/postgres/database.ts";
import type { ModelNames } from "../memory/trajectory.ts";
import { createPostgresDayUsage } from "./postgres/usage-query.ts";
import type { JobService } from "./types.ts";
import type { PriceTable, QuotaCheck, Quotas } from "./usage-ledger.ts";
import { createDayIndex, createQuotaCheck } from "./usage-quota.ts";

export interface ServiceQuota {
  /** The job service's `quota` dependency. */
  check: QuotaCheck;
  /** Once, with the service built on `check`; returns the service the surfaces must use. */
  bind(jobs: JobService, db?: Database): JobService;
}

/** `models`: the running ones, for jobs stored before trajectories named theirs. */
export function createServiceQuota(options: { quotas: Quotas; prices: PriceTable; models: ModelNames }): ServiceQuota {
  const { quotas, prices, models } = options;
  let bound: QuotaCheck | undefined;
  return {
    check: (requester, surfaceRef) => bound?.(requester, surfaceRef) ?? null,
    bind(jobs, db) {
      if (db) {
        bound = createQuotaCheck({ quotas, prices, usage: createPostgresDayUsage(db, { models, prices, local: jobs }) });
        return jobs;
      }
      const index = createDayIndex(jobs, { models, prices });
      bound = createQuotaCheck({ quotas, prices, usage: index.usage });
      return index.track(jobs);
    },
  };
}
