/**
 * A scaled-out `gems serve` whose Redis is gone: its /healthz says so (503), and asked to stop it
 * must still stop, and soon (a service manager sends SIGKILL after its own timeout, and a person
 * at a terminal gives up).
 * Redis here is a server of this test's own, on a port the OS gave, so it can be killed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/cli.ts";
import { TEST_DATABASE_URL, dropSchema, uniqueSchemaName } from "../support/postgres.ts";
import { startRole } from "../support/serve-process.ts";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gems-redis-down-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A Redis of the test's own, nothing kept on disk; resolves once it answers PING. */
async function startRedis(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  let spawnError: Error | undefined;
  // No redis-server on PATH (.ci/run installs Debian's): said below, not thrown at the runner.
  child.once("error", (error) => (spawnError = error));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    const isUp = await probe.connect().then(() => probe.ping().then(() => true), () => false);
    probe.disconnect();
    if (isUp) return { url, process: child };
    if (spawnError || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not answer on ${url}${spawnError ? `: ${spawnError.message}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("gems serve, scaled out, when Redis goes away", () => {
  for (const role of ["all", "worker"]) {
    it(`--role ${role} reports Redis down on /healthz and stops on SIGTERM`, async () => {
      const schema = uniqueSchemaName("redisdown");
      const redis = await startRedis();
      try {
        const served = await startRole(role, work, {
          GEMS_DATA_DIR: join(work, role),
          GEMS_DATABASE_URL: TEST_DATABASE_URL,
          GEMS_DATABASE_SCHEMA: schema,
          GEMS_REDIS_URL: redis.url,
          GEMS_REDIS_PREFIX: "gems-redis-down",
        });
        redis.process.kill("SIGKILL");
        await new Promise((resolve) => redis.process.once("exit", resolve));

        // Its health check says so, for a load balancer or a readiness probe.
        const health = await fetch(`${served.url}/healthz`);
        expect(health.status).toBe(503);
        const body = (await health.json()) as { status: string; dependencies: Array<{ name: string; isUp: boolean; problem?: string }> };
        expect(body.status).toBe("degraded");
        expect(body.dependencies).toEqual([
          { name: "postgresql", isUp: true },
          { name: "redis", isUp: false, problem: expect.stringMatching(/^not connected \((connecting|reconnecting|close|end)\)$/) },
        ]);
        expect(JSON.stringify(body)).not.toContain(redis.url);

        // Before, it waited for Redis to come back, for as long as that took: this never resolved.
        const code = await served.stop();
        expect(code).toBe(0);
        expect(served.output()).toContain("gems: stopped.");
      } finally {
        if (redis.process.exitCode === null && redis.process.signalCode === null) redis.process.kill("SIGKILL");
        await dropSchema(schema);
      }
    }, 60_000);
  }
});
