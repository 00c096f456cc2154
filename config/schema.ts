/**
 * All settings, from the environment (and `.env` when present), validated once at start-up into
 * a frozen object that is passed down. Nothing else in the project reads process.env.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import { parseComfyWorkflow, type ComfyWorkflow } from "../core/models/comfyui-workflow.ts";
import { rememberSecrets } from "../core/secrets.ts";
import { NO_PRICES, type PriceTable, type Quotas } from "../core/jobs/usage-ledger.ts";
import { parsePrices, parseQuota } from "./usage-settings.ts";

/** A good value for each variable, quoted in the error when the given one is wrong. */
const EXAMPLES: Record<string, string> = {
  GEMS_MLLM: "openai-compatible",
  GEMS_MLLM_BASE_URL: "http://127.0.0.1:30000/v1",
  GEMS_MLLM_MODEL: "Qwen/Qwen3-VL-8B-Instruct",
  GEMS_MLLM_TIMEOUT_MS: "120000",
  GEMS_MLLM_MAX_RETRIES: "3",
  GEMS_MLLM_THINKING_TOKENS: "4096",
  GEMS_MLLM_TOKEN_LIMIT: "per-role",
  GEMS_GENERATOR: "gems-http",
  GEMS_GENERATOR_URL: "http://gpu-1:8000/generate,http://gpu-2:8000/generate#2",
  GEMS_GENERATOR_TIMEOUT_MS: "300000",
  GEMS_GENERATOR_MAX_RETRIES: "2",
  GEMS_GENERATOR_SIZE: "1024x1024",
  GEMS_COMFYUI_WORKFLOW: "./workflows/sdxl-api.json",
  GEMS_COMFYUI_IMAGE_WORKFLOW: "./workflows/sdxl-img2img-api.json",
  GEMS_GENERATOR_STEPS: "25",
  GEMS_GENERATOR_SERVER_CAPACITY: "1",
  GEMS_MLLM_SERVER_CAPACITY: "16",
  GEMS_MAX_ITERATIONS: "5",
  GEMS_VERIFY_CONCURRENCY: "8",
  GEMS_VERIFY_MODE: "batch",
  GEMS_LOOP: "fast",
  GEMS_REFINE_MODE: "edit",
  GEMS_DATA_DIR: "./data",
  GEMS_SKILLS_DIR: "./skills",
  GEMS_SIM_LATENCY_MS: "0",
  GEMS_MAX_RUNNING_JOBS: "8",
  GEMS_GENERATOR_CONCURRENCY: "2",
  GEMS_MLLM_CONCURRENCY: "16",
  GEMS_MAX_QUEUED_PER_PERSON: "5",
  GEMS_RATE_LIMIT_PER_HOUR: "30",
  GEMS_ADMINS: "discord:123456789012345678,slack:T0123ABCD:U0123ABCD,web:ada",
  GEMS_FEEDBACK_REQUESTER_ONLY: "false",
  GEMS_RETENTION_DAYS: "30",
  GEMS_OUTAGE_BUDGET_MS: "90000",
  GEMS_PREVIEW_INTERVAL_MS: "2500",
  GEMS_RESULT_BY: "votes",
  GEMS_MODERATION: "openai",
  GEMS_MODERATION_URL: "https://api.openai.com/v1",
  GEMS_MODERATION_FAIL: "closed",
  GEMS_MODERATION_WORDS: "./moderation-words.txt",
  DISCORD_API_URL: "https://discord.com/api",
  SLACK_API_URL: "https://slack.com/api/",
  SLACK_PORT: "3000",
  GEMS_WEB_PORT: "8787",
  GEMS_WEB_HOST: "127.0.0.1",
  GEMS_WEB_AUTH: "oidc",
  GEMS_WEB_OIDC_ISSUER: "https://slack.com",
  GEMS_WEB_OIDC_CLIENT_ID: "2141029472.691202649728",
  GEMS_WEB_OIDC_CLIENT_SECRET: "<from the provider's app settings>",
  GEMS_WEB_PUBLIC_URL: "https://studio.example.com",
  GEMS_WEB_COOKIE_SECRET: "<32 or more random characters, e.g. from openssl rand -base64 32>",
  GEMS_WEB_OIDC_PERSON_CLAIM: "email",
  GEMS_WEB_OIDC_SCOPES: "openid profile email",
  GEMS_WEB_SESSION_HOURS: "12",
  LOG_LEVEL: "info",
  GEMS_DATABASE_URL: "postgres://gems@db.internal:5432/gems",
  GEMS_DATABASE_SCHEMA: "gems",
  GEMS_REDIS_URL: "redis://queue.internal:6379",
  GEMS_REDIS_PREFIX: "gems",
  GEMS_JOB_LOCK_MS: "10000",
  GEMS_WORKER_PORT: "8788",
  GEMS_INSTANCE: "worker-1",
};

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

const url = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const trimmed = value.trim();
    try {
      const parsed = new URL(trimmed);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http");
    } catch {
      ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
      return z.NEVER;
    }
    return trimmed.replace(/\/+$/, "");
  });

/** Like url, but kept exactly as given: an OIDC issuer must equal the provider's own, trailing slash included (Auth0 has one). */
const exactUrl = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const trimmed = value.trim();
    if (!/^https?:\/\//.test(trimmed) || !URL.canParse(trimmed)) {
      ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
      return z.NEVER;
    }
    return trimmed;
  });
/** A connection URL of one of `protocols` (e.g. postgres:, redis:). */
function serviceUrl(protocols: readonly string[], what: string) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      const trimmed = value.trim();
      let protocol = "";
      try {
        protocol = new URL(trimmed).protocol;
      } catch {
        // Reported below.
      }
      if (!protocols.includes(protocol)) {
        ctx.addIssue({ code: "custom", message: `must be a ${what} URL (${protocols.map((p) => `${p}//`).join(" or ")})` });
        return z.NEVER;
      }
      return trimmed;
    });
}

function pattern(regex: RegExp, message: string) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      if (!regex.test(value.trim())) {
        ctx.addIssue({ code: "custom", message });
        return z.NEVER;
      }
      return value.trim();
    });
}

function integer(min: number, max: number, fallback: number) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return fallback;
      const n = Number(value.trim());
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });
}

function choice<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      const normalized = value.trim().toLowerCase();
      if (!(values as readonly string[]).includes(normalized)) {
        ctx.addIssue({ code: "custom", message: `must be one of ${values.join(", ")}` });
        return z.NEVER;
      }
      return normalized as T[number];
    });
}

function flag(fallback: boolean) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return fallback;
      const normalized = value.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(normalized)) return true;
      if (["false", "0", "no", "off"].includes(normalized)) return false;
      ctx.addIssue({ code: "custom", message: "must be true or false" });
      return z.NEVER;
    });
}

// Person ids carry their surface ("discord:123") so an admin on one platform is not one on another.
const personIds = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const ids = (value ?? "")
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id !== "");
    const bad = ids.find((id) => !/^[a-z][a-z0-9-]*:\S+$/.test(id));
    if (bad !== undefined) {
      ctx.addIssue({ code: "custom", message: `must be a comma-separated list of surface:id person ids ("${bad}" has no surface)` });
      return z.NEVER;
    }
    return [...new Set(ids)];
  });

const size = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const match = /^(\d{2,5})x(\d{2,5})$/.exec(value.trim());
    if (!match) {
      ctx.addIssue({ code: "custom", message: "must be WIDTHxHEIGHT in pixels" });
      return z.NEVER;
    }
    return { width: Number(match[1]), height: Number(match[2]) };
  });

/** One server of a pool: its URL and how many calls it takes at once. */
export interface ServerSpec {
  url: string;
  capacity: number;
}

/**
 * A comma-separated list of http(s) URLs, each with an optional `#N` capacity suffix:
 * "http://gpu-1:8188#2,http://gpu-2:8188". Capacity 0 in a spec means "not given"; the loader
 * fills in the default for the generator kind.
 */
const serverList = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const specs: ServerSpec[] = [];
    for (const raw of value.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
      const match = /^(.*?)(?:#(\d+))?$/.exec(raw) as RegExpExecArray;
      const address = (match[1] as string).replace(/\/+$/, "");
      const capacity = match[2] === undefined ? 0 : Number(match[2]);
      try {
        const parsed = new URL(address);
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http");
      } catch {
        ctx.addIssue({ code: "custom", message: `must be an http:// or https:// URL, or several separated by commas, each may end in #capacity ("${raw.replace(/\/\/[^@/]*@/, "//***@")}" is not)` });
        return z.NEVER;
      }
      if (match[2] !== undefined && (capacity < 1 || capacity > 256)) {
        ctx.addIssue({ code: "custom", message: `capacity #${match[2]} must be a whole number from 1 to 256` });
        return z.NEVER;
      }
      specs.push({ url: address, capacity });
    }
    if (specs.length === 0) return undefined;
    if (new Set(specs.map((spec) => spec.url)).size !== specs.length) {
      ctx.addIssue({ code: "custom", message: "lists the same server twice; give it a capacity (#N) instead" });
      return z.NEVER;
    }
    return specs;
  });

const envSchema = z.object({
  GEMS_MLLM: choice(["openai-compatible", "sim"] as const),
  GEMS_MLLM_BASE_URL: serverList,
  GEMS_MLLM_SERVER_CAPACITY: integer(1, 256, 16),
  GEMS_MLLM_MODEL: optionalText,
  GEMS_MLLM_API_KEY: optionalText,
  GEMS_MLLM_TIMEOUT_MS: integer(1000, 3_600_000, 120_000),
  GEMS_MLLM_MAX_RETRIES: integer(0, 10, 3),
  // Reasoning models: room to think on top of each role's answer, or no limit sent at all.
  GEMS_MLLM_THINKING_TOKENS: integer(0, 1_000_000, 4096),
  GEMS_MLLM_TOKEN_LIMIT: choice(["per-role", "none"] as const),
  OPENAI_API_KEY: optionalText,
  GEMS_GENERATOR: choice(["gems-http", "openai", "comfyui", "a1111", "sim"] as const),
  GEMS_GENERATOR_URL: serverList,
  GEMS_GENERATOR_SERVER_CAPACITY: integer(1, 256, 1),
  GEMS_COMFYUI_WORKFLOW: optionalText,
  GEMS_COMFYUI_IMAGE_WORKFLOW: optionalText,
  GEMS_GENERATOR_NEGATIVE_PROMPT: optionalText,
  GEMS_GENERATOR_STEPS: integer(1, 500, 20),
  GEMS_GENERATOR_MODEL: optionalText,
  GEMS_GENERATOR_API_KEY: optionalText,
  GEMS_GENERATOR_TIMEOUT_MS: integer(1000, 3_600_000, 300_000),
  GEMS_GENERATOR_MAX_RETRIES: integer(0, 10, 2),
  GEMS_GENERATOR_SIZE: size,
  GEMS_MAX_ITERATIONS: integer(1, 10, 5),
  GEMS_VERIFY_CONCURRENCY: integer(1, 64, 8),
  // The cheaper loop: one verifier call per image, one call for experience + prompt.
  GEMS_VERIFY_MODE: choice(["per-question", "batch"] as const),
  GEMS_LOOP: choice(["full", "fast"] as const),
  GEMS_REFINE_MODE: choice(["redraw", "edit"] as const),
  GEMS_DATA_DIR: optionalText,
  GEMS_SKILLS_DIR: optionalText,
  GEMS_SIM_LATENCY_MS: integer(0, 60_000, 0),
  GEMS_MAX_RUNNING_JOBS: integer(1, 256, 8),
  GEMS_GENERATOR_CONCURRENCY: integer(1, 64, 2),
  GEMS_MLLM_CONCURRENCY: integer(1, 256, 16),
  GEMS_MAX_QUEUED_PER_PERSON: integer(1, 1000, 5),
  GEMS_RATE_LIMIT_PER_HOUR: integer(0, 100_000, 30),
  GEMS_ADMINS: personIds,
  GEMS_FEEDBACK_REQUESTER_ONLY: flag(false),
  GEMS_RETENTION_DAYS: integer(1, 3650, 30),
  GEMS_OUTAGE_BUDGET_MS: integer(0, 3_600_000, 90_000),
  GEMS_PREVIEW_INTERVAL_MS: integer(0, 60_000, 2_500),
  // Team votes: whether the most voted image (👍 − 👎) is a job's result instead of the one that passed most.
  GEMS_RESULT_BY: choice(["passes", "votes"] as const),
  // Parsed in loadConfig (config/usage-settings.ts): a file path needs the working directory.
  GEMS_PRICES: optionalText,
  GEMS_QUOTA_PERSON_DAILY: optionalText,
  GEMS_QUOTA_CHANNEL_DAILY: optionalText,
  // The word list always runs; "openai" adds OpenAI's moderation endpoint after it.
  GEMS_MODERATION: choice(["words", "openai"] as const),
  GEMS_MODERATION_URL: url,
  GEMS_MODERATION_API_KEY: optionalText,
  GEMS_MODERATION_MODEL: optionalText,
  GEMS_MODERATION_FAIL: choice(["closed", "open"] as const),
  GEMS_MODERATION_WORDS: optionalText,
  DISCORD_TOKEN: optionalText,
  DISCORD_APPLICATION_ID: optionalText,
  DISCORD_GUILD_ID: optionalText,
  DISCORD_API_URL: url,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_APP_TOKEN: optionalText,
  SLACK_API_URL: url,
  SLACK_PORT: integer(1, 65_535, 3000),
  GEMS_WEB_PORT: integer(0, 65_535, 8787),
  GEMS_WEB_HOST: optionalText,
  GEMS_WEB_AUTH: choice(["oidc", "none"] as const),
  GEMS_WEB_OIDC_ISSUER: exactUrl,
  GEMS_WEB_OIDC_CLIENT_ID: optionalText,
  GEMS_WEB_OIDC_CLIENT_SECRET: optionalText,
  GEMS_WEB_PUBLIC_URL: url,
  GEMS_WEB_COOKIE_SECRET: optionalText,
  GEMS_WEB_OIDC_PERSON_CLAIM: optionalText,
  GEMS_WEB_OIDC_SCOPES: optionalText,
  GEMS_WEB_SESSION_HOURS: integer(1, 24 * 30, 12),
  LOG_LEVEL: choice(["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const),
  GEMS_DATABASE_URL: serviceUrl(["postgres:", "postgresql:"], "PostgreSQL"),
  GEMS_DATABASE_SCHEMA: pattern(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case identifier (letters, digits, _)"),
  GEMS_REDIS_URL: serviceUrl(["redis:", "rediss:"], "Redis"),
  GEMS_REDIS_PREFIX: pattern(/^[A-Za-z0-9_.-]{1,64}$/, "must be letters, digits, _, . or - (at most 64)"),
  GEMS_JOB_LOCK_MS: integer(1000, 600_000, 10_000),
  GEMS_WORKER_PORT: integer(0, 65_535, 8788),
  GEMS_INSTANCE: pattern(/^[A-Za-z0-9_.:-]{1,100}$/, "must be letters, digits, _, ., : or -"),
});

export type MllmConfig =
  | { kind: "sim"; latencyMs: number }
  | {
      kind: "openai-compatible";
      /** The first server's base URL; `servers` has them all. */
      baseUrl: string | undefined;
      servers: ServerSpec[];
      /** Whether calls go through a pool (several servers, or a capacity given). */
      isPooled: boolean;
      /** Undefined means "ask the server which model it serves". */
      model: string | undefined;
      apiKey: string | undefined;
      timeoutMs: number;
      maxRetries: number;
      thinkingTokens: number;
      tokenLimit: "per-role" | "none";
    };

export type GeneratorConfig =
  /** `isLatencySet`: GEMS_SIM_LATENCY_MS was given; otherwise `gems serve` draws slowly enough to show previews. */
  | { kind: "sim"; latencyMs: number; isLatencySet: boolean }
  | { kind: "gems-http"; url: string; servers: ServerSpec[]; isPooled: boolean; timeoutMs: number; maxRetries: number }
  | {
      kind: "comfyui" | "a1111";
      servers: ServerSpec[];
      isPooled: boolean;
      /** comfyui only: the API-format workflow, checked at start-up, and where it was read from. */
      workflow: { path: string; nodes: ComfyWorkflow } | null;
      /** comfyui only: the workflow with a LoadImage node marked {{image}}, for edits and references; null for text only. */
      imageWorkflow: { path: string; nodes: ComfyWorkflow } | null;
      negativePrompt: string;
      steps: number;
      size: { width: number; height: number };
      timeoutMs: number;
      maxRetries: number;
    }
  | {
      kind: "openai";
      baseUrl: string | undefined;
      servers: ServerSpec[];
      isPooled: boolean;
      model: string;
      apiKey: string | undefined;
      timeoutMs: number;
      maxRetries: number;
      size: { width: number; height: number } | undefined;
    };

/** How the job service shares the models among people and jobs; see core/jobs/README.md. */
export interface JobsConfig {
  /** Jobs whose agent loop runs at the same time. */
  maxRunningJobs: number;
  /** Generator calls in flight across all jobs. */
  generatorConcurrency: number;
  /** MLLM calls in flight across all jobs. */
  mllmConcurrency: number;
  /** Jobs one person may have waiting (not yet running). */
  maxQueuedPerPerson: number;
  /** New jobs per person in any 60 minutes; 0 turns the limit off. */
  rateLimitPerHour: number;
  /** Surface-qualified person ids ("discord:123") who may stop, pick or continue anyone's job. */
  admins: string[];
  /** When true, only the requester (and admins) may give feedback on a job. */
  feedbackRequesterOnly: boolean;
  /** Finished jobs older than this are deleted with their images. */
  retentionDays: number;
  /** How long a job waits out failing model servers before it fails. */
  outageBudgetMs: number;
  /** At most one live preview per iteration per this many ms; 0 turns previews off. */
  previewIntervalMs: number;
  /** A job's result: the image that passed most (`passes`) or the most voted one (`votes`, ties by passes). */
  resultBy: "passes" | "votes";
}

/**
 * Scaled out (README, Scaling out): PostgreSQL holds records, memory, events and images; Redis
 * holds the BullMQ queue, live events and the global limits. Null: one process on SQLite.
 */
export interface ScaleOutConfig {
  databaseUrl: string;
  databaseSchema: string;
  redisUrl: string;
  redisPrefix: string;
  /** BullMQ lock duration; a dead worker's jobs resume within about twice this. */
  jobLockMs: number;
  /** The worker role's own /healthz and /metrics listener (0: any free port). */
  workerPort: number;
  /** This process's name in metrics and logs; undefined: host name and process id. */
  instance: string | undefined;
}

export interface Config {
  mllm: MllmConfig;
  generator: GeneratorConfig;
  maxIterations: number;
  verifyConcurrency: number;
  /** How new jobs verify and refine; per-question + full is the GEMS paper's loop. */
  modes: { verify: "per-question" | "batch"; loop: "full" | "fast"; refine: "redraw" | "edit" };
  dataDir: string;
  skillsDir: string;
  discord: { token: string; applicationId: string; guildId: string | undefined; apiUrl: string | undefined } | null;
  slack: {
    botToken: string;
    signingSecret: string | undefined;
    appToken: string | undefined;
    apiUrl: string | undefined;
    port: number;
  } | null;
  web: { port: number; host: string; auth: WebAuthConfig };
  jobs: JobsConfig;
  scaleOut: ScaleOutConfig | null;
  /** The price table (GEMS_PRICES) and daily quotas; see core/jobs/usage-ledger.ts. */
  usage: { prices: PriceTable; quotas: Quotas };
  moderation: ModerationConfig;
  logLevel: string;
}

/** The moderation step before any generation (core/moderation). */
export interface ModerationConfig {
  /** A word list file (one entry a line); undefined: the built-in DEFAULT_BLOCKED_WORDS. */
  wordsFile: string | undefined;
  openai: { baseUrl: string; apiKey: string; model: string | undefined } | null;
  /** What an unreachable endpoint means: refuse (closed, default) or let the word list decide (open). */
  failMode: "closed" | "open";
}

/**
 * Studio sign-in. "none" on a loopback address is the default; anywhere else it must be chosen
 * on purpose (isOnPurpose), since then anyone who reaches the studio can act as anyone.
 */
export type WebAuthConfig =
  | { mode: "none"; isOnPurpose: boolean }
  | {
      mode: "oidc";
      issuer: string;
      clientId: string;
      clientSecret: string | undefined;
      /** Where people open the studio; the redirect URL is <publicUrl>/auth/callback. Unset: the listening address. */
      publicUrl: string | undefined;
      cookieSecret: string;
      /** Claim naming the person for non-Slack providers (default sub): the id is oidc:<issuer host>:<claim>. */
      personClaim: string | undefined;
      scopes: string;
      sessionHours: number;
    };

export type Env = Record<string, string | undefined>;

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

  const mllmKind = e.GEMS_MLLM ?? (e.GEMS_MLLM_BASE_URL || e.OPENAI_API_KEY ? "openai-compatible" : "sim");
  const mllm: MllmConfig =
    mllmKind === "sim"
      ? { kind: "sim", latencyMs: e.GEMS_SIM_LATENCY_MS }
      : {
          kind: "openai-compatible",
          baseUrl: e.GEMS_MLLM_BASE_URL?.[0]?.url,
          ...poolOf(e.GEMS_MLLM_BASE_URL ?? [], e.GEMS_MLLM_SERVER_CAPACITY, merged["GEMS_MLLM_SERVER_CAPACITY"]),
          // OpenAI itself needs a model name; a self-hosted server can be asked for its own.
          model: e.GEMS_MLLM_MODEL ?? (e.GEMS_MLLM_BASE_URL ? undefined : "gpt-4.1-mini"),
          apiKey: e.GEMS_MLLM_API_KEY ?? e.OPENAI_API_KEY,
          timeoutMs: e.GEMS_MLLM_TIMEOUT_MS,
          maxRetries: e.GEMS_MLLM_MAX_RETRIES,
          thinkingTokens: e.GEMS_MLLM_THINKING_TOKENS,
          tokenLimit: e.GEMS_MLLM_TOKEN_LIMIT ?? "per-role",
        };
  if (mllm.kind === "openai-compatible" && !mllm.baseUrl && !mllm.apiKey) {
    problems.push(
      `GEMS_MLLM: openai-compatible needs GEMS_MLLM_BASE_URL or an API key (got neither). Example: GEMS_MLLM_BASE_URL=${EXAMPLES["GEMS_MLLM_BASE_URL"]}`,
    );
  }

  const generatorKind =
    e.GEMS_GENERATOR ?? (e.GEMS_GENERATOR_URL ? "gems-http" : e.OPENAI_API_KEY ? "openai" : "sim");
  const generatorServers = e.GEMS_GENERATOR_URL ?? [];
  const generatorPool = poolOf(generatorServers, e.GEMS_GENERATOR_SERVER_CAPACITY, merged["GEMS_GENERATOR_SERVER_CAPACITY"]);
  let generator: GeneratorConfig;
  if (generatorKind === "gems-http" || generatorKind === "comfyui" || generatorKind === "a1111") {
    if (generatorServers.length === 0) {
      const example = generatorKind === "gems-http" ? EXAMPLES["GEMS_GENERATOR_URL"] : generatorKind === "comfyui" ? "http://127.0.0.1:8188" : "http://127.0.0.1:7860";
      problems.push(`GEMS_GENERATOR_URL: required when GEMS_GENERATOR=${generatorKind} (got nothing). Example: GEMS_GENERATOR_URL=${example}`);
    }
  }
  if (generatorKind === "gems-http") {
    generator = { kind: "gems-http", url: generatorServers[0]?.url ?? "", ...generatorPool, timeoutMs: e.GEMS_GENERATOR_TIMEOUT_MS, maxRetries: e.GEMS_GENERATOR_MAX_RETRIES };
  } else if (generatorKind === "comfyui" || generatorKind === "a1111") {
    let workflow: { path: string; nodes: ComfyWorkflow } | null = null;
    let imageWorkflow: { path: string; nodes: ComfyWorkflow } | null = null;
    if (generatorKind === "comfyui") {
      const loaded = loadWorkflow(e.GEMS_COMFYUI_WORKFLOW, cwd);
      if (Array.isArray(loaded)) problems.push(...loaded);
      else workflow = loaded;
      if (e.GEMS_COMFYUI_IMAGE_WORKFLOW) {
        const image = loadWorkflow(e.GEMS_COMFYUI_IMAGE_WORKFLOW, cwd, "GEMS_COMFYUI_IMAGE_WORKFLOW");
        if (Array.isArray(image)) problems.push(...image);
        else imageWorkflow = image;
      }
    }
    generator = {
      kind: generatorKind,
      ...generatorPool,
      workflow,
      imageWorkflow,
      negativePrompt: e.GEMS_GENERATOR_NEGATIVE_PROMPT ?? "",
      steps: e.GEMS_GENERATOR_STEPS,
      size: e.GEMS_GENERATOR_SIZE ?? { width: 1024, height: 1024 },
      timeoutMs: e.GEMS_GENERATOR_TIMEOUT_MS,
      maxRetries: e.GEMS_GENERATOR_MAX_RETRIES,
    };
  } else if (generatorKind === "openai") {
    const apiKey = e.GEMS_GENERATOR_API_KEY ?? e.OPENAI_API_KEY;
    if (!apiKey && !e.GEMS_GENERATOR_URL) {
      problems.push("GEMS_GENERATOR: openai needs GEMS_GENERATOR_API_KEY or OPENAI_API_KEY (got neither). Example: GEMS_GENERATOR_API_KEY=sk-...");
    }
    generator = {
      kind: "openai",
      baseUrl: generatorServers[0]?.url,
      ...generatorPool,
      model: e.GEMS_GENERATOR_MODEL ?? "gpt-image-1",
      apiKey,
      timeoutMs: e.GEMS_GENERATOR_TIMEOUT_MS,
      maxRetries: e.GEMS_GENERATOR_MAX_RETRIES,
      size: e.GEMS_GENERATOR_SIZE,
    };
  } else {
    generator = { kind: "sim", latencyMs: e.GEMS_SIM_LATENCY_MS, isLatencySet: (merged["GEMS_SIM_LATENCY_MS"] ?? "").trim() !== "" };
  }

  const discordSet = [e.DISCORD_TOKEN, e.DISCORD_APPLICATION_ID].filter(Boolean).length;
  if (discordSet === 1) {
    problems.push(
      e.DISCORD_TOKEN
        ? "DISCORD_APPLICATION_ID: required with DISCORD_TOKEN (got nothing). Example: DISCORD_APPLICATION_ID=123456789012345678"
        : "DISCORD_TOKEN: required with DISCORD_APPLICATION_ID (got nothing). Example: DISCORD_TOKEN=<the bot token from the Developer Portal>",
    );
  }
  const discord =
    e.DISCORD_TOKEN && e.DISCORD_APPLICATION_ID
      ? { token: e.DISCORD_TOKEN, applicationId: e.DISCORD_APPLICATION_ID, guildId: e.DISCORD_GUILD_ID, apiUrl: e.DISCORD_API_URL }
      : null;

  if (e.SLACK_BOT_TOKEN && !e.SLACK_APP_TOKEN && !e.SLACK_SIGNING_SECRET) {
    problems.push(
      "SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN unless SLACK_APP_TOKEN selects Socket Mode (got neither). Example: SLACK_SIGNING_SECRET=<from Basic Information in the app settings>",
    );
  }
  const slack = e.SLACK_BOT_TOKEN
    ? {
        botToken: e.SLACK_BOT_TOKEN,
        signingSecret: e.SLACK_SIGNING_SECRET,
        appToken: e.SLACK_APP_TOKEN,
        apiUrl: e.SLACK_API_URL,
        port: e.SLACK_PORT,
      }
    : null;

  const webHost = e.GEMS_WEB_HOST ?? "127.0.0.1";
  const webAuth = webAuthOf(e, webHost, problems);
  if (Boolean(e.GEMS_DATABASE_URL) !== Boolean(e.GEMS_REDIS_URL)) {
    problems.push(
      e.GEMS_DATABASE_URL
        ? `GEMS_REDIS_URL: required with GEMS_DATABASE_URL, the two scale out together (got nothing). Example: GEMS_REDIS_URL=${EXAMPLES["GEMS_REDIS_URL"]}`
        : `GEMS_DATABASE_URL: required with GEMS_REDIS_URL, the two scale out together (got nothing). Example: GEMS_DATABASE_URL=${EXAMPLES["GEMS_DATABASE_URL"]}`,
    );
  }
  const scaleOut: ScaleOutConfig | null =
    e.GEMS_DATABASE_URL && e.GEMS_REDIS_URL
      ? {
          databaseUrl: e.GEMS_DATABASE_URL,
          databaseSchema: e.GEMS_DATABASE_SCHEMA ?? "public",
          redisUrl: e.GEMS_REDIS_URL,
          redisPrefix: e.GEMS_REDIS_PREFIX ?? "gems",
          jobLockMs: e.GEMS_JOB_LOCK_MS,
          workerPort: e.GEMS_WORKER_PORT,
          instance: e.GEMS_INSTANCE,
        }
      : null;

  const usage = usageOf(e, cwd, problems);

  let moderationOpenAi: ModerationConfig["openai"] = null;
  if (e.GEMS_MODERATION === "openai") {
    const apiKey = e.GEMS_MODERATION_API_KEY ?? e.OPENAI_API_KEY;
    if (!apiKey) problems.push("GEMS_MODERATION: openai needs GEMS_MODERATION_API_KEY or OPENAI_API_KEY (got neither). Example: GEMS_MODERATION_API_KEY=<your OpenAI API key>");
    else moderationOpenAi = { baseUrl: e.GEMS_MODERATION_URL ?? "https://api.openai.com/v1", apiKey, model: e.GEMS_MODERATION_MODEL };
  }
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
    web: { port: e.GEMS_WEB_PORT, host: webHost, auth: webAuth },
    jobs: {
      maxRunningJobs: e.GEMS_MAX_RUNNING_JOBS,
      // A pool can take as many calls as its servers together; the old default of 2 would idle them.
      generatorConcurrency:
        merged["GEMS_GENERATOR_CONCURRENCY"]?.trim() || !("isPooled" in generator && generator.isPooled)
          ? e.GEMS_GENERATOR_CONCURRENCY
          : Math.max(e.GEMS_GENERATOR_CONCURRENCY, generator.servers.reduce((sum, server) => sum + server.capacity, 0)),
      mllmConcurrency: e.GEMS_MLLM_CONCURRENCY,
      maxQueuedPerPerson: e.GEMS_MAX_QUEUED_PER_PERSON,
      rateLimitPerHour: e.GEMS_RATE_LIMIT_PER_HOUR,
      admins: e.GEMS_ADMINS,
      feedbackRequesterOnly: e.GEMS_FEEDBACK_REQUESTER_ONLY,
      retentionDays: e.GEMS_RETENTION_DAYS,
      outageBudgetMs: e.GEMS_OUTAGE_BUDGET_MS,
      previewIntervalMs: e.GEMS_PREVIEW_INTERVAL_MS,
      resultBy: e.GEMS_RESULT_BY ?? "passes",
    },
    scaleOut,
    usage,
    moderation: {
      wordsFile: e.GEMS_MODERATION_WORDS ? resolve(cwd, e.GEMS_MODERATION_WORDS) : undefined,
      openai: moderationOpenAi,
      failMode: e.GEMS_MODERATION_FAIL ?? "closed",
    },
    logLevel: e.LOG_LEVEL ?? "info",
  };
  return deepFreeze(config);
}

function usageOf(e: z.infer<typeof envSchema>, cwd: string, problems: string[]): Config["usage"] {
  const parsed = parsePrices(e.GEMS_PRICES, cwd);
  if (typeof parsed === "string") problems.push(parsed);
  const prices = parsed && typeof parsed !== "string" ? parsed : NO_PRICES;
  const quotaOf = (variable: "GEMS_QUOTA_PERSON_DAILY" | "GEMS_QUOTA_CHANNEL_DAILY") => {
    const quota = parseQuota(variable, e[variable], prices.currency);
    if (typeof quota === "string") {
      problems.push(quota);
      return null;
    }
    if (quota?.kind === "money" && Object.keys(prices.models).length === 0) {
      problems.push(`${variable}: a quota in money needs prices; set GEMS_PRICES, or give the quota in images. Example: ${variable}="50 images"`);
      return null;
    }
    return quota;
  };
  return { prices, quotas: { personDaily: quotaOf("GEMS_QUOTA_PERSON_DAILY"), channelDaily: quotaOf("GEMS_QUOTA_CHANNEL_DAILY") } };
}

/**
 * Fills in each server's capacity (its `#N`, else the variable's value) and says whether calls
 * go through a pool: several servers, or a capacity asked for, since one plain URL has always
 * been called directly with no cap of its own.
 */
function poolOf(specs: ServerSpec[], capacity: number, capacityGiven: string | undefined): { servers: ServerSpec[]; isPooled: boolean } {
  const isPooled = specs.length > 1 || specs.some((spec) => spec.capacity > 0) || Boolean(capacityGiven?.trim());
  return { servers: specs.map((spec) => ({ url: spec.url, capacity: spec.capacity || capacity })), isPooled };
}

/** Reads and checks the ComfyUI workflow; a list of one-line problems when it will not do. */
function loadWorkflow(
  path: string | undefined,
  cwd: string,
  variable: "GEMS_COMFYUI_WORKFLOW" | "GEMS_COMFYUI_IMAGE_WORKFLOW" = "GEMS_COMFYUI_WORKFLOW",
): { path: string; nodes: ComfyWorkflow } | string[] {
  const example = `Example: ${variable}=${EXAMPLES[variable]}`;
  if (!path) return [`${variable}: required when GEMS_GENERATOR=comfyui (got nothing): your workflow saved with Workflow → Export (API). ${example}`];
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    return [`${variable}: cannot read ${full} (${code}). ${example}`];
  }
  const parsed = parseComfyWorkflow(text);
  if (!parsed.ok) return parsed.problems.map((problem) => `${variable}: ${full} ${problem}`);
  // The text workflow runs without an image; the image workflow is useless without one.
  const hasImage = parsed.value.placeholders.has("image");
  if (variable === "GEMS_COMFYUI_WORKFLOW" && hasImage) {
    return [`${variable}: ${full} uses {{image}}, but this workflow runs without an image; put the LoadImage workflow in GEMS_COMFYUI_IMAGE_WORKFLOW`];
  }
  if (variable === "GEMS_COMFYUI_IMAGE_WORKFLOW" && !hasImage) {
    return [`${variable}: ${full} has no {{image}} placeholder; write "{{image}}" as the image input of its LoadImage node. ${example}`];
  }
  return { path: full, nodes: parsed.value.workflow };
}

function readEnvFile(path: string | null): Env {
  if (path === null || !existsSync(path)) return {};
  try {
    return parseEnv(readFileSync(path, "utf8")) as Env;
  } catch (error) {
    throw new ConfigError(`${path}: could not be read as KEY=value lines`, { cause: error });
  }
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
const MIN_COOKIE_SECRET_CHARS = 32;

/** The studio's sign-in; a studio reachable from other machines without it is refused here, in one line. */
function webAuthOf(e: z.infer<typeof envSchema>, host: string, problems: string[]): WebAuthConfig {
  if (e.GEMS_WEB_AUTH !== "oidc") {
    if (e.GEMS_WEB_AUTH === undefined && !LOOPBACK_HOSTS.has(host)) {
      problems.push(
        `GEMS_WEB_AUTH: the studio would listen on ${host}, which other machines can reach, without sign-in. Set GEMS_WEB_AUTH=oidc (with GEMS_WEB_OIDC_ISSUER, GEMS_WEB_OIDC_CLIENT_ID, GEMS_WEB_COOKIE_SECRET), or GEMS_WEB_AUTH=none to let anyone who reaches it act as anyone, or GEMS_WEB_HOST=127.0.0.1.`,
      );
    }
    return { mode: "none", isOnPurpose: e.GEMS_WEB_AUTH === "none" };
  }
  const missing = (variable: string, what: string) =>
    problems.push(`${variable}: required with GEMS_WEB_AUTH=oidc (${what}). Example: ${variable}=${EXAMPLES[variable] ?? ""}`);
  if (!e.GEMS_WEB_OIDC_ISSUER) missing("GEMS_WEB_OIDC_ISSUER", "the provider's issuer URL, where /.well-known/openid-configuration is");
  if (!e.GEMS_WEB_OIDC_CLIENT_ID) missing("GEMS_WEB_OIDC_CLIENT_ID", "the client id of the studio's app at the provider");
  if (!e.GEMS_WEB_COOKIE_SECRET) missing("GEMS_WEB_COOKIE_SECRET", "the key that signs session cookies");
  else if (e.GEMS_WEB_COOKIE_SECRET.length < MIN_COOKIE_SECRET_CHARS) {
    problems.push(
      `GEMS_WEB_COOKIE_SECRET: must be at least ${MIN_COOKIE_SECRET_CHARS} characters (got ${e.GEMS_WEB_COOKIE_SECRET.length}). Example: GEMS_WEB_COOKIE_SECRET=$(openssl rand -base64 32)`,
    );
  }
  if (!e.GEMS_WEB_PUBLIC_URL && !LOOPBACK_HOSTS.has(host)) {
    missing("GEMS_WEB_PUBLIC_URL", "the address people open, so the provider can send them back to <url>/auth/callback");
  }
  return {
    mode: "oidc",
    issuer: e.GEMS_WEB_OIDC_ISSUER ?? "",
    clientId: e.GEMS_WEB_OIDC_CLIENT_ID ?? "",
    clientSecret: e.GEMS_WEB_OIDC_CLIENT_SECRET,
    publicUrl: e.GEMS_WEB_PUBLIC_URL,
    cookieSecret: e.GEMS_WEB_COOKIE_SECRET ?? "",
    personClaim: e.GEMS_WEB_OIDC_PERSON_CLAIM,
    scopes: e.GEMS_WEB_OIDC_SCOPES ?? "openid profile email",
    sessionHours: e.GEMS_WEB_SESSION_HOURS,
  };
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

/** Whether the agent runs on simulated models, for the notice printed at start-up. */
export function simulatedParts(config: Config): string[] {
  const parts: string[] = [];
  if (config.mllm.kind === "sim") parts.push("MLLM");
  if (config.generator.kind === "sim") parts.push("image generator");
  return parts;
}
