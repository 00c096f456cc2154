/**
 * The `gems` command. Exit codes: 0 the job ran to its end, 2 bad input or configuration,
 * 1 a model backend failed after its retries, 130 interrupted.
 */
import { parseArgs } from "node:util";
import { loadConfig, simulatedParts, type Config } from "../../config/schema.ts";
import { ConfigError, GemsError, InputError, describeError } from "../../core/errors.ts";
import { createLogger } from "../../core/logger.ts";
import { createRuntime, describeModels, type Runtime } from "../runtime.ts";
import { checkBackends } from "./backends-command.ts";
import { inspectImage } from "./inspect-command.ts";
import { runInTerminal } from "./run-command.ts";
import { serve } from "./serve-command.ts";
import { migrate } from "./migrate-command.ts";
import { showUsage } from "./usage-command.ts";
import { terminalLogDestination } from "./log-lines.ts";

const USAGE = `Usage:
  gems run "<prompt>" [--skill <id|auto|none>] [--iterations N] [--out DIR] [--seed N] [--json]
           [--image PATH]... [--refine redraw|edit]
  gems skills
  gems backends
  gems inspect <image> [--json]
  gems usage [--since 7d] [--json]
  gems serve [--role all|surfaces|worker]
  gems migrate --to postgres
  gems help

run      generate an image with the GEMS loop, printing each step; writes iter-<n>.png,
         best.png and trajectory.json to DIR (default out/<job id>)
skills   list the skill library
backends check every configured model server: answers or not, what it serves, latency
         (exit 1 when one is down)
inspect  print the job id, iteration, prompt and models GEMS Bot wrote into an image it
         posted or saved (PNG, JPEG, WebP); exit 2 when the file carries none
usage    tokens, images and cost of the jobs stored in the data directory, in total, per
         person and per UTC day (--since 7d, 12h; --json for the report and each job)
serve    start the configured surfaces (what npm start runs); scaled out (GEMS_DATABASE_URL and
         GEMS_REDIS_URL), --role surfaces runs the bots and studio, --role worker runs jobs
migrate  copy GEMS_DATA_DIR's SQLite jobs and images into GEMS_DATABASE_URL (safe to repeat)

Models come from the environment (see README); with none configured, simulated models run.`;

export const EXIT = { ok: 0, backend: 1, input: 2, interrupted: 130 } as const;

export interface Io {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  cwd: string;
  signal?: AbortSignal;
}

export async function main(io: Io): Promise<number> {
  const say = (text: string): void => void io.stderr.write(`${text}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: io.argv,
      allowPositionals: true,
      options: {
        skill: { type: "string" },
        iterations: { type: "string" },
        out: { type: "string" },
        seed: { type: "string" },
        image: { type: "string", multiple: true },
        refine: { type: "string" },
        since: { type: "string" },
        json: { type: "boolean", default: false },
        role: { type: "string" },
        to: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    say(`gems: ${describeError(error)}\n\n${USAGE}`);
    return EXIT.input;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === undefined || command === "help") {
    (command === undefined && !parsed.values.help ? say : (text: string) => void io.stdout.write(`${text}\n`))(USAGE);
    return command === undefined && !parsed.values.help ? EXIT.input : EXIT.ok;
  }
  // Needs no configuration: it only reads a file.
  if (command === "inspect") {
    if (rest.length > 1) {
      say(`gems inspect: one image at a time (got ${rest.length}).`);
      return EXIT.input;
    }
    return inspectImage(rest[0], { out: (line) => void io.stdout.write(`${line}\n`), err: say }, { json: parsed.values.json ?? false });
  }
  if (!["run", "skills", "serve", "backends", "migrate", "usage"].includes(command)) {
    say(`gems: unknown command "${command}".\n\n${USAGE}`);
    return EXIT.input;
  }

  let config: Readonly<Config>;
  try {
    config = loadConfig(io.env, { cwd: io.cwd });
  } catch (error) {
    if (error instanceof ConfigError) {
      say(`gems: configuration problem:\n${error.message}`);
      return EXIT.input;
    }
    throw error;
  }
  // Before the runtime: checking servers must work when one is down or has no model to discover.
  if (command === "backends") return checkBackends(config, (line) => void io.stdout.write(`${line}\n`));
  // Logs go to stderr so stdout stays the job's own output (and valid JSON lines with --json).
  const logger = createLogger(io.env["LOG_LEVEL"] ? config.logLevel : "warn", terminalLogDestination(io.stderr));

  let runtime: Runtime | undefined;
  try {
    runtime = await createRuntime(config, logger, { isServing: command === "serve" });
    if (command === "skills") return listSkills(runtime, io);
    if (command === "usage") {
      const models = runtime.modelNames ?? { mllm: runtime.mllm.name, generator: runtime.generator.name };
      await showUsage(config, models, { since: parsed.values.since, json: parsed.values.json ?? false }, (line) => void io.stdout.write(`${line}\n`));
      return EXIT.ok;
    }
    announceModels(runtime, say);
    if (command === "serve") return await serve(runtime, io, { role: parsed.values.role });
    if (command === "migrate") return await migrate(runtime, io, { to: parsed.values.to });

    const prompt = rest.join(" ");
    const iterations = parseWholeNumber(parsed.values.iterations, "--iterations");
    const seed = parseWholeNumber(parsed.values.seed, "--seed");
    const outcome = await runInTerminal(
      runtime,
      {
        prompt,
        skill: parsed.values.skill,
        iterations,
        seed,
        images: parsed.values.image ?? [],
        refineMode: parsed.values.refine,
        outDir: parsed.values.out,
        json: parsed.values.json ?? false,
        ...(io.signal ? { signal: io.signal } : {}),
      },
      io.stdout,
      io.cwd,
    );
    return outcome === "done" ? EXIT.ok : outcome === "cancelled" ? EXIT.interrupted : EXIT.backend;
  } catch (error) {
    if (error instanceof GemsError) {
      say(`gems: ${error.message}`);
      // By code, not class: any layer may report a bad setting (a taken port, say).
      return error.code === "input" || error.code === "config" ? EXIT.input : EXIT.backend;
    }
    // One line for people; the stack goes to the log, which shows it only at LOG_LEVEL=debug.
    logger.debug({ err: error }, "unexpected error");
    say(`gems: unexpected error: ${describeError(error)}${logger.isLevelEnabled("debug") ? "" : " (LOG_LEVEL=debug shows the details)"}`);
    return EXIT.backend;
  } finally {
    await runtime?.close?.().catch((error: unknown) => logger.warn({ err: error }, "could not close the team skills and the shared connections cleanly"));
  }
}

function parseWholeNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n)) throw new InputError(`${flag} must be a whole number (got "${value}").`);
  return n;
}

function announceModels(runtime: Runtime, say: (text: string) => void): void {
  const simulated = simulatedParts(runtime.config);
  if (simulated.length > 0) {
    say(
      `gems: using the simulated ${simulated.join(" and ")} (offline, deterministic, not a real model). ` +
        "Set GEMS_MLLM_BASE_URL and GEMS_GENERATOR_URL (or OPENAI_API_KEY) to use real models.",
    );
  } else {
    say(`gems: ${describeModels(runtime)}`);
  }
}

function listSkills(runtime: Runtime, io: Io): number {
  const manifest = runtime.skills.manifest();
  if (manifest.length === 0) io.stdout.write(`No skills in ${runtime.config.skillsDir}.\n`);
  for (const skill of manifest) {
    io.stdout.write(`${skill.id} — ${skill.name}\n  ${skill.description.replace(/\s+/g, " ")}\n`);
  }
  for (const problem of runtime.skills.problems()) io.stderr.write(`skipped ${problem.path}: ${problem.problem}\n`);
  return EXIT.ok;
}

/** How long a finished command may take to let go of its last handles before it exits anyway. */
const LINGER_MS = 3_000;

if (process.argv[1] && /gems(\.mjs)?$/.test(process.argv[1])) {
  const controller = new AbortController();
  let interrupts = 0;
  const interrupt = (): void => {
    // The first Ctrl-C stops the job and keeps its best image; a second one leaves at once.
    if (++interrupts > 1) process.exit(EXIT.interrupted);
    controller.abort();
  };
  // A reader that went away (`gems skills | head`) is not an error worth a stack trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT.ok);
    throw error;
  });
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  main({
    argv: process.argv.slice(2),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    signal: controller.signal,
  }).then(
    (code) => {
      process.exitCode = code;
      // Everything is stored and closed by now; a handle a library keeps (a client still
      // reconnecting to a server that went away) must not keep the process up.
      setTimeout(() => process.exit(code), LINGER_MS).unref();
    },
    (error: unknown) => {
      // Only reached when even the configuration could not be read; one line, no key.
      process.stderr.write(`gems: unexpected error: ${describeError(error)}\n`);
      process.exitCode = EXIT.backend;
    },
  );
}
