import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TEST_DATABASE_URL, dropSchema, uniqueSchemaName } from "../support/postgres.ts";
import { TEST_REDIS_URL, deletePrefix, uniquePrefix } from "../support/redis.ts";
import { runMain as runGemsMain, type Served } from "../support/cli.ts";
import { startRole as startRoleIn, waitFor } from "../support/serve-process.ts";

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gems-scale-"));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const runMain = (argv: string[], env: Record<string, string> = {}) => runGemsMain(argv, { GEMS_DATA_DIR: join(work, "data"), ...env }, work);

const startRole = (role: string, env: Record<string, string>): Promise<Served> => startRoleIn(role, work, env);

describe("gems serve --role", () => {
  it("refuses a role other than all, surfaces or worker", async () => {
    const result = await runMain(["serve", "--role", "boss"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--role must be one of all, surfaces, worker (got "boss")');
  });

  it("refuses the worker role without the shared stores, in one line", async () => {
    const result = await runMain(["serve", "--role", "worker"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n").at(-1)).toBe("gems: --role worker needs the shared stores: set GEMS_DATABASE_URL and GEMS_REDIS_URL (README.md, Scaling out).");
  });

  it("a surfaces process and a worker process run a job together and report their roles", async () => {
    const schema = uniqueSchemaName("serve");
    const prefix = uniquePrefix("serve");
    const env = { GEMS_DATABASE_URL: TEST_DATABASE_URL, GEMS_DATABASE_SCHEMA: schema, GEMS_REDIS_URL: TEST_REDIS_URL, GEMS_REDIS_PREFIX: prefix, GEMS_JOB_LOCK_MS: "2000" };
    try {
      const surfaces = await startRole("surfaces", { ...env, GEMS_INSTANCE: "s1" });
      const worker = await startRole("worker", { ...env, GEMS_INSTANCE: "w1" });
      expect(surfaces.output()).toContain("scaled out as role surfaces");

      const response = await fetch(`${surfaces.url}/api/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "two green balls above a red cube", iterations: 2, name: "Ada" }),
      });
      expect(response.status).toBe(201);
      const { jobId } = (await response.json()) as { jobId: string };
      const done = await waitFor(
        async () => ((await (await fetch(`${surfaces.url}/api/jobs/${jobId}`)).json()) as { job: { status: string } }).job,
        (job) => job.status === "done",
      );
      expect(done.status).toBe("done");

      const bothUp = [
        { name: "postgresql", isUp: true },
        { name: "redis", isUp: true },
      ];
      expect(await (await fetch(`${surfaces.url}/healthz`)).json()).toMatchObject({ status: "ok", role: "surfaces", instance: "s1", dependencies: bothUp });
      expect(await (await fetch(`${worker.url}/healthz`)).json()).toMatchObject({ status: "ok", role: "worker", instance: "w1", dependencies: bothUp });
      const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
      expect(workerMetrics).toMatch(/gems_model_call_seconds_count\{role="worker",instance="w1",model="generator",role="generator"\} [1-9]/);
      const studioMetrics = await (await fetch(`${surfaces.url}/metrics`)).text();
      expect(studioMetrics).toContain('gems_jobs{role="surfaces",instance="s1",state="done"} 1');

      worker.child.kill("SIGTERM");
      surfaces.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
      expect(await surfaces.exited).toBe(0);
    } finally {
      await dropSchema(schema);
      await deletePrefix(prefix);
    }
  });
});
