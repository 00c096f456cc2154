/**
 * Dependencies point inward: bots → core/jobs → core/agent → core/models ports. These checks
 * read the import lines of every source file, so a forbidden import fails here, not in review.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";

const root = resolve(import.meta.dirname, "../..");

function sourceFiles(folder: string): string[] {
  const dir = join(root, folder);
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(relative(root, path)));
    else if (path.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** Every module specifier a file imports or re-exports, resolved to a repo path when relative. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)].map((m) => m[1] as string);
  specifiers.push(...[...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] as string));
  return specifiers.map((s) => (s.startsWith(".") ? relative(root, resolve(dirname(file), s)) : s));
}

function violations(folder: string, isForbidden: (specifier: string) => boolean): string[] {
  return sourceFiles(folder).flatMap((file) =>
    importsOf(file)
      .filter(isForbidden)
      .map((specifier) => `${relative(root, file)} imports ${specifier}`),
  );
}

const chatPackages = /^(discord\.js|@discordjs\/|@slack\/)/;

/** The agent loop, which only the job service runs. */
const LOOP_FILES = new Set(["core/agent/run-job.ts", "core/agent/steps.ts", "core/agent/next-step.ts", "core/agent/feedback.ts"]);

describe("layering", () => {
  it("finds the imports it checks", () => {
    // Guards the checks below against passing vacuously because the reader found nothing.
    expect(importsOf(join(root, "core/agent/run-job.ts"))).toContain("core/models/ports.ts");
  });

  it("core never imports a chat platform, a bot, a server or the config loader", () => {
    expect(
      violations("core", (s) => chatPackages.test(s) || s.startsWith("bots/") || s.startsWith("servers/") || s.startsWith("config/")),
    ).toEqual([]);
  });

  it("the agent loop and the job service never decode images (sharp belongs to adapters and surfaces)", () => {
    for (const folder of ["core/agent", "core/jobs"]) {
      expect(violations(folder, (s) => s === "sharp" || s === "core/images/sharp-images.ts")).toEqual([]);
    }
  });

  it("HTTP serving and sign-in stay in the studio (fastify, @fastify/*, openid-client only under bots/web)", () => {
    const isWebOnly = (s: string) => s === "fastify" || s.startsWith("@fastify/") || s === "openid-client";
    for (const folder of ["core", "bots/discord", "bots/slack", "bots/cli", "servers", "config"]) {
      expect(violations(folder, isWebOnly), folder).toEqual([]);
    }
    expect(importsOf(join(root, "bots/web/studio.ts"))).toContain("fastify");
  });

  it("the agent never imports the job service", () => {
    expect(violations("core/agent", (s) => s.startsWith("core/jobs/"))).toEqual([]);
  });

  it("the model adapters know nothing of the agent, memory, skills or jobs", () => {
    expect(violations("core/models", (s) => /^core\/(agent|memory|skills|jobs)\//.test(s))).toEqual([]);
  });

  it("the simulated models depend on core only, never on a bot", () => {
    expect(violations("servers", (s) => s.startsWith("bots/") || chatPackages.test(s))).toEqual([]);
  });

  it("chat and web surfaces reach the models only through the job service", () => {
    for (const surface of ["bots/discord", "bots/slack", "bots/web"]) {
      expect(
        violations(
          surface,
          (s) =>
            s.startsWith("core/models/") ||
            LOOP_FILES.has(s) ||
            s === "core/agent/roles.ts" ||
            s.startsWith("servers/") ||
            s.startsWith("config/") ||
            (s.startsWith("bots/") && !s.startsWith(`${surface}/`)),
        ),
      ).toEqual([]);
    }
  });

  it("each surface imports only its own platform's SDK", () => {
    expect(violations("bots/discord", (s) => s.startsWith("@slack/"))).toEqual([]);
    expect(violations("bots/slack", (s) => /^(discord\.js|@discordjs\/)/.test(s))).toEqual([]);
    expect(violations("bots/web", (s) => chatPackages.test(s))).toEqual([]);
  });

  it("the queue and database clients stay in the distributed and PostgreSQL adapters", () => {
    const queueClients = /^(bullmq|ioredis)$/;
    const databaseClients = /^(pg|@keyv\/postgres)$/;
    const distributed = (file: string): boolean => file.startsWith("core/jobs/distributed/");
    const postgres = (file: string): boolean => file.startsWith("core/jobs/postgres/") || file.startsWith("core/memory/postgres/");
    const offenders = ["core", "bots", "config", "servers"].flatMap((folder) =>
      sourceFiles(folder).flatMap((file) => {
        const path = relative(root, file);
        return importsOf(file)
          .filter((s) => (queueClients.test(s) && !distributed(path)) || (databaseClients.test(s) && !postgres(path)))
          .map((s) => `${path} imports ${s}`);
      }),
    );
    expect(offenders).toEqual([]);
    // The check reads real imports: the adapters do use them.
    expect(importsOf(join(root, "core/jobs/distributed/bullmq-queue.ts"))).toContain("bullmq");
    expect(importsOf(join(root, "core/memory/postgres/database.ts"))).toContain("pg");
  });

  it("the agent loop knows nothing of queues, databases or the distributed service", () => {
    expect(violations("core/agent", (s) => /^(bullmq|ioredis|pg|@keyv\/)/.test(s) || /^core\/(jobs|memory\/postgres)\//.test(s))).toEqual([]);
  });

  it("nothing outside the CLI writes to the console", () => {
    const offenders = ["core", "config", "bots/discord", "bots/slack", "bots/web"].flatMap((folder) =>
      sourceFiles(folder)
        .filter((file) => /\bconsole\.(log|info|warn|error|debug)\(/.test(readFileSync(file, "utf8")))
        .map((file) => relative(root, file)),
    );
    expect(offenders).toEqual([]);
  });

  it("only config reads process.env", () => {
    const offenders = ["core", "bots", "servers"].flatMap((folder) =>
      sourceFiles(folder)
        .filter((file) => !file.endsWith("main.ts") && /process\.env/.test(readFileSync(file, "utf8")))
        .map((file) => relative(root, file)),
    );
    expect(offenders).toEqual([]);
  });
});
