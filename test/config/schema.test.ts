import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { loadConfig, simulatedParts } from "../../config/schema.ts";
import { configLoaderIn } from "./load-config.ts";

const { load, configError } = configLoaderIn("/srv/gems");

describe("loadConfig", () => {
  it("falls back to simulated models when no endpoint is configured", () => {
    const config = load({});
    expect(config.mllm.kind).toBe("sim");
    expect(config.generator.kind).toBe("sim");
    expect(simulatedParts(config)).toEqual(["MLLM", "image generator"]);
    expect(config.maxIterations).toBe(5);
    expect(config.dataDir).toBe("/srv/gems/data");
  });

  it("selects the real adapters from their URLs", () => {
    const config = load({ GEMS_MLLM_BASE_URL: "http://127.0.0.1:30000/v1/", GEMS_GENERATOR_URL: "http://127.0.0.1:8000/generate" });
    expect(config.mllm).toMatchObject({ kind: "openai-compatible", baseUrl: "http://127.0.0.1:30000/v1", model: undefined });
    expect(config.generator).toMatchObject({ kind: "gems-http", url: "http://127.0.0.1:8000/generate" });
    expect(simulatedParts(config)).toEqual([]);
  });

  it("uses OpenAI for both models when only OPENAI_API_KEY is set", () => {
    const config = load({ OPENAI_API_KEY: "sk-test" });
    expect(config.mllm).toMatchObject({ kind: "openai-compatible", model: "gpt-4.1-mini", apiKey: "sk-test" });
    expect(config.generator).toMatchObject({ kind: "openai", model: "gpt-image-1", apiKey: "sk-test" });
  });

  it("names the variable, the problem and a good value for an out-of-range number", () => {
    expect(configError({ GEMS_MAX_ITERATIONS: "11" })).toBe(
      'GEMS_MAX_ITERATIONS: must be a whole number from 1 to 10 (got "11"). Example: GEMS_MAX_ITERATIONS=5',
    );
  });

  it("rejects a URL that is not http", () => {
    expect(configError({ GEMS_GENERATOR_URL: "localhost:8000" })).toMatch(/^GEMS_GENERATOR_URL: must be an http:\/\/ or https:\/\/ URL/);
  });

  it("rejects an unknown backend kind", () => {
    expect(configError({ GEMS_MLLM: "llama" })).toMatch(/^GEMS_MLLM: must be one of openai-compatible, sim \(got "llama"\)/);
  });

  it("never repeats a secret in its message", () => {
    const message = configError({ DISCORD_TOKEN: "super-secret-token" });
    expect(message).toMatch(/^DISCORD_APPLICATION_ID: required with DISCORD_TOKEN/);
    expect(message).not.toContain("super-secret-token");
  });

  it("asks for a generator URL when gems-http is forced without one", () => {
    expect(configError({ GEMS_GENERATOR: "gems-http" })).toMatch(/^GEMS_GENERATOR_URL: required when GEMS_GENERATOR=gems-http/);
  });

  it("asks for a signing secret or an app token with a Slack bot token", () => {
    expect(configError({ SLACK_BOT_TOKEN: "xoxb-1" })).toMatch(/^SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN/);
  });

  it("reports every bad variable, one per line", () => {
    expect(configError({ GEMS_MAX_ITERATIONS: "0", SLACK_PORT: "http" }).split("\n")).toHaveLength(2);
  });

  it("reads .env for what the environment leaves unset", () => {
    const dir = mkdtempSync(join(tmpdir(), "gems-config-"));
    try {
      writeFileSync(join(dir, ".env"), "GEMS_MAX_ITERATIONS=3\nGEMS_DATA_DIR=state\n");
      const config = loadConfig({ GEMS_DATA_DIR: "other" }, { cwd: dir });
      expect(config.maxIterations).toBe(3);
      expect(config.dataDir).toBe(join(dir, "other"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the job service safe limits when none are set", () => {
    expect(load({}).jobs).toEqual({
      maxRunningJobs: 8,
      generatorConcurrency: 2,
      mllmConcurrency: 16,
      maxQueuedPerPerson: 5,
      rateLimitPerHour: 30,
      admins: [],
      feedbackRequesterOnly: false,
      retentionDays: 30,
      outageBudgetMs: 90_000,
      previewIntervalMs: 2_500,
      resultBy: "passes",
    });
  });

  it("reads GEMS_RESULT_BY and refuses a value that is neither passes nor votes", () => {
    expect(load({ GEMS_RESULT_BY: "votes" }).jobs.resultBy).toBe("votes");
    expect(configError({ GEMS_RESULT_BY: "likes" })).toMatch(/^GEMS_RESULT_BY: must be one of passes, votes \(got "likes"\)\. Example: GEMS_RESULT_BY=votes$/);
  });

  it("reads the preview interval, where 0 turns previews off, and refuses a negative one", () => {
    expect(load({ GEMS_PREVIEW_INTERVAL_MS: "0" }).jobs.previewIntervalMs).toBe(0);
    expect(load({ GEMS_PREVIEW_INTERVAL_MS: "4000" }).jobs.previewIntervalMs).toBe(4000);
    expect(configError({ GEMS_PREVIEW_INTERVAL_MS: "-1" })).toMatch(
      /^GEMS_PREVIEW_INTERVAL_MS: must be a whole number from 0 to 60000 \(got "-1"\)\. Example: GEMS_PREVIEW_INTERVAL_MS=2500$/,
    );
  });

  it("remembers whether the sim latency was set, so gems serve can draw slowly enough for previews", () => {
    expect(load({}).generator).toEqual({ kind: "sim", latencyMs: 0, isLatencySet: false });
    expect(load({ GEMS_SIM_LATENCY_MS: "0" }).generator).toEqual({ kind: "sim", latencyMs: 0, isLatencySet: true });
  });

  it("reads the job service limits from their variables", () => {
    const config = load({
      GEMS_MAX_RUNNING_JOBS: "12",
      GEMS_GENERATOR_CONCURRENCY: "4",
      GEMS_MLLM_CONCURRENCY: "32",
      GEMS_MAX_QUEUED_PER_PERSON: "3",
      GEMS_RATE_LIMIT_PER_HOUR: "0",
      GEMS_FEEDBACK_REQUESTER_ONLY: "yes",
      GEMS_RETENTION_DAYS: "7",
      GEMS_OUTAGE_BUDGET_MS: "60000",
    });
    expect(config.jobs).toMatchObject({
      maxRunningJobs: 12,
      generatorConcurrency: 4,
      mllmConcurrency: 32,
      maxQueuedPerPerson: 3,
      rateLimitPerHour: 0,
      feedbackRequesterOnly: true,
      retentionDays: 7,
      outageBudgetMs: 60_000,
    });
  });

  it("reads admins as a comma list of surface-qualified ids, without duplicates", () => {
    expect(load({ GEMS_ADMINS: " discord:42, slack:U1 ,,discord:42" }).jobs.admins).toEqual(["discord:42", "slack:U1"]);
  });

  it("rejects an admin id without its surface", () => {
    expect(configError({ GEMS_ADMINS: "discord:42,12345" })).toMatch(
      /^GEMS_ADMINS: must be a comma-separated list of surface:id person ids \("12345" has no surface\)/,
    );
  });

  it("rejects a yes/no setting that is neither", () => {
    expect(configError({ GEMS_FEEDBACK_REQUESTER_ONLY: "maybe" })).toBe(
      'GEMS_FEEDBACK_REQUESTER_ONLY: must be true or false (got "maybe"). Example: GEMS_FEEDBACK_REQUESTER_ONLY=false',
    );
  });

  it("rejects zero jobs running at once", () => {
    expect(configError({ GEMS_MAX_RUNNING_JOBS: "0" })).toMatch(/^GEMS_MAX_RUNNING_JOBS: must be a whole number from 1 to 256/);
  });

  it("uses the bundled skills unless GEMS_SKILLS_DIR says otherwise", () => {
    expect(load({}).skillsDir).toBe(join(import.meta.dirname, "../../skills"));
    expect(load({ GEMS_SKILLS_DIR: "my-skills" }).skillsDir).toBe("/srv/gems/my-skills");
  });

  it("runs the reference loop unless GEMS_VERIFY_MODE, GEMS_LOOP or GEMS_REFINE_MODE say otherwise", () => {
    expect(load({}).modes).toEqual({ verify: "per-question", loop: "full", refine: "redraw" });
    expect(load({ GEMS_VERIFY_MODE: "Batch", GEMS_LOOP: " fast ", GEMS_REFINE_MODE: "EDIT" }).modes).toEqual({ verify: "batch", loop: "fast", refine: "edit" });
  });

  it("names the refine modes it accepts", () => {
    expect(configError({ GEMS_REFINE_MODE: "inpaint" })).toBe('GEMS_REFINE_MODE: must be one of redraw, edit (got "inpaint"). Example: GEMS_REFINE_MODE=edit');
  });

  it("names the loop modes it accepts", () => {
    expect(configError({ GEMS_VERIFY_MODE: "all" })).toBe(
      'GEMS_VERIFY_MODE: must be one of per-question, batch (got "all"). Example: GEMS_VERIFY_MODE=batch',
    );
    expect(configError({ GEMS_LOOP: "quick" })).toBe('GEMS_LOOP: must be one of full, fast (got "quick"). Example: GEMS_LOOP=fast');
  });

  it("returns a frozen object", () => {
    const config = load({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mllm)).toBe(true);
    expect(Object.isFrozen(config.jobs.admins)).toBe(true);
  });
});

describe("generator kinds, server lists and the ComfyUI workflow", () => {
  const dir = mkdtempSync(join(tmpdir(), "gems-config-"));
  const workflowPath = join(dir, "workflow.json");
  writeFileSync(
    workflowPath,
    JSON.stringify({
      "6": { class_type: "CLIPTextEncode", inputs: { text: "{{prompt}}" } },
      "9": { class_type: "SaveImage", inputs: { filename_prefix: "gems" } },
    }),
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const { load, configError } = configLoaderIn(dir);

  it("reads several generator servers with per-server capacities, and pools them", () => {
    const config = load({ GEMS_GENERATOR: "a1111", GEMS_GENERATOR_URL: "http://gpu-1:7860#2, http://gpu-2:7860/" });
    expect(config.generator).toMatchObject({
      kind: "a1111",
      isPooled: true,
      servers: [
        { url: "http://gpu-1:7860", capacity: 2 },
        { url: "http://gpu-2:7860", capacity: 1 },
      ],
    });
    // The pool's servers together take 3 calls; the job service's generator limit follows.
    expect(config.jobs.generatorConcurrency).toBe(3);
  });

  it("keeps one plain URL unpooled, as it always was", () => {
    const config = load({ GEMS_GENERATOR_URL: "http://127.0.0.1:8000/generate" });
    expect(config.generator).toMatchObject({ kind: "gems-http", isPooled: false, url: "http://127.0.0.1:8000/generate" });
    expect(config.jobs.generatorConcurrency).toBe(2);
  });

  it("pools the MLLM servers too", () => {
    const config = load({ GEMS_MLLM_BASE_URL: "http://a:30000/v1,http://b:30000/v1", GEMS_MLLM_MODEL: "qwen" });
    expect(config.mllm).toMatchObject({ kind: "openai-compatible", baseUrl: "http://a:30000/v1", isPooled: true });
  });

  it("refuses a bad server list in one line", () => {
    expect(configError({ GEMS_GENERATOR_URL: "http://a:1,ftp://b" })).toMatch(/^GEMS_GENERATOR_URL: must be an http:\/\/ or https:\/\/ URL, or several separated by commas.*\("ftp:\/\/b" is not\)/);
    expect(configError({ GEMS_GENERATOR_URL: "http://a:1#0" })).toMatch(/^GEMS_GENERATOR_URL: capacity #0 must be a whole number from 1 to 256/);
    expect(configError({ GEMS_GENERATOR_URL: "http://a:1,http://a:1" })).toMatch(/lists the same server twice/);
  });

  it("loads a marked ComfyUI workflow", () => {
    const config = load({ GEMS_GENERATOR: "comfyui", GEMS_GENERATOR_URL: "http://127.0.0.1:8188", GEMS_COMFYUI_WORKFLOW: "workflow.json" });
    expect(config.generator.kind).toBe("comfyui");
    expect(config.generator.kind === "comfyui" && config.generator.workflow?.path).toBe(workflowPath);
  });

  it("says what is wrong with a missing or unmarked workflow, one line each", () => {
    expect(configError({ GEMS_GENERATOR: "comfyui", GEMS_GENERATOR_URL: "http://127.0.0.1:8188" })).toMatch(/^GEMS_COMFYUI_WORKFLOW: required when GEMS_GENERATOR=comfyui/);
    expect(configError({ GEMS_GENERATOR: "comfyui", GEMS_GENERATOR_URL: "http://127.0.0.1:8188", GEMS_COMFYUI_WORKFLOW: "nope.json" })).toMatch(
      /^GEMS_COMFYUI_WORKFLOW: cannot read .*nope\.json \(ENOENT\)/,
    );
    writeFileSync(join(dir, "unmarked.json"), JSON.stringify({ "6": { class_type: "CLIPTextEncode", inputs: { text: "a cat {{colour}}" } } }));
    const lines = configError({ GEMS_GENERATOR: "comfyui", GEMS_COMFYUI_WORKFLOW: "unmarked.json" }).split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^GEMS_GENERATOR_URL: required when GEMS_GENERATOR=comfyui/);
    expect(lines[1]).toMatch(/^GEMS_COMFYUI_WORKFLOW: .*unmarked\.json node "6" \(CLIPTextEncode\) input "text": unknown placeholder \{\{colour\}\}/);
    expect(lines[2]).toMatch(/has no \{\{prompt\}\} placeholder/);
  });
});

describe("studio sign-in settings", () => {
  const oidc = {
    GEMS_WEB_AUTH: "oidc",
    GEMS_WEB_OIDC_ISSUER: "https://slack.com",
    GEMS_WEB_OIDC_CLIENT_ID: "2141029472.691202649728",
    GEMS_WEB_OIDC_CLIENT_SECRET: "e1b9e11dfcd19c1982d5de12921e17e8c",
    GEMS_WEB_COOKIE_SECRET: "c".repeat(40),
    GEMS_WEB_PUBLIC_URL: "https://studio.example.com/",
  };

  it("serves a loopback studio without sign-in by default", () => {
    expect(load({}).web).toEqual({ port: 8787, host: "127.0.0.1", auth: { mode: "none", isOnPurpose: false } });
  });

  it("refuses a studio other machines can reach without sign-in, in one line naming GEMS_WEB_AUTH", () => {
    const message = configError({ GEMS_WEB_HOST: "0.0.0.0" });
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toMatch(/^GEMS_WEB_AUTH: the studio would listen on 0\.0\.0\.0, which other machines can reach, without sign-in\. Set GEMS_WEB_AUTH=oidc/);
  });

  it("serves it without sign-in when GEMS_WEB_AUTH=none says so on purpose", () => {
    expect(load({ GEMS_WEB_HOST: "0.0.0.0", GEMS_WEB_AUTH: "none" }).web.auth).toEqual({ mode: "none", isOnPurpose: true });
  });

  it("reads the OIDC settings, keeping the issuer exactly as given", () => {
    const config = load({ ...oidc, GEMS_WEB_HOST: "0.0.0.0", GEMS_WEB_OIDC_ISSUER: "https://tenant.auth0.com/" });
    expect(config.web.auth).toEqual({
      mode: "oidc",
      issuer: "https://tenant.auth0.com/",
      clientId: "2141029472.691202649728",
      clientSecret: "e1b9e11dfcd19c1982d5de12921e17e8c",
      publicUrl: "https://studio.example.com",
      cookieSecret: "c".repeat(40),
      personClaim: undefined,
      scopes: "openid profile email",
      sessionHours: 12,
    });
  });

  it("names each missing OIDC setting with an example, and never shows the secrets", () => {
    const message = configError({ GEMS_WEB_AUTH: "oidc", GEMS_WEB_HOST: "0.0.0.0", GEMS_WEB_COOKIE_SECRET: "too-short-secret" });
    expect(message).toMatch(/^GEMS_WEB_OIDC_ISSUER: required with GEMS_WEB_AUTH=oidc .*Example: GEMS_WEB_OIDC_ISSUER=https:\/\/slack\.com$/m);
    expect(message).toMatch(/^GEMS_WEB_OIDC_CLIENT_ID: required/m);
    expect(message).toMatch(/^GEMS_WEB_COOKIE_SECRET: must be at least 32 characters \(got 16\)/m);
    expect(message).toMatch(/^GEMS_WEB_PUBLIC_URL: required/m);
    expect(message).not.toContain("too-short-secret");
  });

  it("refuses an unknown GEMS_WEB_AUTH", () => {
    expect(configError({ GEMS_WEB_AUTH: "ldap" })).toMatch(/^GEMS_WEB_AUTH: must be one of oidc, none \(got "ldap"\)\. Example: GEMS_WEB_AUTH=oidc$/);
  });
});

describe("scaling out", () => {
  it("stays in one process on SQLite when neither URL is set", () => {
    expect(load({}).scaleOut).toBeNull();
  });

  it("reads both URLs with the default schema, prefix, lock and worker port", () => {
    const config = load({ GEMS_DATABASE_URL: "postgres://gems@db:5432/gems", GEMS_REDIS_URL: "redis://queue:6379" });
    expect(config.scaleOut).toEqual({
      databaseUrl: "postgres://gems@db:5432/gems",
      databaseSchema: "public",
      redisUrl: "redis://queue:6379",
      redisPrefix: "gems",
      jobLockMs: 10_000,
      workerPort: 8788,
      instance: undefined,
      imageCacheBytes: 64 * 1024 * 1024,
    });
  });

  it("reads the image cache size in MiB, 0 for none, and refuses a negative one", () => {
    const both = { GEMS_DATABASE_URL: "postgres://gems@db:5432/gems", GEMS_REDIS_URL: "redis://queue:6379" };
    expect(load({ ...both, GEMS_IMAGE_CACHE_MB: "256" }).scaleOut?.imageCacheBytes).toBe(256 * 1024 * 1024);
    expect(load({ ...both, GEMS_IMAGE_CACHE_MB: "0" }).scaleOut?.imageCacheBytes).toBe(0);
    expect(configError({ ...both, GEMS_IMAGE_CACHE_MB: "-1" })).toBe('GEMS_IMAGE_CACHE_MB: must be a whole number from 0 to 65536 (got "-1"). Example: GEMS_IMAGE_CACHE_MB=64');
  });

  it("refuses one URL without the other, in one line naming the missing one", () => {
    const message = configError({ GEMS_DATABASE_URL: "postgres://gems@db:5432/gems" });
    expect(message).toBe(
      "GEMS_REDIS_URL: required with GEMS_DATABASE_URL, the two scale out together (got nothing). Example: GEMS_REDIS_URL=redis://queue.internal:6379",
    );
    expect(configError({ GEMS_REDIS_URL: "redis://queue:6379" })).toMatch(/^GEMS_DATABASE_URL: required with GEMS_REDIS_URL/);
  });

  it("rejects a database URL of another kind without showing it (it may hold a password)", () => {
    const message = configError({ GEMS_DATABASE_URL: "mysql://root:hunter2@db/gems", GEMS_REDIS_URL: "redis://queue:6379" });
    expect(message).toContain("GEMS_DATABASE_URL: must be a PostgreSQL URL");
    expect(message).not.toContain("hunter2");
  });

  it("rejects a schema name that is not an identifier", () => {
    expect(configError({ GEMS_DATABASE_URL: "postgres://db/gems", GEMS_REDIS_URL: "redis://q", GEMS_DATABASE_SCHEMA: "Gems-Prod" })).toMatch(
      /^GEMS_DATABASE_SCHEMA: must be a lower-case identifier/,
    );
  });
});
