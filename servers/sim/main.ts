/**
 * `npm run sim-server`: the sim models on a local port, for running the real adapters offline.
 * This is a terminal entry point, so it prints to the console directly.
 */
import { startSimServer } from "./http-server.ts";

const DEFAULT_PORT = 8790;

function portFrom(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const flag = args.indexOf("--port");
  const raw = flag >= 0 ? args[flag + 1] : env["GEMS_SIM_PORT"];
  if (raw === undefined || raw === "") return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`sim-server: the port must be a whole number from 0 to 65535 (got "${raw}"), e.g. --port ${DEFAULT_PORT}.`);
    process.exit(1);
  }
  return port;
}

const server = await startSimServer({
  port: portFrom(process.argv.slice(2), process.env),
  log: (line) => console.log(line),
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
