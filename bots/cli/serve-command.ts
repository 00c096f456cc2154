/**
 * `gems serve` (what `npm start` runs): the job service, the web studio and the configured chat
 * bots, until SIGINT or SIGTERM; then it drains, so every job resumes at the next start.
 */
import { simulatedParts } from "../../config/schema.ts";
import type { Runtime } from "../runtime.ts";
import { startServer } from "../server.ts";
import type { Io } from "./main.ts";

export async function serve(runtime: Runtime, io: Io): Promise<number> {
  const say = (text: string): void => void io.stdout.write(`${text}\n`);
  const simulated = simulatedParts(runtime.config);
  const modelsDescription =
    simulated.length === 2 ? "simulated MLLM and generator" : `${runtime.mllm.name} and ${runtime.generator.name}`;
  const server = await startServer(runtime, modelsDescription);

  say(`gems: GEMS Studio is open at ${server.webUrl}`);
  if (server.report.resumed > 0) say(`gems: resumed ${server.report.resumed} unfinished job(s) from ${runtime.config.dataDir}`);
  if (server.chatSurfaces.length > 0) {
    say(`gems: connected to ${server.chatSurfaces.join(" and ")}`);
  } else {
    say(
      "gems: no chat platform is configured. To add one, set DISCORD_TOKEN and DISCORD_APPLICATION_ID " +
        "(bots/discord/README.md) or SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (bots/slack/README.md).",
    );
  }
  if (simulated.length > 0) {
    say("gems: for real models, set GEMS_MLLM_BASE_URL and GEMS_GENERATOR_URL, or OPENAI_API_KEY (README.md, Real models).");
  }
  say("gems: Ctrl-C stops; running jobs finish their current step and resume at the next start.");

  await new Promise<void>((resolve) => {
    if (!io.signal || io.signal.aborted) return resolve();
    io.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  say("gems: stopping: letting running steps finish…");
  await server.stop();
  say("gems: stopped.");
  return 0;
}
