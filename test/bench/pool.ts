/**
 * Generator pool scaling: 60 image calls, all submitted at once, over a pool of 1, 2 and 4
 * loopback generator servers that draw like a GPU (one image at a time, DRAW_MS each), through
 * the real gems-http adapter and the real pool. The lower bound is ceil(60 / servers) × DRAW_MS.
 */
import { createGemsHttpGenerator } from "../../core/models/gems-http-generator.ts";
import { probeServer } from "../../core/models/server-probe.ts";
import { createGeneratorPool } from "../../core/models/server-pool.ts";
import { pngReply, startFakeGemsGenerator, type FakeGemsGenerator } from "../fakes/gems-generator-server.ts";

const JOBS = 60;
const DRAW_MS = 100;

/** A server that holds a lock while it draws, as one GPU runs one diffusion at a time. */
async function gpuServer(): Promise<FakeGemsGenerator> {
  let lock: Promise<void> = Promise.resolve();
  return startFakeGemsGenerator(async () => {
    const previous = lock;
    let release = () => {};
    lock = new Promise((resolve) => (release = resolve));
    await previous;
    await new Promise((resolve) => setTimeout(resolve, DRAW_MS));
    release();
    return pngReply();
  });
}

async function makespan(servers: number): Promise<{ ms: number; calls: number[] }> {
  const fakes = await Promise.all(Array.from({ length: servers }, gpuServer));
  const pool = createGeneratorPool(
    fakes.map((fake, i) => ({
      name: `gpu-${i}`,
      target: createGemsHttpGenerator({ url: fake.url, timeoutMs: 120_000, maxRetries: 0 }),
      capacity: 1,
      probe: (signal) => probeServer("gems-http", fake.url, { signal }),
    })),
  );
  try {
    const started = performance.now();
    await Promise.all(Array.from({ length: JOBS }, (_, n) => pool.generate({ prompt: `job ${n}` })));
    return { ms: performance.now() - started, calls: pool.stats().map((s) => s.calls) };
  } finally {
    pool.close();
    await Promise.all(fakes.map((fake) => fake.close()));
  }
}

export async function benchPool(): Promise<string> {
  const rows: string[] = [];
  let single = 0;
  let scale4 = 0;
  for (const servers of [1, 2, 4]) {
    const { ms, calls } = await makespan(servers);
    if (servers === 1) single = ms;
    const bound = Math.ceil(JOBS / servers) * DRAW_MS;
    const speedup = single / ms;
    if (servers === 4) scale4 = speedup;
    rows.push(
      `| ${servers} | ${(ms / 1000).toFixed(2)} s | ${(bound / 1000).toFixed(2)} s | ${(ms / bound).toFixed(3)} | ${speedup.toFixed(2)}× | ${calls.join(" / ")} |`,
    );
  }
  return [
    `## Generator pool: ${JOBS} image calls over 1, 2 and 4 servers (\`pool\`)`,
    "",
    "| servers | makespan | lower bound | makespan ÷ bound | throughput vs 1 server | calls per server |",
    "|---:|---:|---:|---:|---:|---|",
    ...rows,
    "",
    `Throughput from 1 to 4 servers: ${scale4.toFixed(2)}× (target ≥ 3.6×). Each server draws one image at a time, ${DRAW_MS} ms each.`,
  ].join("\n");
}
