/**
 * A Redis key prefix of its own for each test, on the machine's Redis (127.0.0.1:6379;
 * GEMS_TEST_REDIS_URL points elsewhere). Every key under it is deleted at cleanup.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { connectRedis, deleteKeysWithPrefix, type RedisLink } from "../../core/jobs/distributed/redis.ts";
import { onCleanup } from "./cleanup.ts";

export const TEST_REDIS_URL = process.env.GEMS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export function uniquePrefix(label = "t"): string {
  return `gems-test-${label}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** Deletes every key under the prefix and reports how many there were. */
export async function deletePrefix(prefix: string): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    return await deleteKeysWithPrefix(redis, prefix);
  } finally {
    await redis.quit();
  }
}

/** Registers the prefix's cleanup (after the test, once every link under it is closed). */
export function cleanPrefixAfter(prefix: string): void {
  onCleanup(async () => void (await deletePrefix(prefix)));
}

/** A link under `prefix`; the caller (usually a service) closes it. */
export function testRedisLink(prefix: string): Promise<RedisLink> {
  return connectRedis(TEST_REDIS_URL, prefix);
}
