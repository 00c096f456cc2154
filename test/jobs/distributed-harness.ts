/**
 * Distributed job services for tests, in this process: each service has its own PostgreSQL pool
 * and Redis connections, as a separate process would, over one schema and one key prefix that
 * the test owns (created here, dropped and deleted after the test).
 */
import type { PriceTable } from "../../core/jobs/usage-ledger.ts";
import type { ServiceQuota } from "../../core/jobs/service-quota.ts";
import { createDistributedBackend } from "../../core/jobs/backend.ts";
import { createDistributedJobService, type DistributedJobService, type ServiceRole } from "../../core/jobs/distributed/distributed-job-service.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import { silentLogger } from "../../core/logger.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";
import { createPostgresImageStore } from "../../core/memory/postgres/image-store.ts";
import type { ImageGenerator, Mllm } from "../../core/models/ports.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { onCleanup } from "../support/cleanup.ts";
import { TEST_DATABASE_URL, dropSchema, uniqueSchemaName } from "../support/postgres.ts";
import { cleanPrefixAfter, testRedisLink, uniquePrefix } from "../support/redis.ts";
import { TEST_LIMITS, skills } from "./job-harness.ts";

export interface Cluster {
  schema: string;
  prefix: string;
  /** Starts nothing: call start() on what it returns. */
  service(role: ServiceRole, setup?: ServiceSetup): Promise<DistributedJobService>;
}

export interface ServiceSetup {
  limits?: Partial<JobLimits>;
  mllm?: Mllm;
  generator?: ImageGenerator;
  lockMs?: number;
  /** How often a surfaces process puts unfinished jobs in the queue again (production: a minute). */
  requeueIntervalMs?: number;
  /** The price table for final events' costs (usage-ledger.ts). */
  prices?: PriceTable;
  /** Bound to the service and its PostgreSQL pool, as bots/server.ts binds it scaled out. */
  quota?: ServiceQuota;
  /** Leave it open after the test (the test closes it, e.g. to simulate a crash). */
  isManual?: boolean;
}

let instances = 0;

export async function makeCluster(): Promise<Cluster> {
  const schema = uniqueSchemaName("dist");
  const prefix = uniquePrefix("dist");
  onCleanup(() => dropSchema(schema));
  cleanPrefixAfter(prefix);
  return {
    schema,
    prefix,
    async service(role, setup = {}) {
      const db = await openDatabase(TEST_DATABASE_URL, { schema, maxConnections: 6 });
      const limits = { ...TEST_LIMITS, ...setup.limits };
      const service = createDistributedJobService({
        role,
        instance: `test-${++instances}`,
        mllm: setup.mllm ?? createSimMllm({ latencyMs: 2 }),
        generator: setup.generator ?? createSimGenerator({ latencyMs: 5 }),
        skills: await skills(),
        images: createPostgresImageStore(db),
        backend: await createDistributedBackend({ limits, store: createPostgresJobStore(db, { isShared: true }), redis: await testRedisLink(prefix), logger: silentLogger }),
        limits,
        logger: silentLogger,
        lockMs: setup.lockMs ?? 1_000,
        pollIntervalMs: 500,
        controlTimeoutMs: 10_000,
        ...(setup.requeueIntervalMs ? { requeueIntervalMs: setup.requeueIntervalMs } : {}),
        ...(setup.prices ? { prices: setup.prices } : {}),
        ...(setup.quota ? { quota: setup.quota.check } : {}),
      });
      setup.quota?.bind(service, db);
      if (!setup.isManual) onCleanup(() => service.close());
      return service;
    },
  };
}
