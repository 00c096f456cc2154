/** The scale-out settings: PostgreSQL and Redis, which come together, and this process's part. */
import { integer, pattern, serviceUrl, type EnvOf } from "./env-fields.ts";

export const SCALE_OUT_EXAMPLES: Record<string, string> = {
  GEMS_DATABASE_URL: "postgres://gems@db.internal:5432/gems",
  GEMS_DATABASE_SCHEMA: "gems",
  GEMS_REDIS_URL: "redis://queue.internal:6379",
  GEMS_REDIS_PREFIX: "gems",
  GEMS_JOB_LOCK_MS: "10000",
  GEMS_WORKER_PORT: "8788",
  GEMS_INSTANCE: "worker-1",
  GEMS_IMAGE_CACHE_MB: "64",
};

export const SCALE_OUT_FIELDS = {
  GEMS_DATABASE_URL: serviceUrl(["postgres:", "postgresql:"], "PostgreSQL"),
  GEMS_DATABASE_SCHEMA: pattern(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case identifier (letters, digits, _)"),
  GEMS_REDIS_URL: serviceUrl(["redis:", "rediss:"], "Redis"),
  GEMS_REDIS_PREFIX: pattern(/^[A-Za-z0-9_.-]{1,64}$/, "must be letters, digits, _, . or - (at most 64)"),
  GEMS_JOB_LOCK_MS: integer(1000, 600_000, 10_000),
  GEMS_WORKER_PORT: integer(0, 65_535, 8788),
  GEMS_INSTANCE: pattern(/^[A-Za-z0-9_.:-]{1,100}$/, "must be letters, digits, _, ., : or -"),
  GEMS_IMAGE_CACHE_MB: integer(0, 65_536, 64),
};

/**
 * Scaled out (README, Scaling out): PostgreSQL holds records, memory, events and images; Redis
 * holds the BullMQ queue, live events and the global limits. Null: one process on SQLite.
 */
export interface ScaleOutConfig {
  databaseUrl: string;
  databaseSchema: string;
  redisUrl: string;
  redisPrefix: string;
  /** BullMQ lock duration; a dead worker's jobs resume within about twice this. */
  jobLockMs: number;
  /** The worker role's own /healthz and /metrics listener (0: any free port). */
  workerPort: number;
  /** This process's name in metrics and logs; undefined: host name and process id. */
  instance: string | undefined;
  /** Recently used images kept in memory by this process (0: none); images are content-addressed. */
  imageCacheBytes: number;
}

export function scaleOutOf(e: EnvOf<typeof SCALE_OUT_FIELDS>, problems: string[]): ScaleOutConfig | null {
  if (Boolean(e.GEMS_DATABASE_URL) !== Boolean(e.GEMS_REDIS_URL)) {
    problems.push(
      e.GEMS_DATABASE_URL
        ? `GEMS_REDIS_URL: required with GEMS_DATABASE_URL, the two scale out together (got nothing). Example: GEMS_REDIS_URL=${SCALE_OUT_EXAMPLES["GEMS_REDIS_URL"]}`
        : `GEMS_DATABASE_URL: required with GEMS_REDIS_URL, the two scale out together (got nothing). Example: GEMS_DATABASE_URL=${SCALE_OUT_EXAMPLES["GEMS_DATABASE_URL"]}`,
    );
  }
  const scaleOut: ScaleOutConfig | null =
    e.GEMS_DATABASE_URL && e.GEMS_REDIS_URL
      ? {
          databaseUrl: e.GEMS_DATABASE_URL,
          databaseSchema: e.GEMS_DATABASE_SCHEMA ?? "public",
          redisUrl: e.GEMS_REDIS_URL,
          redisPrefix: e.GEMS_REDIS_PREFIX ?? "gems",
          jobLockMs: e.GEMS_JOB_LOCK_MS,
          workerPort: e.GEMS_WORKER_PORT,
          instance: e.GEMS_INSTANCE,
          imageCacheBytes: e.GEMS_IMAGE_CACHE_MB * 1024 * 1024,
        }
      : null;
  return scaleOut;
}
