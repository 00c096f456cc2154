/**
 * `gems serve` (what `npm start` runs): the job service, the web studio and the configured chat
 * bots, until SIGINT or SIGTERM; then it drains, so every job resumes at the next start.
 */
import { simulatedParts } from "../../config/schema.ts";
import type { Runtime } from "../runtime.ts";
import { SERVE_ROLES, startServer } from "../server.ts";
import type { Io } from "./main.ts";

export async function serve(runtime: Runtime, io: Io, options: { role?: string | undefined } = {}): Promise<number> {
  const say = (text: string): void => void io.stdout.write(`${text}\n`);
  const role = options.role ?? "all";
  if (!(SERVE_ROLES as readonly string[]).includes(role)) {
    io.stderr.write(`gems: --role must be one of ${SERVE_ROLES.join(", ")} (got "${role}"). Example: gems serve --role worker\n`);
    return 2;
  }
  const simulated = simulatedParts(runtime.config);
  const modelsDescription =
    simulated.length === 2 ? "simulated MLLM and generator" : `${runtime.mllm.name} and ${runtime.generator.name}`;
  const server = await startServer(runtime, modelsDescription, { role: role as (typeof SERVE_ROLES)[number] });

  if (server.webUrl === null) {
    say(`gems: worker running jobs from the shared queue; /healthz and /metrics at ${server.healthUrl}`);
    say("gems: Ctrl-C stops; running jobs finish their current step and go back to the queue for another worker.");
    await untilAborted(io);
    say("gems: stopping: letting running steps finish…");
    await server.stop();
    say("gems: stopped.");
    return 0;
  }
  if (runtime.config.scaleOut) say(`gems: scaled out as role ${server.role}: jobs in PostgreSQL, queue in Redis`);
  say(`gems: GEMS Studio is open at ${server.webUrl}`);
  if (server.report.resumed > 0) {
    say(`gems: resumed ${server.report.resumed} unfinished job(s) from ${runtime.config.scaleOut ? "the database" : runtime.config.dataDir}`);
  }
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

  await untilAborted(io);
  say("gems: stopping: letting running steps finish…");
  await server.stop();
  say("gems: stopped.");
  return 0;
}

function untilAborted(io: Io): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!io.signal || io.signal.aborted) return resolve();
    io.signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
