/**
 * A daily image quota scaled out, across real processes: `gems serve --role surfaces` and two
 * `--role worker` processes over one PostgreSQL schema and one Redis prefix, the models as
 * loopback servers here. One person's first job runs on worker 1, the next on worker 2, which
 * never held the first: its check before each iteration must still count the first job's images.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TEST_DATABASE_URL, dropSchema, uniqueSchemaName } from "../support/postgres.ts";
import { TEST_REDIS_URL, deletePrefix, uniquePrefix } from "../support/redis.ts";
import { startRole, waitFor, type ServedRole } from "../support/serve-process.ts";
import { startScriptedGenerator, startScriptedMllm, type ScriptedGenerator, type ScriptedMllm } from "../agent/role-scripted-servers.ts";
import { redFrom } from "../jobs/wire-models.ts";

const QUOTA = 5;

let work: string;
let schema: string;
let prefix: string;
let mllm: ScriptedMllm;
let generator: ScriptedGenerator;
let env: Record<string, string>;
const started: ServedRole[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gems-quota-scale-"));
  schema = uniqueSchemaName("quota");
  prefix = uniquePrefix("quota");
  // "Is the cube red?" never passes, so each job runs every iteration it is given.
  mllm = await startScriptedMllm({ verifier: redFrom(1_000) });
  generator = await startScriptedGenerator();
  env = {
    GEMS_DATABASE_URL: TEST_DATABASE_URL,
    GEMS_DATABASE_SCHEMA: schema,
    GEMS_REDIS_URL: TEST_REDIS_URL,
    GEMS_REDIS_PREFIX: prefix,
    GEMS_JOB_LOCK_MS: "2000",
    GEMS_MLLM_BASE_URL: mllm.server.url,
    GEMS_MLLM_MODEL: "fake-vl",
    GEMS_GENERATOR_URL: generator.server.url,
    GEMS_QUOTA_PERSON_DAILY: `${QUOTA} images`,
    GEMS_MAX_ITERATIONS: "10",
  };
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await Promise.all([mllm?.close(), generator?.close()]);
  await dropSchema(schema);
  await deletePrefix(prefix);
  rmSync(work, { recursive: true, force: true });
}, 60_000);

async function serve(role: string, instance: string): Promise<ServedRole> {
  const served = await startRole(role, work, { ...env, GEMS_INSTANCE: instance });
  started.push(served);
  return served;
}

async function submit(base: string, iterations: number): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}/api/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "a red cube", skill: "none", iterations, name: "Ada" }),
  });
  return { status: response.status, json: await response.json() };
}

async function finishedJob(base: string, jobId: string): Promise<any> {
  return waitFor(
    async () => ((await (await fetch(`${base}/api/jobs/${jobId}`)).json()) as { job: any }).job,
    (job) => ["done", "failed", "cancelled"].includes(job.status),
    60_000,
  );
}

/** How many images this worker's generator calls drew, from its own /metrics. */
async function imagesDrawnBy(worker: ServedRole, instance: string): Promise<number> {
  const metrics = await (await fetch(`${worker.url}/metrics`)).text();
  const line = new RegExp(`^gems_model_call_seconds_count\\{role="worker",instance="${instance}",model="generator",role="generator"\\} (\\d+)$`, "m").exec(metrics);
  return Number(line?.[1] ?? 0);
}

describe("a daily image quota across two workers", () => {
  it("stops the job that reaches it on the other worker, with its best image, and refuses the next submit", async () => {
    const [surfaces, worker1] = await Promise.all([serve("surfaces", "s1"), serve("worker", "w1")]);

    const first = await submit(surfaces.url, 3);
    expect(first.status).toBe(201);
    // Worker 2 starts only once worker 1 has taken the first job, so it never holds it.
    await waitFor(
      async () => ((await (await fetch(`${surfaces.url}/api/jobs/${first.json.jobId}`)).json()) as { job: any }).job.status,
      (status) => status !== "queued",
    );
    const [worker2, firstJob] = await Promise.all([serve("worker", "w2"), finishedJob(surfaces.url, first.json.jobId)]);
    expect(firstJob).toMatchObject({ status: "done" });
    expect(firstJob.trajectory.iterations).toHaveLength(3);
    expect(await imagesDrawnBy(worker1, "w1")).toBe(3);

    // The second job can only run on worker 2.
    expect(await worker1.stop()).toBe(0);
    const second = await submit(surfaces.url, 6);
    expect(second.status).toBe(201);
    const secondJob = await finishedJob(surfaces.url, second.json.jobId);

    // 3 images from worker 1 + 2 here reach the quota of 5 before iteration 3.
    expect(secondJob.status).toBe("done");
    expect(secondJob.trajectory.stopReason).toBe("quota");
    expect(secondJob.trajectory.iterations).toHaveLength(QUOTA - 3);
    expect(secondJob.best).toMatchObject({ imageHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await imagesDrawnBy(worker2, "w2")).toBe(QUOTA - 3);
    expect(generator.server.sent.images).toBe(QUOTA);

    const refused = await submit(surfaces.url, 1);
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toMatch(/^You have used 5 of 5 images today \(UTC\), your daily quota\./);
  }, 180_000);
});
