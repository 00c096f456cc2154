/**
 * The usage ledger through real runs: jobs on the job service, talking to loopback model servers
 * through the real adapters. The servers meter what they sent; the ledger, read back from the
 * stored jobs, must agree with them. Quotas, checked as the server checks them in one process
 * (core/jobs/service-quota.ts), refuse at submit and stop a job before an iteration.
 */
import { describe, expect, it } from "vitest";
import { chatCompletion } from "../fakes/openai-server.ts";
import type { ChatCall } from "../agent/role-scripted-servers.ts";
import { verifierView } from "../agent/role-scripted-servers.ts";
import { createUsageLedger, formatCostLine, NO_QUOTAS, type PriceTable, type Quotas } from "../../core/jobs/usage-ledger.ts";
import { createServiceQuota } from "../../core/jobs/service-quota.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import type { Person, SurfaceRef } from "../../core/jobs/types.ts";
import { alice, bob, makeService, recordSurface, submitted } from "./job-harness.ts";
import { RED_CUBE, wireModels } from "./wire-models.ts";

const PRICES: PriceTable = { currency: "USD", models: { "fake-vl": { input: 2, cachedInput: 0.5, output: 8 }, "gems-http": { image: 0.04 } } };
const channel1: SurfaceRef = { surface: "test", channelId: "c1" };
const channel2: SurfaceRef = { surface: "test", channelId: "c2" };

/** A verifier that answers with its own token counts (cached ones too), varying per call. */
const meteredVerifier = (passFrom: number) => (call: ChatCall) => {
  const { attempt, question } = verifierView(call);
  const reply = chatCompletion(question.includes("red") && attempt < passFrom ? "No." : "Yes.");
  const prompt = 100 + call.index * 7;
  (reply.json as any).usage = {
    prompt_tokens: prompt,
    completion_tokens: 5 + call.index,
    total_tokens: prompt + 5 + call.index,
    prompt_tokens_details: { cached_tokens: 64 },
  };
  return reply;
};

async function setup(options: { quotas?: Quotas; passFrom?: number } = {}) {
  const { mllm, generator } = await wireModels({ verifier: meteredVerifier(options.passFrom ?? 3) });
  const models = { mllm: mllm.mllm.name, generator: generator.generator.name };
  const quotas = options.quotas ?? NO_QUOTAS;
  // As bots/server.ts wires one process: the service asks the check, which indexes the service's jobs.
  const quota = createServiceQuota({ quotas, prices: PRICES, models });
  const service = quota.bind(await makeService({ mllm: mllm.mllm, generator: generator.generator, prices: PRICES, quota: quota.check }));
  const ledger = createUsageLedger({ jobs: service, models, prices: PRICES, quotas });
  const surface = recordSurface(service);
  await service.start();
  const run = async (person: Person, ref: SurfaceRef, iterations = 3) => {
    const jobId = submitted(await service.submit({ ...RED_CUBE, iterations }, person, ref));
    return (await surface.finished(jobId)) as Extract<JobEvent, { type: "job.done" }>;
  };
  return { mllm, generator, service, ledger, surface, run };
}

describe("usage ledger", () => {
  it("adds up to the model servers' own meters, per job, person and channel", async () => {
    const { mllm, generator, ledger, run } = await setup();
    const ends = [await run(alice, channel1), await run(bob, channel1, 2), await run(alice, channel2)];

    const report = ledger.report();
    const sent = mllm.server.sent;
    expect(sent.completions).toBeGreaterThan(10);
    expect(report.total).toMatchObject({
      jobs: 3,
      calls: sent.completions,
      reportedCalls: sent.completions,
      inputTokens: sent.promptTokens,
      cachedInputTokens: sent.cachedTokens,
      outputTokens: sent.completionTokens,
      images: generator.server.sent.images,
    });
    // Each final event carries its job's share, and the shares add up to the same totals.
    const fromEvents = ends.map((e) => e.usage!);
    expect(fromEvents.reduce((s, u) => s + u.inputTokens, 0)).toBe(sent.promptTokens);
    expect(fromEvents.reduce((s, u) => s + u.images, 0)).toBe(generator.server.sent.images);

    const expectedCost =
      ((sent.promptTokens - sent.cachedTokens) * 2 + sent.cachedTokens * 0.5 + sent.completionTokens * 8) / 1e6 + generator.server.sent.images * 0.04;
    expect(report.total.cost).toBeCloseTo(expectedCost, 10);
    expect(fromEvents.reduce((s, u) => s + (u.cost ?? 0), 0)).toBeCloseTo(expectedCost, 10);

    const byPerson = Object.fromEntries(report.byPerson.map((p) => [p.personId, p]));
    expect(byPerson[alice.id]!.jobs).toBe(2);
    expect(byPerson[alice.id]!.images + byPerson[bob.id]!.images).toBe(generator.server.sent.images);
    expect(ledger.jobs({ channel: "test:c1" }).map((j) => j.personId)).toEqual([alice.id, bob.id]);
    expect(ledger.jobs({ personId: bob.id })).toHaveLength(1);
    expect(ledger.jobs({ since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(report.byDay.reduce((s, d) => s + d.images, 0)).toBe(generator.server.sent.images);
    expect(formatCostLine(ends[0]!.usage!)).toMatch(/^Cost: \$0\.\d{4} \([\d,]+ tokens in, [\d,]+ out, 3 images\)$/);
  });

  it("shows tokens and images only, and says so, for models without a price", async () => {
    const { mllm, generator, service, run } = await setup();
    const end = await run(alice, channel1, 1);
    const ledger = createUsageLedger({ jobs: service, models: { mllm: mllm.mllm.name, generator: generator.generator.name } });
    const [job] = ledger.jobs();
    expect(job!.cost).toBeNull();
    expect(job!.unpriced).toEqual([mllm.mllm.name, generator.generator.name]);
    expect(job!.inputTokens).toBe(end.usage!.inputTokens);
    expect(formatCostLine({ ...end.usage!, cost: null, unpriced: job!.unpriced })).toMatch(/^Usage: .* \(no price set for .*fake-vl.*\)$/);
  });
});

describe("daily quotas", () => {
  it("refuses a new job at submit once the person's images for the day are used", async () => {
    const { service, ledger, run } = await setup({ quotas: { personDaily: { kind: "images", images: 3 }, channelDaily: null } });
    await run(alice, channel1, 3);
    expect(ledger.jobs({ personId: alice.id })[0]!.images).toBe(3);
    const refused = await service.submit(RED_CUBE, alice, channel1);
    expect(refused).toMatchObject({ ok: false, reason: "quota" });
    expect(!refused.ok && refused.message).toMatch(/^You have used 3 of 3 images today \(UTC\), your daily quota\. It resets at 00:00 UTC, in \d+ (h \d+ )?min\.$/);
    // Someone else is not affected.
    expect((await service.submit(RED_CUBE, bob, channel1)).ok).toBe(true);
  });

  it("stops a running job before the iteration that would pass the quota, with its best image and why", async () => {
    const { surface, run } = await setup({ quotas: { personDaily: null, channelDaily: { kind: "images", images: 2 } }, passFrom: 99 });
    const end = await run(alice, channel1, 5);
    expect(end).toMatchObject({ type: "job.done", reason: "quota" });
    expect(end.best).not.toBeNull();
    expect(end.message).toMatch(/^This channel has used 2 of 2 images today/);
    expect(surface.of(end.jobId).filter((e) => e.type === "image.ready")).toHaveLength(2);
    expect(end.usage!.images).toBe(2);
  });

  it("counts money against a quota in the price table's currency", async () => {
    const { service, run } = await setup({ quotas: { personDaily: { kind: "money", amount: 0.05 }, channelDaily: null }, passFrom: 99 });
    const end = await run(alice, channel1, 5);
    // 0.04 per image: the second image passes $0.05, so no third iteration starts.
    expect(end).toMatchObject({ reason: "quota" });
    expect(end.usage!.images).toBe(2);
    const refused = await service.submit(RED_CUBE, alice, channel2);
    expect(!refused.ok && refused.message).toMatch(/^You have used \$0\.\d{4} of \$0\.0500 today/);
  });
});
