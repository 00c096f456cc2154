/**
 * GEMS_GENERATOR_CONCURRENCY and GEMS_MLLM_CONCURRENCY across every worker: a counting semaphore
 * in Redis with a first-come, first-served queue. Holders are members of a sorted set scored by
 * when their lease ends; a holder renews its lease while its call runs, so a worker killed with
 * -9 gives its slots back when the lease runs out instead of never.
 *
 * Waiters queue in Redis in order of arrival (a ticket from a counter). A release hands its slot
 * to the first live waiter inside the same script and publishes that waiter's id, so one release
 * wakes one waiter, in any process, and that waiter already holds the slot when it wakes. A
 * waiter refreshes its place by polling; one that stops (its process died) drops out of the
 * queue after four missed polls. One that died after its last poll and was handed a slot gives
 * it back when the slot's lease runs out, like a killed holder. Polling also covers a lost
 * message and slots freed by an expired lease: a waiter whose place is within the free slots
 * takes one.
 */
import { randomUUID } from "node:crypto";
import { CancelledError } from "../../errors.ts";
import type { CallSlots } from "../model-slots.ts";
import { defineScript, type RedisLink } from "./redis.ts";

const LEASE_MS = 15_000;
const POLL_MS = 500;

// Shared by the scripts: Redis's clock, so skewed workers agree; drops expired holders and waiters.
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
if #gone > 0 then
  redis.call('ZREM', KEYS[2], unpack(gone))
  redis.call('ZREM', KEYS[3], unpack(gone))
end`;

// KEYS: holders, queue (score: ticket), wait leases (score: expiry), ticket counter.
// ARGV: limit, holder, lease ms, wait lease ms. 1 when the caller holds a slot, else 0 (queued).
const ACQUIRE = defineScript(`${PRELUDE}
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  return 1
end
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[2])
end
local ahead = redis.call('ZRANK', KEYS[2], ARGV[2])
if redis.call('ZCARD', KEYS[1]) + ahead < tonumber(ARGV[1]) then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  return 1
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[2])
return 0`);

// KEYS: as ACQUIRE, then the wake channel. ARGV: limit, holder, lease ms. Leaves slot and queue,
// then gives every free slot to the oldest live waiter, with a full lease (a waiter late to wake
// on a loaded machine must not lose it to someone else), and publishes who got it.
const RELEASE = defineScript(`${PRELUDE}
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
if free <= 0 then return 0 end
local next = redis.call('ZRANGE', KEYS[2], 0, free - 1)
for _, waiter in ipairs(next) do
  redis.call('ZREM', KEYS[2], waiter)
  redis.call('ZREM', KEYS[3], waiter)
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), waiter)
  redis.call('PUBLISH', KEYS[5], waiter)
end
return #next`);

const RENEW = defineScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])`);

export interface RedisSlots extends CallSlots {
  /** Stops renewing (the process is closing); held leases run out on their own. */
  close(): void;
}

export interface RedisSlotsOptions {
  /** How long a holder's slot outlives its last renewal (renewed every third of it). */
  leaseMs?: number;
  /** How often a waiter refreshes its place; it leaves the queue after missing four. */
  pollMs?: number;
}

export function createRedisSlots(link: RedisLink, name: string, limit: number, options: RedisSlotsOptions = {}): RedisSlots {
  const leaseMs = options.leaseMs ?? LEASE_MS;
  const pollMs = options.pollMs ?? POLL_MS;
  const waitLeaseMs = pollMs * 4;
  const keys = [link.key("slots", name), link.key("slots", name, "queue"), link.key("slots", name, "waits"), link.key("slots", name, "tickets")];
  const grantedChannel = link.key("slots", name, "granted");
  const held = new Set<string>();
  /** Local waiters by holder id: true when woken because a release handed them the slot. */
  const waiters = new Map<string, (isGranted: boolean) => void>();
  let waiting = 0;
  const wakeAll = (): void => {
    for (const wake of [...waiters.values()]) wake(false);
  };
  void link.subscriber.subscribe(grantedChannel).catch(() => undefined);
  const onGranted = (channel: string, holder: string): void => {
    if (channel === grantedChannel) waiters.get(holder)?.(true);
  };
  link.subscriber.on("message", onGranted);
  const renewer = setInterval(() => {
    for (const holder of held) void RENEW(link.commands, [keys[0] as string], [holder, leaseMs]).catch(() => undefined);
  }, leaseMs / 3);
  renewer.unref();

  const release = async (holder: string): Promise<void> => {
    held.delete(holder);
    await RELEASE(link.commands, [...keys, grantedChannel], [limit, holder, leaseMs]);
  };

  async function acquire(signal?: AbortSignal): Promise<string> {
    const holder = randomUUID();
    waiting++;
    try {
      for (;;) {
        if (signal?.aborted) throw new CancelledError();
        // Listening before asking: a grant published while the script runs must find the waiter.
        const isGranted = await new Promise<boolean>((resolve, reject) => {
          let isSettled = false;
          const settle = (outcome: { granted: boolean } | { error: unknown }): void => {
            if (isSettled) return;
            isSettled = true;
            clearTimeout(timer);
            waiters.delete(holder);
            signal?.removeEventListener("abort", onAbort);
            if ("error" in outcome) reject(outcome.error);
            else resolve(outcome.granted);
          };
          const done = (granted: boolean): void => settle({ granted });
          const onAbort = (): void => done(false);
          const timer = setTimeout(() => done(false), pollMs);
          waiters.set(holder, done);
          signal?.addEventListener("abort", onAbort, { once: true });
          ACQUIRE(link.commands, keys, [limit, holder, leaseMs, waitLeaseMs]).then(
            (granted) => granted === 1 && done(true),
            (error: unknown) => settle({ error }),
          );
        });
        if (isGranted) {
          if (signal?.aborted) throw new CancelledError();
          held.add(holder);
          return holder;
        }
      }
    } catch (error) {
      // Leaving the queue: a slot handed over meanwhile goes on to the next waiter.
      await release(holder).catch(() => undefined);
      throw error;
    } finally {
      waiting--;
    }
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
      // The link may outlive the slots (a serving process shares it with team skills).
      link.subscriber.off("message", onGranted);
      wakeAll();
    },
  };
}
