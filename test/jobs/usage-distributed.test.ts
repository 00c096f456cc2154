/**
 * The usage ledger scaled out: jobs submitted to a surfaces process run on two workers
 * (PostgreSQL and Redis for real), talking to loopback model servers. The ledger over the
 * surfaces process adds up to the servers' own meters, and its quota refuses at submit.
 */
import { describe, expect, it } from "vitest";
import { createUsageLedger, type PriceTable, type UsageLedger } from "../../core/jobs/usage-ledger.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import { alice, bob, carol, recordSurface, submitted, thread } from "./job-harness.ts";
import { makeCluster } from "./distributed-harness.ts";
import { RED_CUBE, redFrom, wireModels } from "./wire-models.ts";

const PRICES: PriceTable = { currency: "USD", models: { "fake-vl": { input: 2, output: 8 }, "gems-http": { image: 0.04 } } };

describe("usage ledger across workers", () => {
  it("adds up to the model servers' meters and refuses at submit over the quota", async () => {
    const { mllm, generator } = await wireModels({ verifier: redFrom(2) });
    const cluster = await makeCluster();
    let ledger: UsageLedger | undefined;
    const quota = (person: Parameters<UsageLedger["quotaProblem"]>[0], ref: Parameters<UsageLedger["quotaProblem"]>[1]) => ledger?.quotaProblem(person, ref) ?? null;
    const surfaces = await cluster.service("surfaces", { prices: PRICES, quota });
    const workers = [
      await cluster.service("worker", { mllm: mllm.mllm, generator: generator.generator, prices: PRICES }),
      await cluster.service("worker", { mllm: mllm.mllm, generator: generator.generator, prices: PRICES }),
    ];
    const ledgerWith = (images: number) =>
      createUsageLedger({
        jobs: surfaces,
        models: { mllm: mllm.mllm.name, generator: generator.generator.name },
        prices: PRICES,
        quotas: { personDaily: { kind: "images", images }, channelDaily: null },
      });
    ledger = ledgerWith(100);
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

    // A quota of exactly what Alice's two jobs drew, on whichever worker: she is refused, Carol is not.
    const aliceImages = ledger.jobs({ personId: alice.id }).reduce((sum, job) => sum + job.images, 0);
    expect(aliceImages).toBeGreaterThanOrEqual(2);
    ledger = ledgerWith(aliceImages);
    const refused = await surfaces.submit(RED_CUBE, alice, thread);
    expect(refused).toMatchObject({ ok: false, reason: "quota" });
    expect(!refused.ok && refused.message).toContain(`${aliceImages} of ${aliceImages} images`);
    expect((await surfaces.submit(RED_CUBE, carol, thread)).ok).toBe(true);
  });
});
