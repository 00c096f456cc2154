/**
 * Redis connections for the distributed parts: one for commands and scripts, one subscribed to
 * the wake-up and control channels, and BullMQ's own. Every key GEMS writes starts with the
 * configured prefix (GEMS_REDIS_PREFIX), BullMQ's included, so several deployments or test runs
 * share one Redis without seeing each other.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { GemsError, describeError } from "../../errors.ts";

export interface RedisLink {
  url: string;
  prefix: string;
  commands: Redis;
  subscriber: Redis;
  /** `<prefix>:<parts…>`. */
  key(...parts: string[]): string;
  /** Another connection with the same settings (BullMQ workers block on theirs). */
  duplicate(): Redis;
  close(): Promise<void>;
}

const PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const CONNECT_TIMEOUT_MS = 5_000;

export function checkRedisPrefix(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new GemsError(`"${prefix}" is not a usable Redis key prefix: use letters, digits, _, . and - (e.g. gems).`, "config");
  }
  return prefix;
}

/** The URL without its password, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

function open(url: string): Redis {
  // BullMQ needs maxRetriesPerRequest null on connections it blocks on; commands then wait for a
  // reconnect instead of failing, which is also what a worker wants during a Redis restart.
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS });
  // Connection errors are retried by ioredis; without a listener each one would be an unhandled error.
  redis.on("error", () => undefined);
  return redis;
}

export async function connectRedis(url: string, prefix: string): Promise<RedisLink> {
  checkRedisPrefix(prefix);
  const commands = open(url);
  const subscriber = open(url);
  const extra: Redis[] = [];
  try {
    await Promise.all([commands.connect(), subscriber.connect()]);
    await commands.ping();
  } catch (error) {
    commands.disconnect();
    subscriber.disconnect();
    throw new GemsError(`Could not connect to Redis at ${redactRedisUrl(url)}: ${describeError(error)}`, "storage", { cause: error });
  }
  return {
    url,
    prefix,
    commands,
    subscriber,
    key: (...parts) => [prefix, ...parts].join(":"),
    duplicate() {
      const redis = open(url);
      extra.push(redis);
      return redis;
    },
    async close() {
      for (const redis of [commands, subscriber, ...extra]) {
        await redis.quit().catch(() => redis.disconnect());
      }
    },
  };
}

export type RedisScript = (redis: Redis, keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>;

/**
 * A Lua script run by its SHA1 (EVALSHA), so a call sends a few dozen bytes instead of the whole
 * script and Redis skips hashing it again. A Redis that does not hold it (restarted, flushed,
 * or another server after a failover) answers NOSCRIPT, and the script is sent once in full.
 */
export function defineScript(source: string): RedisScript {
  const sha = createHash("sha1").update(source).digest("hex");
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(source, keys.length, ...keys, ...args);
    }
  };
}

/** Deletes every key under the prefix (tests, and `gems` tooling that resets a deployment). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  return deleted;
}
