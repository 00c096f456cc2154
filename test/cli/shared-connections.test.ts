/**
 * A scaled-out serving process opens one PostgreSQL pool and one Redis link and shares them
 * between the job service and team skills (bots/scale-out-connections.ts). Counted from the
 * servers' side: pg_stat_activity by application_name and CLIENT LIST by client name, both
 * `gems:<instance>` with an instance name of this test's own. Runs the composition the bin
 * runs (createRuntime, then startServer) in this process, over a schema and prefix of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Redis } from "ioredis";
import { loadConfig } from "../../config/schema.ts";
import { createRuntime, type Runtime } from "../../bots/runtime.ts";
import { startServer, type RunningServer } from "../../bots/server.ts";
import { silentLogger } from "../../core/logger.ts";
import { TEST_DATABASE_URL, dropSchema, uniqueSchemaName } from "../support/postgres.ts";
import { TEST_REDIS_URL, deletePrefix, uniquePrefix } from "../support/redis.ts";
import { waitFor } from "../support/serve-process.ts";

const SKILL = `# Skill: Charcoal Study

## Description
Use when the request asks for a charcoal drawing.

## Instructions
Smudge the shadows; leave the highlights as bare paper.
`;

let work: string;
let postgres: pg.Client;
let redis: Redis;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gems-shared-conn-"));
  postgres = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await postgres.connect();
  redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  await postgres?.end();
  await redis?.quit();
  rmSync(work, { recursive: true, force: true });
});

function scaledOutEnv(schema: string, prefix: string, instance: string, redisUrl = TEST_REDIS_URL): Record<string, string> {
  return {
    GEMS_DATA_DIR: join(work, "data"),
    GEMS_DATABASE_URL: TEST_DATABASE_URL,
    GEMS_DATABASE_SCHEMA: schema,
    GEMS_REDIS_URL: redisUrl,
    GEMS_REDIS_PREFIX: prefix,
    GEMS_INSTANCE: instance,
    GEMS_JOB_LOCK_MS: "2000",
    GEMS_WEB_PORT: "0",
    GEMS_SIM_LATENCY_MS: "5",
    GEMS_ADMINS: "web:ada",
  };
}

async function postgresConnections(name: string): Promise<number> {
  const { rows } = await postgres.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [name]);
  return rows[0]!.n;
}

interface RedisClient {
  name: string;
  flags: string;
}

async function redisClients(name: string): Promise<RedisClient[]> {
  const list = (await redis.call("CLIENT", "LIST")) as string;
  const clients = list
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => Object.fromEntries(line.trim().split(" ").map((field) => field.split("=", 2) as [string, string])));
  return clients.filter((client) => client["name"] === name).map((client) => ({ name: client["name"]!, flags: client["flags"] ?? "" }));
}

async function subscribersOf(channel: string): Promise<number> {
  const [, count] = (await redis.call("PUBSUB", "NUMSUB", channel)) as [string, number];
  return count;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

describe("a scaled-out serving process's connections", () => {
  it("the job service and team skills share one PostgreSQL pool and one Redis subscriber, closed after both", async () => {
    const schema = uniqueSchemaName("conn");
    const prefix = uniquePrefix("conn");
    const instance = `conn-${randomBytes(4).toString("hex")}`;
    const name = `gems:${instance}`;
    const config = loadConfig(scaledOutEnv(schema, prefix, instance), { envFile: null, cwd: work });
    let runtime: Runtime | undefined;
    let server: RunningServer | undefined;
    try {
      runtime = await createRuntime(config, silentLogger, { isServing: true });
      server = await startServer(runtime, "simulated", { role: "all" });
      const base = server.webUrl!.replace(/\/$/, "");

      // Both users at work: a skill saved (team skills' store and announcement), a job run with it.
      const added = await call(base, "POST", "/api/skills", { text: SKILL, name: "Ada" });
      expect(added, JSON.stringify(added.json)).toMatchObject({ status: 201 });
      const submitted = await call(base, "POST", "/api/jobs", { prompt: "a red cube", skill: "charcoal-study", iterations: 1, name: "Ada" });
      expect(submitted.status).toBe(201);
      const job = await waitFor(
        async () => (await call(base, "GET", `/api/jobs/${submitted.json.jobId}`)).json.job,
        (current) => ["done", "failed", "cancelled"].includes(current.status),
      );
      expect(job.status).toBe("done");
      expect(job.trajectory.plan.skill).toBe("charcoal-study");

      // Every connection of the process named as it is belongs to the one pool: a second pool
      // (team skills' own) would hold connections the shared pool does not count.
      const pool = runtime.shared!.db.pool;
      await waitFor(
        async () => ({ server: await postgresConnections(name), pool: pool.totalCount }),
        (counts) => counts.server > 0 && counts.server === counts.pool,
        5_000,
      );

      // One subscriber connection, on which team skills and the job service both listen.
      const clients = await redisClients(name);
      expect(clients.filter((client) => client.flags.includes("P"))).toHaveLength(1);
      expect(await subscribersOf(`${prefix}:skills`)).toBe(1);
      expect(await subscribersOf(`${prefix}:control`)).toBe(1);
      expect(await subscribersOf(`${prefix}:wake`)).toBe(1);

      // The job service closing leaves team skills listening on the link it shared.
      await server.stop();
      server = undefined;
      expect(await subscribersOf(`${prefix}:skills`)).toBe(1);
      expect((await redisClients(name)).filter((client) => client.flags.includes("P"))).toHaveLength(1);

      await runtime.close!();
      runtime = undefined;
      expect(await subscribersOf(`${prefix}:skills`)).toBe(0);
      expect(await redisClients(name)).toEqual([]);
      await waitFor(() => postgresConnections(name), (n) => n === 0, 5_000);
    } finally {
      await server?.stop();
      await runtime?.close?.();
      await dropSchema(schema);
      await deletePrefix(prefix);
    }
  }, 60_000);

  it("a serving process that cannot reach Redis closes the PostgreSQL pool it had opened", async () => {
    const schema = uniqueSchemaName("conn");
    const prefix = uniquePrefix("conn");
    const instance = `conn-${randomBytes(4).toString("hex")}`;
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    const config = loadConfig(scaledOutEnv(schema, prefix, instance, "redis://127.0.0.1:1"), { envFile: null, cwd: work });
    try {
      await expect(createRuntime(config, silentLogger, { isServing: true })).rejects.toThrow(/^Could not connect to Redis at /);
      // The pool migrated the schema first, so it had a connection; an idle one lingers 10 s unless closed.
      await waitFor(() => postgresConnections(`gems:${instance}`), (n) => n === 0, 3_000);
    } finally {
      await dropSchema(schema);
    }
  }, 30_000);
});
