/**
 * Admission across every process, in Redis: the per-person queue limit and the hourly rate are
 * checked and counted in one script, so two surfaces processes cannot both let a sixth job in.
 *
 * Fairness (per-person round robin on top of BullMQ): each queued job gets a start tag as in
 * start-time fair queuing. A person's next job starts at max(virtual time, the tag after their
 * previous job); the virtual time is the tag of the job most recently taken by a worker. The
 * tag + 1 is the job's BullMQ priority (lower runs first; equal priorities run in order of
 * arrival). So with Alice's ten jobs waiting, Bob's one gets the tag of Alice's next, not her
 * eleventh: people take turns, one job each per round, and a person who was idle does not
 * gain credit (tags never start below the virtual time). When nothing is queued, tags restart
 * at 0, which keeps priorities far below BullMQ's 2^21 limit.
 *
 * Keys (all under the prefix): queued:<person> (set of job ids), rate:<person> (sorted set of
 * submission times), fair:order (queued jobs by tag, for positions), fair:tag, fair:person,
 * fair:finish (hashes), fair:vtime, fair:seq, workers (capacity heartbeats). One Redis, not a
 * Redis Cluster: scripts touch keys they compute.
 */
import type { Logger } from "pino";
import { queueFullMessage, rateLimitedMessage, type Admission, type Admitted } from "../admission.ts";
import type { Person, Refusal } from "../types.ts";
import type { JobLimits } from "../limits.ts";
import { defineScript, type RedisLink } from "./redis.ts";

const HOUR_MS = 60 * 60 * 1000;
const PRIORITY_LIMIT = 2_097_152;
const WORKER_TTL_MS = 15_000;

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: queued, rate, order, tag, person, finish, vtime, seq
// ARGV: jobId, personId, maxQueued, perHour, countsTowardRate (1/0)
const ADMIT = defineScript(`${NOW}
local waiting = redis.call('SCARD', KEYS[1])
if waiting >= tonumber(ARGV[3]) then return {'queue-full', waiting} end
local perHour = tonumber(ARGV[4])
if ARGV[5] == '1' and perHour > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${HOUR_MS})
  local n = redis.call('ZCARD', KEYS[2])
  if n >= perHour then
    local oldest = redis.call('ZRANGE', KEYS[2], n - perHour, n - perHour, 'WITHSCORES')
    return {'rate-limited', tonumber(oldest[2]) + ${HOUR_MS} - now}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ${HOUR_MS})
end
redis.call('SADD', KEYS[1], ARGV[1])
local v = tonumber(redis.call('GET', KEYS[7]) or '0')
local f = tonumber(redis.call('HGET', KEYS[6], ARGV[2]) or '0')
local s = math.max(v, f)
redis.call('HSET', KEYS[6], ARGV[2], s + 1)
redis.call('HSET', KEYS[4], ARGV[1], s)
redis.call('HSET', KEYS[5], ARGV[1], ARGV[2])
local seq = redis.call('INCR', KEYS[8]) % 1048576
redis.call('ZADD', KEYS[3], s * 1048576 + seq, ARGV[1])
return {'ok', redis.call('ZRANK', KEYS[3], ARGV[1]), s + 1}`);

// KEYS: order, tag, person, vtime, finish; ARGV: jobId, queued-key prefix, advance vtime (1/0)
const LEAVE = defineScript(`
local s = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
local person = redis.call('HGET', KEYS[3], ARGV[1])
if person then redis.call('SREM', ARGV[2] .. person, ARGV[1]) end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[3] == '1' and s >= 0 then
  local v = tonumber(redis.call('GET', KEYS[4]) or '0')
  if s > v then redis.call('SET', KEYS[4], s) end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[4], KEYS[5]) end
return s`);

/**
 * Admission (admission.ts) in Redis, plus what only a shared queue needs. The time of a submit is
 * Redis's own (scripts read TIME), so `atMs` is not used: workers with skewed clocks agree.
 */
export interface DistributedAdmission extends Admission {
  /** A worker took the job: it leaves the queue and moves the virtual time. */
  taken(jobId: string): Promise<void>;
  /** A worker says how many jobs it runs at once; it counts as capacity while it keeps saying so. */
  heartbeat(instance: string, concurrency: number): Promise<void>;
  /** Re-reads the queue order and the free capacity for positionOf; a failure is logged and keeps the last. */
  refreshPositions(): Promise<void>;
}

export interface RedisAdmissionOptions {
  /** How many jobs workers run now (BullMQ's active count): capacity they hold is not free. */
  activeJobs(): Promise<number>;
  logger: Logger;
}

export function createRedisAdmission(link: RedisLink, limits: JobLimits, options: RedisAdmissionOptions): DistributedAdmission {
  const k = link.key;
  const fairKeys = (personId: string): string[] => [
    k("queued", personId),
    k("rate", personId),
    k("fair", "order"),
    k("fair", "tag"),
    k("fair", "person"),
    k("fair", "finish"),
    k("fair", "vtime"),
    k("fair", "seq"),
  ];
  const leaveKeys = [k("fair", "order"), k("fair", "tag"), k("fair", "person"), k("fair", "vtime"), k("fair", "finish")];
  let order: string[] = [];
  let free = 0;

  async function admit(jobId: string, person: Person, isNew: boolean): Promise<Admitted | Refusal> {
    const reply = (await ADMIT(link.commands, fairKeys(person.id), [
      jobId,
      person.id,
      limits.maxQueuedPerPerson,
      isNew ? limits.rateLimitPerHour : 0,
      isNew ? "1" : "0",
    ])) as [string, number, number?];
    const [verdict, value, priority] = reply;
    if (verdict === "queue-full") return { ok: false, reason: "queue-full", message: queueFullMessage(value, limits.maxQueuedPerPerson, isNew ? null : person) };
    if (verdict === "rate-limited") return { ok: false, reason: "rate-limited", message: rateLimitedMessage(limits.rateLimitPerHour, value) };
    await refreshPositions();
    return { ok: true, position: positionOf(jobId) ?? value, priority: Math.min(PRIORITY_LIMIT, priority ?? 1) };
  }

  async function refreshPositions(): Promise<void> {
    try {
      const [ids, workers, active] = await Promise.all([link.commands.zrange(k("fair", "order"), 0, -1), link.commands.hgetall(k("workers")), options.activeJobs()]);
      let capacity = 0;
      for (const value of Object.values(workers)) {
        try {
          const { concurrency, until } = JSON.parse(value) as { concurrency: number; until: number };
          if (until > Date.now()) capacity += concurrency;
        } catch {
          // A malformed heartbeat counts as no capacity; the worker rewrites it within seconds.
        }
      }
      order = ids;
      free = Math.max(0, capacity - active);
    } catch (error) {
      options.logger.warn({ err: error }, "could not read queue positions");
    }
  }

  function positionOf(jobId: string): number | null {
    const index = order.indexOf(jobId);
    if (index < 0) return null;
    return index < free ? 0 : index - free + 1;
  }

  const leave = (jobId: string, isTaken: boolean): Promise<unknown> =>
    LEAVE(link.commands, leaveKeys, [jobId, `${k("queued")}:`, isTaken ? "1" : "0"]);

  return {
    admitNew: (jobId, person) => admit(jobId, person, true),
    admitContinue: (jobId, requester) => admit(jobId, requester, false),

    async undoNew(jobId, personId) {
      await leave(jobId, false);
      await link.commands.zrem(k("rate", personId), jobId);
    },

    async taken(jobId) {
      await leave(jobId, true);
    },

    async remove(jobId) {
      await leave(jobId, false);
    },

    async heartbeat(instance, concurrency) {
      await link.commands.hset(k("workers"), instance, JSON.stringify({ concurrency, until: Date.now() + WORKER_TTL_MS }));
    },

    refreshPositions,
    positionOf,

    get queued() {
      return order.length;
    },
  };
}
