/**
 * `gems serve` (what `npm start` runs). The chat surfaces are not built yet; until they are,
 * serve says so plainly and, so that a fresh clone still shows the product, runs one demo job
 * in the terminal.
 */
import { join } from "node:path";
import type { Runtime } from "../runtime.ts";
import type { Io } from "./main.ts";
import { runInTerminal } from "./run-command.ts";

export const DEMO_PROMPT = 'three red cubes on the left of a blue sphere, a sign that says "OPEN"';

export async function serve(runtime: Runtime, io: Io): Promise<number> {
  const say = (text: string): void => void io.stderr.write(`${text}\n`);
  const configured = [runtime.config.discord ? "Discord" : null, runtime.config.slack ? "Slack" : null].filter(Boolean);
  if (configured.length > 0) {
    say(`gems: ${configured.join(" and ")} credentials are set, but this build has no ${configured.join(" or ")} bot yet.`);
    return 2;
  }
  say("gems: no chat platform is configured, so this runs one demo job in the terminal.");
  say(`gems: try your own with: npx gems run "<prompt>"   (list skills with: npx gems skills)`);
  const outcome = await runInTerminal(
    runtime,
    { prompt: DEMO_PROMPT, outDir: join(runtime.config.dataDir, "demo"), json: false, ...(io.signal ? { signal: io.signal } : {}) },
    io.stdout,
    io.cwd,
  );
  return outcome === "done" ? 0 : outcome === "cancelled" ? 130 : 1;
}
