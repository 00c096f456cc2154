import { describe, expect, it } from "vitest";
import { CancelledError } from "../../core/errors.ts";
import { createCoalescingWriter } from "../../core/jobs/coalescing-writer.ts";
import { isOutage, outageDelayMs } from "../../core/jobs/outage.ts";
import { LostJobError } from "../../core/jobs/postgres/job-store.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";
import { storageError } from "../../core/memory/storage-errors.ts";
import { GemsError } from "../../core/errors.ts";
import { freePort } from "../support/cli.ts";
import { HandedBackError, retryDelayMs } from "../../core/jobs/distributed/bullmq-queue.ts";
import { SlidingWindowRateLimit } from "../../core/jobs/rate-limit.ts";
import { FairQueue } from "../../core/jobs/scheduler.ts";
import { Semaphore } from "../../core/jobs/semaphore.ts";
import { jobLimitsFromConfig } from "../../core/jobs/limits.ts";
import { loadConfig } from "../../config/schema.ts";

describe("Semaphore", () => {
  it("lets waiters in first come, first served as slots free up", async () => {
    const slots = new Semaphore(1);
    const order: string[] = [];
    const releaseFirst = await slots.acquire();
    const second = slots.acquire().then((release) => (order.push("second"), release));
    const third = slots.acquire().then((release) => (order.push("third"), release));
    expect(slots.waiting).toBe(2);

    releaseFirst();
    (await second)();
    (await third)();

    expect(order).toEqual(["second", "third"]);
    expect(slots.inFlight).toBe(0);
  });

  it("drops a waiter whose signal aborts, without using a slot", async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);

    controller.abort();

    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    expect(slots.waiting).toBe(0);
    release();
    expect(slots.inFlight).toBe(0);
  });
});

describe("FairQueue", () => {
  it("alternates between people, starting with whoever has fewer jobs running", () => {
    const queue = new FairQueue();
    for (const jobId of ["a1", "a2", "a3"]) queue.enqueue(jobId, "alice");
    queue.enqueue("b1", "bob");
    queue.enqueue("c1", "carol");
    const running = new Map([["alice", 1]]);

    expect(queue.order((person) => running.get(person) ?? 0)).toEqual(["b1", "c1", "a1", "a2", "a3"]);
    expect(queue.takeNext((person) => running.get(person) ?? 0)).toBe("b1");
  });

  it("serves the person served least recently when running counts tie", () => {
    const queue = new FairQueue();
    for (const jobId of ["a1", "a2"]) queue.enqueue(jobId, "alice");
    expect(queue.takeNext(() => 0)).toBe("a1");
    queue.enqueue("b1", "bob");

    expect(queue.takeNext(() => 0)).toBe("b1");
  });

  it("puts jobs that were running before a restart ahead of everyone", () => {
    const queue = new FairQueue();
    queue.enqueue("b1", "bob");
    queue.enqueue("a1", "alice", { isResumed: true });

    expect(queue.takeNext(() => 0)).toBe("a1");
    expect(queue.countFor("bob")).toBe(1);
  });
});

describe("SlidingWindowRateLimit", () => {
  it("counts the last sixty minutes, not the clock hour", () => {
    const limit = new SlidingWindowRateLimit(2);
    const minute = 60_000;
    expect(limit.take("alice", 50 * minute).isAllowed).toBe(true);
    expect(limit.take("alice", 70 * minute).isAllowed).toBe(true);

    expect(limit.take("alice", 100 * minute)).toEqual({ isAllowed: false, retryAfterMs: 10 * minute });
    expect(limit.take("alice", 110 * minute + 1).isAllowed).toBe(true);
  });
});

describe("outageDelayMs", () => {
  it("doubles the wait and cuts the last one short at the budget", () => {
    expect(outageDelayMs(0, 0, 0, 10_000)).toBe(1_000);
    expect(outageDelayMs(0, 3_000, 2, 10_000)).toBe(4_000);
    expect(outageDelayMs(0, 7_000, 3, 10_000)).toBe(3_000);
    expect(outageDelayMs(0, 10_000, 4, 10_000)).toBeNull();
  });
});

describe("isOutage", () => {
  it("waits out a database that is away, not one that refuses or a job taken over", async () => {
    // A real refusal: nothing listens on a port the OS just handed out and let go of.
    const port = await freePort();
    const away = await openDatabase(`postgres://postgres@127.0.0.1:${port}/postgres`).then(
      () => null,
      (error: unknown) => error,
    );
    expect(away).toBeInstanceOf(GemsError);
    expect(isOutage(away as GemsError)).toBe(true);
    const shutDown = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
    expect(isOutage(storageError("Could not save job j1", shutDown))).toBe(true);
    expect(isOutage(storageError("Could not read job j1", new Error("Connection terminated unexpectedly")))).toBe(true);

    expect(isOutage(storageError("Could not save the image", Object.assign(new Error("no space left"), { code: "ENOSPC" })))).toBe(false);
    expect(isOutage(storageError("Could not save job j1", Object.assign(new Error("duplicate key"), { code: "23505" })))).toBe(false);
    expect(isOutage(new LostJobError("j1"))).toBe(false);
    expect(isOutage(new GemsError("The image server is busy", "backend"))).toBe(true);
  });
});

describe("retryDelayMs", () => {
  it("puts a hand-back or any other failure in line at once, and spaces out retries while the database is away", () => {
    expect(retryDelayMs(new HandedBackError("handed back by a draining worker"))).toBe(0);
    expect(retryDelayMs(new Error("Missing lock for job g-1. moveToFinished"))).toBe(0);
    expect(retryDelayMs(undefined)).toBe(0);
    for (let i = 0; i < 50; i++) {
      const delay = retryDelayMs(storageError("Could not take job j1", Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })));
      expect(delay).toBeGreaterThanOrEqual(1_500);
      expect(delay).toBeLessThanOrEqual(2_500);
    }
  });
});

describe("createCoalescingWriter", () => {
  it("folds the calls made during a write into one follow-up write", async () => {
    let writes = 0;
    let finishWrite: () => void = () => {};
    const write = createCoalescingWriter(
      () =>
        new Promise<void>((resolve) => {
          writes++;
          finishWrite = resolve;
        }),
    );
    const first = write();
    const second = write();
    const third = write();
    expect(second).toBe(third);

    finishWrite();
    await first;
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    finishWrite();
    await Promise.all([second, third]);

    expect(writes).toBe(2);
  });
});

describe("jobLimitsFromConfig", () => {
  it("takes the job settings, the default iterations and the verifier concurrency from the config", () => {
    const config = loadConfig({ GEMS_MAX_RUNNING_JOBS: "3", GEMS_ADMINS: "discord:7", GEMS_MAX_ITERATIONS: "4" }, { envFile: null, cwd: "/srv" });

    expect(jobLimitsFromConfig(config)).toMatchObject({ maxRunningJobs: 3, admins: ["discord:7"], defaultIterations: 4, verifyConcurrency: 8 });
  });
});
