/**
 * `npm run sim-server`: the sim models on a local port, for running the real adapters offline.
 * This is a terminal entry point, so it prints to the console directly.
 */
import { parseArgs } from "node:util";
import { startSimServer } from "./http-server.ts";
import { createSimGenerator } from "./sim-generator.ts";
import { createSimMllm } from "./sim-mllm.ts";

const DEFAULT_PORT = 8790;

function fail(message: string): never {
  console.error(`sim-server: ${message}`);
  process.exit(1);
}

function wholeNumber(raw: string | undefined, name: string, max: number, fallback: number, example: string): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) fail(`${name} must be a whole number from 0 to ${max} (got "${raw}"), e.g. ${example}.`);
  return n;
}

function imageSize(raw: string | undefined): { width?: number; height?: number } {
  if (raw === undefined || raw === "") return {};
  const side = Number(raw);
  if (!Number.isInteger(side) || side < 32 || side > 2048) fail(`--image-size must be a whole number of pixels from 32 to 2048 (got "${raw}"), e.g. --image-size 128.`);
  return { width: side, height: side };
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string" },
      "mllm-latency": { type: "string" },
      "generator-latency": { type: "string" },
      "image-size": { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  }).values;
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}. Usage: npm run sim-server -- [--port N] [--mllm-latency MS] [--generator-latency MS] [--image-size PX] [--quiet]`);
}

const server = await startSimServer({
  port: wholeNumber(args.port ?? process.env["GEMS_SIM_PORT"], "the port", 65_535, DEFAULT_PORT, `--port ${DEFAULT_PORT}`),
  // Latency makes a demo feel like real models, and lets benchmarks model busy servers.
  mllm: createSimMllm({ latencyMs: wholeNumber(args["mllm-latency"], "--mllm-latency", 600_000, 0, "--mllm-latency 50") }),
  generator: createSimGenerator({
    latencyMs: wholeNumber(args["generator-latency"], "--generator-latency", 600_000, 0, "--generator-latency 150"),
    // Drawing is the sim's own CPU cost, not the model's: a benchmark that shares its cores with
    // the workers asks for smaller pictures (a request that names a size still gets it).
    ...imageSize(args["image-size"]),
  }),
  ...(args.quiet ? {} : { log: (line: string) => console.log(line) }),
});
console.log(`GEMS sim server (simulated models, not real ones) listening on ${server.url}`);
console.log("Point GEMS Bot at it with:");
console.log(`  GEMS_MLLM=openai-compatible GEMS_MLLM_BASE_URL=${server.url}/v1 GEMS_MLLM_MODEL=gems-sim GEMS_MLLM_API_KEY=sim`);
console.log(`  GEMS_GENERATOR=gems-http GEMS_GENERATOR_URL=${server.url}/generate`);
console.log(`  (or the Images API: GEMS_GENERATOR=openai GEMS_GENERATOR_URL=${server.url}/v1 GEMS_GENERATOR_API_KEY=sim)`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`sim-server: ${signal} received, stopping`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`sim-server: could not stop cleanly: ${String(error)}`);
        process.exit(1);
      },
    );
  });
}
