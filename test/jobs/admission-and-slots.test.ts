/**
 * The seams backend.ts chooses between: every Admission and every CallSlots implementation
 * passes the same suite, the single-process one in memory and the distributed one against the
 * machine's Redis (a key prefix of its own per test). A rule that holds in one shape and not
 * the other fails here, named by implementation.
 */
import { describe, expect, it } from "vitest";
import { createLocalAdmission, type Admission } from "../../core/jobs/admission.ts";
import { createRedisAdmission } from "../../core/jobs/distributed/redis-admission.ts";
import { createRedisSlots } from "../../core/jobs/distributed/redis-slots.ts";
import type { JobLimits } from "../../core/jobs/limits.ts";
import type { CallSlots } from "../../core/jobs/model-slots.ts";
import { Semaphore } from "../../core/jobs/semaphore.ts";
import type { Person } from "../../core/jobs/types.ts";
import { CancelledError } from "../../core/errors.ts";
import { silentLogger } from "../../core/logger.ts";
import { onCleanup } from "../support/cleanup.ts";
import { testLimits } from "../support/limits.ts";
import { cleanPrefixAfter, testRedisLink, uniquePrefix } from "../support/redis.ts";

const alice: Person = { id: "discord:1", name: "Alice" };
const bob: Person = { id: "discord:2", name: "Bob" };

interface AdmissionUnderTest {
  admission: Admission;
  /** Brings positions up to date: the distributed one re-reads them when told (or at the next admit). */
  settle(): Promise<void>;
}

async function redisLink() {
  const prefix = uniquePrefix("admission");
  cleanPrefixAfter(prefix);
  const link = await testRedisLink(prefix);
  onCleanup(() => link.close());
  return link;
}

const admissions: Record<string, (limits: JobLimits) => Promise<AdmissionUnderTest>> = {
  local: async (limits) => ({ admission: createLocalAdmission(limits), settle: async () => {} }),
  redis: async (limits) => {
    // No worker reports capacity here, so nothing starts at once and positions count from 1.
    const admission = createRedisAdmission(await redisLink(), limits, { activeJobs: async () => 0, logger: silentLogger });
    return { admission, settle: () => admission.refreshPositions() };
  },
};

const slotsOf: Record<string, (limit: number) => Promise<CallSlots>> = {
  semaphore: async (limit) => new Semaphore(limit),
  redis: async (limit) => {
    const slots = createRedisSlots(await redisLink(), "generator", limit);
    onCleanup(async () => slots.close());
    return slots;
  },
};

function admitted(result: Awaited<ReturnType<Admission["admitNew"]>>): number {
  if (!result.ok) throw new Error(`expected the job to be let in: ${result.message}`);
  return result.position;
}

describe.each(Object.keys(admissions))("admission (%s)", (name) => {
  const make = (limits: Partial<JobLimits>) => admissions[name]!(testLimits({ maxRunningJobs: 1, ...limits }));

  it("lets a person queue up to the limit, then refuses with how many wait", async () => {
    const { admission } = await make({ maxQueuedPerPerson: 2, rateLimitPerHour: 0 });
    admitted(await admission.admitNew("a1", alice, Date.now()));
    admitted(await admission.admitNew("a2", alice, Date.now()));
    const refused = await admission.admitNew("a3", alice, Date.now());
    expect(refused).toMatchObject({ ok: false, reason: "queue-full" });
    expect(!refused.ok && refused.message).toContain("You already have 2 jobs waiting; the limit is 2.");
    admitted(await admission.admitNew("b1", bob, Date.now()));
    expect(admission.queued).toBe(3);
  });

  it("counts new jobs against the hourly rate, and a continued job against the queue limit only", async () => {
    const { admission } = await make({ maxQueuedPerPerson: 10, rateLimitPerHour: 2 });
    admitted(await admission.admitNew("a1", alice, Date.now()));
    admitted(await admission.admitNew("a2", alice, Date.now()));
    const refused = await admission.admitNew("a3", alice, Date.now());
    expect(refused).toMatchObject({ ok: false, reason: "rate-limited" });
    expect(!refused.ok && refused.message).toMatch(/started 2 jobs in the last hour.*Try again in \d+ minutes?\./);
    admitted(await admission.admitContinue("a0", alice));
  });

  it("refuses a continued job when the requester's line is full, naming them", async () => {
    const { admission } = await make({ maxQueuedPerPerson: 1, rateLimitPerHour: 0 });
    admitted(await admission.admitNew("a1", alice, Date.now()));
    const refused = await admission.admitContinue("a0", alice);
    expect(refused).toMatchObject({ ok: false, reason: "queue-full", message: "Alice already has 1 jobs waiting; the limit is 1. Try again when one has started." });
  });

  it("undoNew gives back both the place in line and the hourly count", async () => {
    const { admission, settle } = await make({ maxQueuedPerPerson: 1, rateLimitPerHour: 1 });
    const at = Date.now();
    admitted(await admission.admitNew("a1", alice, at));
    await admission.undoNew("a1", alice.id, at);
    await settle();
    expect(admission.positionOf("a1")).toBeNull();
    admitted(await admission.admitNew("a2", alice, Date.now()));
  });

  it("remove frees a place in line but not the hourly count", async () => {
    const { admission, settle } = await make({ maxQueuedPerPerson: 1, rateLimitPerHour: 2 });
    admitted(await admission.admitNew("a1", alice, Date.now()));
    expect(await admission.admitNew("a2", alice, Date.now())).toMatchObject({ ok: false, reason: "queue-full" });
    await admission.remove("a1");
    await settle();
    expect(admission.positionOf("a1")).toBeNull();
    expect(admission.queued).toBe(0);
    admitted(await admission.admitNew("a2", alice, Date.now()));
    await admission.remove("a2");
    expect(await admission.admitNew("a3", alice, Date.now())).toMatchObject({ ok: false, reason: "rate-limited" });
  });

  it("lets people take turns: one person's later jobs wait behind another's first", async () => {
    const { admission, settle } = await make({ maxQueuedPerPerson: 5, rateLimitPerHour: 0 });
    for (const jobId of ["a1", "a2", "a3"]) admitted(await admission.admitNew(jobId, alice, Date.now()));
    const b1 = admitted(await admission.admitNew("b1", bob, Date.now()));
    await settle();
    const positions = ["a1", "b1", "a2", "a3"].map((jobId) => admission.positionOf(jobId));
    const first = positions[0]!;
    expect(positions).toEqual([first, first + 1, first + 2, first + 3]);
    // The answer to admit is the job's place at that moment.
    expect(b1).toBe(first + 1);
    expect(admission.positionOf("nobody")).toBeNull();
  });
});

describe.each(Object.keys(slotsOf))("model call slots (%s)", (name) => {
  it("never lets more calls in than the limit, and serves every waiter", async () => {
    const slots = await slotsOf[name]!(2);
    let inFlight = 0;
    let most = 0;
    const call = () =>
      slots.run(async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight--;
        return "done";
      });
    const results = await Promise.all(Array.from({ length: 6 }, call));
    expect(results).toEqual(Array(6).fill("done"));
    expect(most).toBe(2);
    expect(slots.inFlight).toBe(0);
  });

  it("gives up waiting with CancelledError when the caller aborts", async () => {
    const slots = await slotsOf[name]!(1);
    let release!: () => void;
    const holding = slots.run(() => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const controller = new AbortController();
    const waiting = slots.run(async () => "ran", controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    release();
    await holding;
    expect(await slots.run(async () => "after")).toBe("after");
  });
});
