/**
 * The one place where the service's parts are chosen, for both shapes of the product:
 *
 * | part      | createLocalBackend (one process)    | createDistributedBackend (scaled out)                 |
 * | admission | createLocalAdmission (FairQueue)    | createRedisAdmission (Lua scripts, BullMQ priorities) |
 * | slots     | Semaphore per model                 | createRedisSlots (leased slots in Redis)              |
 * | delivery  | EventDelivery over the records held | EventDelivery over the record cache of PostgreSQL     |
 * | storage   | the JobStore given (SQLite, memory) | PostgresJobStore (shared mode)                        |
 *
 * Running (the loop over memory, job-runner.ts) is the same code in both; what differs is who
 * hands it jobs: the local admission's run queue, or BullMQ (distributed/job-worker.ts).
 */
import { createLocalAdmission, type Admission, type LocalAdmission } from "./admission.ts";
import type { DistributedAdmission } from "./distributed/redis-admission.ts";
import type { JobQueue } from "./distributed/bullmq-queue.ts";
import type { RedisLink } from "./distributed/redis.ts";
import type { Logger } from "pino";
import { EventDelivery, type Delivery, type DeliveryHost } from "./event-delivery.ts";
import type { JobStore } from "./job-store.ts";
import type { JobLimits } from "./limits.ts";
import { createLocalModelSlots, type ModelSlots } from "./model-slots.ts";
import type { PostgresJobStore } from "./postgres/job-store.ts";

export interface JobBackend<A extends Admission = Admission, S extends JobStore = JobStore> {
  kind: "local" | "distributed";
  admission: A;
  slots: ModelSlots;
  store: S;
  createDelivery(host: DeliveryHost): Delivery;
  /** Releases what the backend holds (store, connections); the service calls it last in close(). */
  close(): Promise<void>;
}

export interface LocalBackend extends JobBackend<LocalAdmission> {
  kind: "local";
}

export function createLocalBackend(limits: JobLimits, store: JobStore): LocalBackend {
  return {
    kind: "local",
    admission: createLocalAdmission(limits),
    slots: createLocalModelSlots(limits),
    store,
    createDelivery: (host) => new EventDelivery(host),
    close: () => store.close(),
  };
}

export interface DistributedBackend extends JobBackend<DistributedAdmission, PostgresJobStore> {
  kind: "distributed";
  redis: RedisLink;
  /** The BullMQ queue of runs, connected on first use (a backend closed unused leaves nothing open). */
  queue(): JobQueue;
}

export interface DistributedBackendOptions {
  limits: JobLimits;
  /** Shared mode (`isShared: true`); the backend closes it (and its pool, if the store owns that). */
  store: PostgresJobStore;
  redis: RedisLink;
  /**
   * close() also closes `redis` (default: yes, when the service is the link's only user). A
   * serving process shares its link with team skills and closes it itself, after both.
   */
  ownsRedis?: boolean;
  logger: Logger;
}

/** Async because the queue and Redis modules load only when the product is scaled out. */
export async function createDistributedBackend(options: DistributedBackendOptions): Promise<DistributedBackend> {
  const { limits, store, redis } = options;
  const [{ createJobQueue }, { createRedisAdmission }, { createRedisSlots }] = await Promise.all([
    import("./distributed/bullmq-queue.ts"),
    import("./distributed/redis-admission.ts"),
    import("./distributed/redis-slots.ts"),
  ]);
  let queue: JobQueue | undefined;
  const queueOf = (): JobQueue => (queue ??= createJobQueue(redis));
  const generator = createRedisSlots(redis, "generator", limits.generatorConcurrency);
  const mllm = createRedisSlots(redis, "mllm", limits.mllmConcurrency);
  return {
    kind: "distributed",
    admission: createRedisAdmission(redis, limits, { activeJobs: () => queueOf().getActiveCount(), logger: options.logger }),
    slots: { generator, mllm },
    store,
    redis,
    queue: queueOf,
    createDelivery: (host) => new EventDelivery(host),
    async close() {
      generator.close();
      mllm.close();
      await queue?.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      if (options.ownsRedis ?? true) await redis.close();
    },
  };
}
