/**
 * All settings, from the environment (and `.env` when present), validated once at start-up into
 * a frozen object that is passed down. Nothing else in the project reads process.env.
 *
 * Each area keeps its variables, examples, types and checks in a file of its own, since they
 * change together: models.ts, jobs-settings.ts, surfaces.ts, scale-out.ts, usage-settings.ts,
 * moderation-settings.ts (field builders in env-fields.ts). This file joins them into one schema
 * and one Config, and holds the general settings (the loop, directories, log level).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import { rememberSecrets } from "../core/secrets.ts";
import type { PriceTable, Quotas } from "../core/jobs/usage-ledger.ts";
import { choice, integer, optionalText, type Env } from "./env-fields.ts";
import { JOBS_EXAMPLES, JOBS_FIELDS, jobsOf, type JobsConfig } from "./jobs-settings.ts";
import { MODEL_EXAMPLES, MODEL_FIELDS, modelsOf, type GeneratorConfig, type MllmConfig } from "./models.ts";
import { MODERATION_EXAMPLES, MODERATION_FIELDS, moderationOf, type ModerationConfig } from "./moderation-settings.ts";
import { SCALE_OUT_EXAMPLES, SCALE_OUT_FIELDS, scaleOutOf, type ScaleOutConfig } from "./scale-out.ts";
import { SURFACE_EXAMPLES, SURFACE_FIELDS, surfacesOf, type SurfacesConfig } from "./surfaces.ts";
import { USAGE_FIELDS, usageOf } from "./usage-settings.ts";

export type { Env, ServerSpec } from "./env-fields.ts";
export type { JobsConfig } from "./jobs-settings.ts";
export type { GeneratorConfig, MllmConfig } from "./models.ts";
export { simulatedParts } from "./models.ts";
export type { ModerationConfig } from "./moderation-settings.ts";
export type { ScaleOutConfig } from "./scale-out.ts";
export type { WebAuthConfig } from "./surfaces.ts";

/** A good value for each variable, quoted in the error when the given one is wrong. */
const EXAMPLES: Record<string, string> = {
  ...MODEL_EXAMPLES,
  GEMS_MAX_ITERATIONS: "5",
  GEMS_VERIFY_CONCURRENCY: "8",
  GEMS_VERIFY_MODE: "batch",
  GEMS_LOOP: "fast",
  GEMS_REFINE_MODE: "edit",
  GEMS_DATA_DIR: "./data",
  GEMS_SKILLS_DIR: "./skills",
  GEMS_SIM_LATENCY_MS: "0",
  ...JOBS_EXAMPLES,
  ...MODERATION_EXAMPLES,
  ...SURFACE_EXAMPLES,
  LOG_LEVEL: "info",
  ...SCALE_OUT_EXAMPLES,
};

// The variables in the order their errors are listed; each area's in its own file.
const envSchema = z.object({
  ...MODEL_FIELDS,
  GEMS_MAX_ITERATIONS: integer(1, 10, 5),
  GEMS_VERIFY_CONCURRENCY: integer(1, 64, 8),
  // The cheaper loop: one verifier call per image, one call for experience + prompt.
  GEMS_VERIFY_MODE: choice(["per-question", "batch"] as const),
  GEMS_LOOP: choice(["full", "fast"] as const),
  GEMS_REFINE_MODE: choice(["redraw", "edit"] as const),
  GEMS_DATA_DIR: optionalText,
  GEMS_SKILLS_DIR: optionalText,
  GEMS_SIM_LATENCY_MS: integer(0, 60_000, 0),
  ...JOBS_FIELDS,
  ...USAGE_FIELDS,
  ...MODERATION_FIELDS,
  ...SURFACE_FIELDS,
  LOG_LEVEL: choice(["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const),
  ...SCALE_OUT_FIELDS,
});

export interface Config {
  mllm: MllmConfig;
  generator: GeneratorConfig;
  maxIterations: number;
  verifyConcurrency: number;
  /** How new jobs verify and refine; per-question + full is the GEMS paper's loop. */
  modes: { verify: "per-question" | "batch"; loop: "full" | "fast"; refine: "redraw" | "edit" };
  dataDir: string;
  skillsDir: string;
  discord: SurfacesConfig["discord"];
  slack: SurfacesConfig["slack"];
  web: SurfacesConfig["web"];
  jobs: JobsConfig;
  scaleOut: ScaleOutConfig | null;
  /** The price table (GEMS_PRICES) and daily quotas; see core/jobs/usage-ledger.ts. */
  usage: { prices: PriceTable; quotas: Quotas };
  moderation: ModerationConfig;
  logLevel: string;
}

/**
 * The library shipped in this repository. The default, rather than ./skills, so that `gems`
 * finds its skills from any working directory.
 */
export const BUNDLED_SKILLS_DIR = resolve(import.meta.dirname, "../skills");

/**
 * Parses settings from `env`; `envFile` (default `.env` in the working directory) fills in only
 * what `env` leaves unset. Throws ConfigError with one line per bad variable.
 */
export function loadConfig(env: Env, options: { envFile?: string | null; cwd?: string } = {}): Readonly<Config> {
  const cwd = options.cwd ?? process.cwd();
  const merged: Env = { ...readEnvFile(options.envFile === undefined ? resolve(cwd, ".env") : options.envFile), ...env };
  // Before anything can fail: from here on no message, log line or stored error shows them.
  rememberSecrets(...Object.entries(merged).filter(([name]) => name in envSchema.shape && isSecret(name)).map(([, value]) => value));
  const parsed = envSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? "configuration");
      const given = merged[variable];
      const shown = isSecret(variable) ? "(hidden)" : JSON.stringify(given);
      const example = EXAMPLES[variable];
      return `${variable}: ${issue.message} (got ${shown})${example ? `. Example: ${variable}=${example}` : ""}`;
    });
    throw new ConfigError(lines.join("\n"));
  }
  const e = parsed.data;
  const problems: string[] = [];

  // The areas add their problems in this order, so the lines read as before.
  const { mllm, generator } = modelsOf(e, merged, cwd, problems);
  const { discord, slack, web } = surfacesOf(e, problems);
  const scaleOut = scaleOutOf(e, problems);
  const usage = usageOf(e, cwd, problems);
  const moderation = moderationOf(e, cwd, problems);
  if (problems.length > 0) throw new ConfigError(problems.join("\n"));

  const config: Config = {
    mllm,
    generator,
    maxIterations: e.GEMS_MAX_ITERATIONS,
    verifyConcurrency: e.GEMS_VERIFY_CONCURRENCY,
    modes: { verify: e.GEMS_VERIFY_MODE ?? "per-question", loop: e.GEMS_LOOP ?? "full", refine: e.GEMS_REFINE_MODE ?? "redraw" },
    dataDir: resolve(cwd, e.GEMS_DATA_DIR ?? "data"),
    skillsDir: e.GEMS_SKILLS_DIR ? resolve(cwd, e.GEMS_SKILLS_DIR) : BUNDLED_SKILLS_DIR,
    discord,
    slack,
    web,
    jobs: jobsOf(e, merged, generator),
    scaleOut,
    usage,
    moderation,
    logLevel: e.LOG_LEVEL ?? "info",
  };
  return deepFreeze(config);
}

function readEnvFile(path: string | null): Env {
  if (path === null || !existsSync(path)) return {};
  try {
    return parseEnv(readFileSync(path, "utf8")) as Env;
  } catch (error) {
    throw new ConfigError(`${path}: could not be read as KEY=value lines`, { cause: error });
  }
}

// Connection URLs may carry a password.
const isSecret = (variable: string): boolean => /TOKEN|KEY|SECRET|DATABASE_URL|REDIS_URL/.test(variable);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
