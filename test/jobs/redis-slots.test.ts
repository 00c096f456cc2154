import { describe, expect, it } from "vitest";
import { CancelledError } from "../../core/errors.ts";
import type { RedisLink } from "../../core/jobs/distributed/redis.ts";
import { createRedisSlots, type RedisSlots } from "../../core/jobs/distributed/redis-slots.ts";
import { onCleanup } from "../support/cleanup.ts";
import { cleanPrefixAfter, testRedisLink, uniquePrefix } from "../support/redis.ts";

/** Two processes' worth of connections under one prefix of the test's own, closed after it. */
async function twoLinks(): Promise<[RedisLink, RedisLink]> {
  const prefix = uniquePrefix("slots");
  cleanPrefixAfter(prefix);
  const links = [await testRedisLink(prefix), await testRedisLink(prefix)] as [RedisLink, RedisLink];
  onCleanup(async () => void (await Promise.all(links.map((link) => link.close()))));
  return links;
}

function slotsOn(link: RedisLink, options: { leaseMs?: number; pollMs?: number } = {}): RedisSlots {
  const slots = createRedisSlots(link, "generator", 1, options);
  onCleanup(async () => slots.close());
  return slots;
}

/** A task that runs until `finish()` is called; `started` resolves once it holds the slot. */
function heldTask(): { task: () => Promise<void>; started: Promise<void>; finish: () => void } {
  let finish!: () => void;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const finished = new Promise<void>((resolve) => (finish = resolve));
  return { task: () => (markStarted(), finished), started, finish };
}

/** As kill -9 does to the process: no release, no more renewals or polls. */
function die(slots: RedisSlots, link: RedisLink): void {
  slots.close();
  link.commands.disconnect();
  link.subscriber.disconnect();
}

async function queueLength(link: RedisLink): Promise<number> {
  return link.commands.zcard(link.key("slots", "generator", "queue"));
}

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("Redis call slots", () => {
  it("hands freed slots to waiters first come, first served across processes", async () => {
    const [a, b] = await twoLinks();
    // A long poll: every hand-over below comes from a release, not from a waiter polling.
    const slotsA = slotsOn(a, { pollMs: 5_000 });
    const slotsB = slotsOn(b, { pollMs: 5_000 });
    const first = heldTask();
    const running = slotsA.run(first.task);
    await first.started;

    const order: string[] = [];
    const waits: Array<Promise<void>> = [];
    for (const [i, slots] of [slotsB, slotsA, slotsB, slotsA, slotsB].entries()) {
      waits.push(slots.run(async () => void order.push(`w${i + 1}`)));
      await until(async () => (await queueLength(a)) === i + 1);
    }
    expect(slotsA.waiting + slotsB.waiting).toBe(5);
    first.finish();
    await Promise.all([running, ...waits]);

    expect(order).toEqual(["w1", "w2", "w3", "w4", "w5"]);
    expect(await queueLength(a)).toBe(0);
    expect(slotsA.inFlight + slotsB.inFlight).toBe(0);
  });

  it("gives a killed holder's slot back when its lease runs out, and not before", async () => {
    const [a, b] = await twoLinks();
    const slotsA = slotsOn(a, { leaseMs: 900, pollMs: 50 });
    const slotsB = slotsOn(b, { leaseMs: 900, pollMs: 50 });
    const holder = heldTask();
    void slotsA.run(holder.task);
    await holder.started;
    // Renewed while the call runs: still held after two lease lengths.
    await new Promise((resolve) => setTimeout(resolve, 1_800));
    let gotIt = false;
    const second = slotsB.run(async () => void (gotIt = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gotIt).toBe(false);

    die(slotsA, a);
    const diedAt = Date.now();
    await second;
    expect(gotIt).toBe(true);
    expect(Date.now() - diedAt).toBeLessThan(3_000);
  });

  it("skips a waiter whose process died and one that gave up", async () => {
    const [a, b] = await twoLinks();
    const slotsA = slotsOn(a, { pollMs: 100 });
    const slotsB = slotsOn(b, { pollMs: 100 });
    const first = heldTask();
    const running = slotsB.run(first.task);
    await first.started;

    const controller = new AbortController();
    const gaveUp = slotsB.run(async () => "ran", controller.signal);
    await until(async () => (await queueLength(b)) === 1);
    const dead = slotsA.run(async () => "ran");
    await until(async () => (await queueLength(b)) === 2);
    let lastRan = false;
    const last = slotsB.run(async () => void (lastRan = true));
    await until(async () => (await queueLength(b)) === 3);

    controller.abort();
    await expect(gaveUp).rejects.toBeInstanceOf(CancelledError);
    die(slotsA, a);
    void dead.catch(() => undefined);
    // The dead waiter stops polling; after four missed polls it is out of the queue.
    await new Promise((resolve) => setTimeout(resolve, 600));
    first.finish();
    await running;
    await last;
    expect(lastRan).toBe(true);
    expect(await queueLength(b)).toBe(0);
  });
});
