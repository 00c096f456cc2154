/**
 * GEMS_GENERATOR_CONCURRENCY and GEMS_MLLM_CONCURRENCY across every worker: a counting semaphore
 * in Redis. Holders are members of a sorted set scored by when their lease ends; a script takes
 * a slot only while fewer than `limit` unexpired leases exist. A holder renews its lease while
 * its call runs, so a worker killed with -9 gives its slots back when the lease runs out
 * (LEASE_MS) instead of never. Waiters are woken by a message on release, and also poll, so a
 * lost message costs at most POLL_MS.
 */
import { randomUUID } from "node:crypto";
import { CancelledError } from "../../errors.ts";
import type { CallSlots } from "../model-slots.ts";
import type { RedisLink } from "./redis.ts";

const LEASE_MS = 15_000;
const RENEW_MS = 5_000;
const POLL_MS = 200;

// KEYS[1] the holders; ARGV: limit, holder, lease ms. Redis's clock, so skewed workers agree.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  return 1
end
return 0`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])`;

export interface RedisSlots extends CallSlots {
  /** Stops renewing (the process is closing); held leases run out on their own. */
  close(): void;
}

export function createRedisSlots(link: RedisLink, name: string, limit: number): RedisSlots {
  const holdersKey = link.key("slots", name);
  const releasedChannel = link.key("slots", name, "released");
  const held = new Set<string>();
  const waiters = new Set<() => void>();
  let waiting = 0;
  const wakeAll = (): void => {
    for (const wake of [...waiters]) wake();
  };
  void link.subscriber.subscribe(releasedChannel).catch(() => undefined);
  link.subscriber.on("message", (channel: string) => {
    if (channel === releasedChannel) wakeAll();
  });
  const renewer = setInterval(() => {
    for (const holder of held) void link.commands.eval(RENEW, 1, holdersKey, holder, LEASE_MS).catch(() => undefined);
  }, RENEW_MS);
  renewer.unref();

  async function acquire(signal?: AbortSignal): Promise<string> {
    const holder = randomUUID();
    waiting++;
    try {
      for (;;) {
        if (signal?.aborted) throw new CancelledError();
        const granted = await link.commands.eval(ACQUIRE, 1, holdersKey, limit, holder, LEASE_MS);
        if (granted === 1) {
          held.add(holder);
          return holder;
        }
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            waiters.delete(done);
            signal?.removeEventListener("abort", done);
            resolve();
          };
          const timer = setTimeout(done, POLL_MS);
          waiters.add(done);
          signal?.addEventListener("abort", done, { once: true });
        });
      }
    } finally {
      waiting--;
    }
  }

  async function release(holder: string): Promise<void> {
    held.delete(holder);
    await link.commands.zrem(holdersKey, holder);
    await link.commands.publish(releasedChannel, "1");
  }

  return {
    async run(task, signal) {
      const holder = await acquire(signal);
      try {
        return await task();
      } finally {
        // A failed release only delays the next caller until the lease runs out.
        await release(holder).catch(() => undefined);
      }
    },
    get inFlight() {
      return held.size;
    },
    get waiting() {
      return waiting;
    },
    close() {
      clearInterval(renewer);
      wakeAll();
    },
  };
}
