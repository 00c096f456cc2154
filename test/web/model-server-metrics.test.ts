import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGemsHttpGenerator } from "../../core/models/gems-http-generator.ts";
import { probeServer } from "../../core/models/server-probe.ts";
import { createGeneratorPool, type ImageGeneratorPool } from "../../core/models/server-pool.ts";
import { pngReply, startFakeGemsGenerator, type FakeGemsGenerator } from "../fakes/gems-generator-server.ts";
import { call, startStudio, type StudioHarness } from "./studio-harness.ts";

let servers: FakeGemsGenerator[];
let pool: ImageGeneratorPool;
let harness: StudioHarness;

beforeAll(async () => {
  servers = await Promise.all([startFakeGemsGenerator(() => pngReply()), startFakeGemsGenerator(() => pngReply())]);
  pool = createGeneratorPool(
    servers.map((server, i) => ({
      name: `gems-http:gpu-${i}`,
      target: createGemsHttpGenerator({ url: server.url, maxRetries: 0 }),
      capacity: 2,
      probe: (signal) => probeServer("gems-http", server.url, { signal }),
    })),
  );
  harness = await startStudio({ generator: pool, modelServers: () => pool.stats().map((stats) => ({ ...stats, model: "generator" as const })) });
});
afterAll(async () => {
  await harness.close();
  pool.close();
  await Promise.all(servers.map((server) => server.close()));
});

describe("/metrics with a generator pool", () => {
  it("gives each pooled server its health, capacity, calls and failures", async () => {
    const answer = await call(harness.url, "POST", "/api/jobs", { prompt: "a red cube", iterations: 2, name: "Ada" });
    expect(answer.status).toBe(201);
    await harness.finished(answer.body.jobId as string);
    const text = await (await fetch(`${harness.url}/metrics`)).text();
    const sample = (name: string, server: string): number => {
      const match = new RegExp(`^${name}\\{model="generator",server="${server}"\\} (\\d+)$`, "m").exec(text);
      expect(match, `${name} for ${server}`).not.toBeNull();
      return Number(match?.[1]);
    };
    expect(text).toContain("# TYPE gems_model_server_calls_total counter");
    const calls = ["gems-http:gpu-0", "gems-http:gpu-1"].map((server) => sample("gems_model_server_calls_total", server));
    expect(calls.reduce((a, b) => a + b)).toBe(servers.reduce((sum, server) => sum + server.requests.length, 0));
    expect(sample("gems_model_server_healthy", "gems-http:gpu-0")).toBe(1);
    expect(sample("gems_model_server_capacity", "gems-http:gpu-1")).toBe(2);
    expect(sample("gems_model_server_failures_total", "gems-http:gpu-0")).toBe(0);
    expect(sample("gems_model_server_in_flight", "gems-http:gpu-0")).toBe(0);
  });
});
