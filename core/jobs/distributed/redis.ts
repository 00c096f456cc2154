/**
 * Redis connections for the distributed parts: one for commands and scripts, one subscribed to
 * the wake-up and control channels, and BullMQ's own. Every key GEMS writes starts with the
 * configured prefix (GEMS_REDIS_PREFIX), BullMQ's included, so several deployments or test runs
 * share one Redis without seeing each other.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { waitAtMost } from "../../bounded-wait.ts";
import { GemsError, describeError } from "../../errors.ts";

export interface RedisLink {
  url: string;
  prefix: string;
  commands: Redis;
  /**
   * In subscriber mode, and possibly shared by several users (the job service and team skills in
   * one serving process): each subscribes its own channels, listens for "message" filtering by
   * channel, and on close removes its listener and unsubscribes only its own channels.
   */
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

function open(url: string, clientName: string | undefined): Redis {
  // BullMQ needs maxRetriesPerRequest null on connections it blocks on; commands then wait for a
  // reconnect instead of failing, which is also what a worker wants during a Redis restart.
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // CLIENT SETNAME on every (re)connect: CLIENT LIST then says which process holds which connection.
    ...(clientName ? { connectionName: clientName } : {}),
  });
  // Connection errors are retried by ioredis; without a listener each one would be an unhandled error.
  redis.on("error", () => undefined);
  return redis;
}

/** `clientName`: letters, digits and punctuation, no spaces (Redis refuses them in CLIENT SETNAME). */
export async function connectRedis(url: string, prefix: string, options: { clientName?: string } = {}): Promise<RedisLink> {
  checkRedisPrefix(prefix);
  const commands = open(url, options.clientName);
  const subscriber = open(url, options.clientName);
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
      const redis = open(url, options.clientName);
      extra.push(redis);
      return redis;
    },
    async close() {
      await Promise.all([commands, subscriber, ...extra].map(closeConnection));
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

/** How long a closing connection waits for Redis to answer its QUIT before it just hangs up. */
const QUIT_TIMEOUT_MS = 2_000;

/**
 * QUIT when Redis is there to answer it; otherwise (down, or reconnecting) hang up at once: the
 * connections wait for a reconnect rather than fail (see open), so a polite QUIT, or a command
 * queued before it, would keep a stopping process waiting for a Redis that may never return.
 */
async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === "ready") await waitAtMost(redis.quit().catch(() => undefined), QUIT_TIMEOUT_MS);
  redis.disconnect();
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
