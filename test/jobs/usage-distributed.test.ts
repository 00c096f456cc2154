/**
 * Usage scaled out: jobs submitted to a surfaces process run on two workers (PostgreSQL and
 * Redis for real), talking to loopback model servers. The ledger over the surfaces process adds
 * up to the servers' own meters, and the quota check, bound as bots/server.ts binds it scaled out
 * (core/jobs/service-quota.ts), counts jobs another surfaces process took.
 */
import { describe, expect, it } from "vitest";
import { createUsageLedger, type PriceTable } from "../../core/jobs/usage-ledger.ts";
import { createServiceQuota } from "../../core/jobs/service-quota.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import { alice, bob, carol, recordSurface, submitted, thread } from "./job-harness.ts";
import { makeCluster } from "./distributed-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";

const PRICES: PriceTable = { currency: "USD", models: { "fake-vl": { input: 2, output: 8 }, "gems-http": { image: 0.04 } } };

describe("usage across workers", () => {
  it("the ledger over a surfaces process adds up to the model servers' meters", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(2) });
    const cluster = await makeCluster();
    const surfaces = await cluster.service("surfaces", { prices: PRICES });
    const workers = [
      await cluster.service("worker", { mllm: mllm.mllm, generator: generator.generator, prices: PRICES }),
      await cluster.service("worker", { mllm: mllm.mllm, generator: generator.generator, prices: PRICES }),
    ];
    const ledger = createUsageLedger({ jobs: surfaces, models: { mllm: mllm.mllm.name, generator: generator.generator.name }, prices: PRICES });
    const seen = recordSurface(surfaces);
    await surfaces.start();
    for (const worker of workers) await worker.start();

    const jobIds = [
      submitted(await surfaces.submit({ ...RED_CUBE, iterations: 3 }, alice, thread)),
      submitted(await surfaces.submit({ ...RED_CUBE, iterations: 3 }, bob, thread)),
      submitted(await surfaces.submit({ ...RED_CUBE, iterations: 3 }, alice, thread)),
    ];
    const ends = (await Promise.all(jobIds.map((jobId) => seen.finished(jobId)))) as Array<Extract<JobEvent, { type: "job.done" }>>;

    const total = ledger.report().total;
    expect(total).toMatchObject({
      jobs: 3,
      calls: mllm.server.sent.completions,
      inputTokens: mllm.server.sent.promptTokens,
      outputTokens: mllm.server.sent.completionTokens,
      images: generator.server.sent.images,
    });
    expect(ends.reduce((sum, e) => sum + e.usage!.images, 0)).toBe(generator.server.sent.images);
    expect(total.cost).toBeCloseTo((mllm.server.sent.promptTokens * 2 + mllm.server.sent.completionTokens * 8) / 1e6 + generator.server.sent.images * 0.04, 10);
    expect(ledger.jobs({ personId: alice.id })).toHaveLength(2);
  });

  it("a surfaces process refuses at submit over the quota, counting a job another surfaces process took", async () => {
    // "Is the cube red?" never passes, so each job draws one image per iteration it is given.
    const { mllm, generator } = await wireModels({ verifier: redFrom(1_000) });
    const cluster = await makeCluster();
    // Every process gets the same quota, as every role of `gems serve` does.
    const quota = () =>
      createServiceQuota({ quotas: { personDaily: { kind: "images", images: 2 }, channelDaily: null }, prices: PRICES, models: { mllm: mllm.mllm.name, generator: generator.generator.name } });
    const [first, second] = [await cluster.service("surfaces", { prices: PRICES, quota: quota() }), await cluster.service("surfaces", { prices: PRICES, quota: quota() })];
    const worker = await cluster.service("worker", { mllm: mllm.mllm, generator: generator.generator, prices: PRICES, quota: quota() });
    const [seenFirst, seenSecond] = [recordSurface(first), recordSurface(second)];
    for (const service of [first, second, worker]) await service.start();

    // The second process checks a quota before Alice's job exists: whatever it read then, her job must count later.
    await seenSecond.finished(submitted(await second.submit({ ...RED_CUBE, iterations: 1 }, carol, thread)));
    const aliceEnd = await seenFirst.finished(submitted(await first.submit({ ...RED_CUBE, iterations: 2 }, alice, thread)));
    expect(aliceEnd).toMatchObject({ type: "job.done", reason: "max-iterations", usage: { images: 2 } });

    const refused = await second.submit(RED_CUBE, alice, thread);
    expect(refused).toMatchObject({ ok: false, reason: "quota" });
    expect(!refused.ok && refused.message).toMatch(/^You have used 2 of 2 images today \(UTC\), your daily quota\. It resets at 00:00 UTC, in \d+ (h \d+ )?min\.$/);
    expect((await second.submit(RED_CUBE, carol, thread)).ok).toBe(true);
  });
});
