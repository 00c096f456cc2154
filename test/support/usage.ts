/**
 * A surface harness's usage ledger and daily quota check, wired to its job service the way
 * bots/server.ts wires them (core/jobs/service-quota.ts), with the sim's model names. Without
 * `usage` the service has neither, as when no harness option asks for them.
 */
import { createServiceQuota } from "../../core/jobs/service-quota.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { createUsageLedger, NO_PRICES, NO_QUOTAS, type PriceTable, type QuotaCheck, type Quotas, type UsageLedger } from "../../core/jobs/usage-ledger.ts";

export interface HarnessUsage {
  prices?: PriceTable;
  quotas?: Quotas;
}

export interface UsageWiring {
  /** For createJobService. */
  deps: { prices?: PriceTable; quota?: QuotaCheck };
  /** `service` (built with `deps`) as every surface must use it, and the ledger for `/gems usage`. */
  attach(service: JobService): { jobs: JobService; ledger: UsageLedger | undefined };
}

const SIM_MODELS = { mllm: "sim", generator: "sim" };

export function wireUsage(usage: HarnessUsage | undefined): UsageWiring {
  if (!usage) return { deps: {}, attach: (service) => ({ jobs: service, ledger: undefined }) };
  const prices = usage.prices ?? NO_PRICES;
  const quotas = usage.quotas ?? NO_QUOTAS;
  const quota = createServiceQuota({ quotas, prices, models: SIM_MODELS });
  return {
    deps: { prices, quota: quota.check },
    attach: (service) => ({ jobs: quota.bind(service), ledger: createUsageLedger({ jobs: service, models: SIM_MODELS, prices, quotas }) }),
  };
}
