import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../../core/errors.ts";
import { createGemsHttpGenerator } from "../../core/models/gems-http-generator.ts";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import type { ImageGenerator, Mllm } from "../../core/models/ports.ts";
import { probeServer } from "../../core/models/server-probe.ts";
import { createGeneratorPool, createMllmPool, type ImageGeneratorPool } from "../../core/models/server-pool.ts";
import { fastApiError, pngReply, startFakeGemsGenerator, type FakeGemsGenerator, type FakeReply } from "../fakes/gems-generator-server.ts";
import { startFakeOpenAi, type FakeOpenAi } from "../fakes/openai-server.ts";
import { rejectionOf } from "./rejection.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const DRAW_MS = 15;

async function gemsServer(port?: number, reply: () => FakeReply = () => ({ ...pngReply(), delayMs: DRAW_MS })): Promise<FakeGemsGenerator> {
  const server = await startFakeGemsGenerator(reply, { port });
  cleanups.push(() => server.close());
  return server;
}

const generatorAt = (url: string): ImageGenerator =>
  createGemsHttpGenerator({ url, timeoutMs: 2_000, maxRetries: 1, retry: { baseDelayMs: 1, maxDelayMs: 2 } });

function poolOf(servers: FakeGemsGenerator[], capacity = 1, backoffBaseMs = 10): ImageGeneratorPool {
  const pool = createGeneratorPool(
    servers.map((server) => ({
      name: `gems-http:${new URL(server.url).host}`,
      target: generatorAt(server.url),
      capacity,
      probe: (signal) => probeServer("gems-http", server.url, { signal }),
    })),
    { backoffBaseMs, backoffMaxMs: backoffBaseMs * 8, probeTimeoutMs: 500 },
  );
  cleanups.push(() => pool.close());
  return pool;
}

/** Runs `count` jobs, `parallel` at a time; `afterEach(done)` may act between jobs. */
async function runJobs(generator: ImageGenerator, count: number, parallel: number, between?: (done: number) => Promise<void> | void) {
  let next = 0;
  let done = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < count) {
      const n = next++;
      try {
        await generator.generate({ prompt: `job ${n}` });
      } catch (error) {
        failures.push(error);
      }
      done++;
      await between?.(done);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return failures;
}

const generateCalls = (server: FakeGemsGenerator): number => server.requests.filter((r) => r.method === "POST").length;

describe("server pool", () => {
  it("spreads 60 jobs evenly over 3 servers (max/min calls ≤ 1.3)", async () => {
    const servers = await Promise.all([gemsServer(), gemsServer(), gemsServer()]);
    const pool = poolOf(servers);
    expect(await runJobs(pool, 60, 6)).toEqual([]);
    const calls = servers.map(generateCalls);
    expect(calls.reduce((a, b) => a + b)).toBe(60);
    expect(Math.max(...calls) / Math.min(...calls)).toBeLessThanOrEqual(1.3);
    expect(pool.stats().map((s) => s.calls)).toEqual(calls);
  });

  it("loses no job when a server dies mid-run, sends it nothing while out, and takes it back after a restart", async () => {
    const servers = await Promise.all([gemsServer(), gemsServer(), gemsServer()]);
    const [, victim] = servers as [FakeGemsGenerator, FakeGemsGenerator, FakeGemsGenerator];
    const port = Number(new URL(victim.url).port);
    const pool = poolOf(servers);
    const victimStats = () => pool.stats()[1]!;
    let restarted: FakeGemsGenerator | undefined;
    let callsWhenOut: number | undefined;

    const failures = await runJobs(pool, 60, 3, async (done) => {
      if (done === 15) await victim.close();
      if (callsWhenOut === undefined && !victimStats().healthy) callsWhenOut = victimStats().calls;
      if (done === 35 && !restarted) {
        // While it was out, the pool sent it nothing more.
        expect(victimStats().healthy).toBe(false);
        expect(victimStats().calls).toBe(callsWhenOut);
        restarted = await gemsServer(port);
      }
    });

    expect(failures).toEqual([]);
    expect(callsWhenOut).toBeDefined();
    expect(victimStats().failures).toBeGreaterThanOrEqual(1);
    expect(victimStats().healthy).toBe(true);
    expect(generateCalls(restarted!)).toBeGreaterThan(0);
  });

  it("passes a refusal through without taking the server out", async () => {
    const server = await gemsServer(undefined, () => fastApiError(422, "prompt is too long"));
    const pool = poolOf([server, await gemsServer()]);
    // Fewest calls first: the refusing server is tried first.
    const error = await rejectionOf(pool.generate({ prompt: "x" }));
    expect(error.message).toMatch(/rejected the request \(422\): prompt is too long/);
    expect(pool.stats()[0]).toMatchObject({ healthy: true, failures: 0 });
  });

  it("keeps doubling the backoff of a server whose probe answers while its calls keep failing", async () => {
    // GET (the probe) answers 405, every generate call 503: the server looks up but is not.
    const broken = await gemsServer(undefined, () => fastApiError(503, "model is loading"));
    // Backoffs long enough that the call moving to the other server ends before the next probe.
    const pool = poolOf([broken, await gemsServer(undefined, () => pngReply())], 1, 100);
    const brokenStats = () => pool.stats()[0]!;
    const delays: number[] = [];
    for (let outage = 0; outage < 3; outage++) {
      await expect.poll(() => brokenStats().healthy, { timeout: 2_000, interval: 2 }).toBe(true);
      // The broken server has no more calls than the other, so it is tried first, fails, and the
      // call moves on.
      await pool.generate({ prompt: `try ${outage}` });
      expect(brokenStats().healthy).toBe(false);
      delays.push(brokenStats().probeDelayMs!);
    }
    expect(delays).toEqual([100, 200, 400]);
  });

  it("fails in one line naming each server when all are down", async () => {
    const servers = await Promise.all([gemsServer(), gemsServer()]);
    const pool = poolOf(servers);
    for (const server of servers) await server.close();
    const error = await rejectionOf(pool.generate({ prompt: "x" }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toMatch(/^All 2 image generator servers are failing \(gems-http:127\.0\.0\.1:\d+: .*ECONNREFUSED.*; gems-http:127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(error.message).not.toContain("\n");
  });

  it("honours each server's capacity: a server with #2 takes twice the calls at once", async () => {
    const servers = await Promise.all([gemsServer(), gemsServer()]);
    let peak = [0, 0];
    const pool = createGeneratorPool(
      servers.map((server, i) => ({ name: `s${i}`, target: generatorAt(server.url), capacity: i === 0 ? 2 : 1, probe: async () => "ok" })),
    );
    cleanups.push(() => pool.close());
    const watcher = setInterval(() => (peak = pool.stats().map((s, i) => Math.max(peak[i]!, s.inFlight))), 1);
    await runJobs(pool, 12, 6);
    clearInterval(watcher);
    expect(peak).toEqual([2, 1]);
  });

  it("pools MLLM servers the same way", async () => {
    const fakes: FakeOpenAi[] = await Promise.all([startFakeOpenAi(), startFakeOpenAi()]);
    for (const fake of fakes) cleanups.push(() => fake.close());
    const mllmAt = (url: string): Mllm =>
      createOpenAiCompatibleMllm({ baseUrl: url, model: "m", timeoutMs: 2_000, maxRetries: 0, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    const pool = createMllmPool(fakes.map((fake, i) => ({ name: `m${i}`, target: mllmAt(fake.url), capacity: 4, probe: async () => "ok" })));
    cleanups.push(() => pool.close());
    await fakes[0]!.close();
    const replies = await Promise.all(Array.from({ length: 4 }, () => pool.chat({ messages: [{ role: "user", content: "hi" }] })));
    expect(replies.map((r) => r.content)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(pool.stats()[0]).toMatchObject({ healthy: false });
  });
});
