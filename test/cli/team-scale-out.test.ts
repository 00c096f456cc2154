/**
 * Team skills and default skills scaled out, across real processes: two `gems serve --role
 * surfaces` studios and one `--role worker`, over one PostgreSQL schema and one Redis prefix,
 * with the models as loopback servers in this test (the real adapters talk to them). Nothing
 * restarts between adding a skill and using it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import pg from "pg";
import { TEST_DATABASE_URL, dropSchema, uniqueSchemaName } from "../support/postgres.ts";
import { TEST_REDIS_URL, deletePrefix, uniquePrefix } from "../support/redis.ts";
import { startRole, waitFor, type ServedRole } from "../support/serve-process.ts";
import { startScriptedGenerator, startScriptedMllm, type ScriptedGenerator, type ScriptedMllm } from "../agent/role-scripted-servers.ts";

const MARKER = "Wash every shadow in ultramarine-8842";
const SKILL = `# Skill: Watercolour Wash

## Description
Use when the request asks for a watercolour look.

## Instructions
${MARKER}. Keep the paper texture visible.
`;
/** Line 6 is a section the format does not have. */
const MALFORMED = "# Skill: Ink Line\n\n## Description\nInk.\n\n## Notes\nstray\n\n## Instructions\nDraw in ink.\n";

let work: string;
let schema: string;
let prefix: string;
let mllm: ScriptedMllm;
let generator: ScriptedGenerator;
let surfacesA: ServedRole;
let surfacesB: ServedRole;
let worker: ServedRole;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gems-team-scale-"));
  schema = uniqueSchemaName("team");
  prefix = uniquePrefix("team");
  mllm = await startScriptedMllm();
  generator = await startScriptedGenerator();
  const env = {
    GEMS_DATABASE_URL: TEST_DATABASE_URL,
    GEMS_DATABASE_SCHEMA: schema,
    GEMS_REDIS_URL: TEST_REDIS_URL,
    GEMS_REDIS_PREFIX: prefix,
    GEMS_JOB_LOCK_MS: "2000",
    GEMS_ADMINS: "web:ada",
    GEMS_MLLM_BASE_URL: mllm.server.url,
    GEMS_MLLM_MODEL: "fake-vl",
    GEMS_GENERATOR_URL: generator.server.url,
  };
  // All three load their skill libraries now, before any team skill exists.
  [surfacesA, surfacesB, worker] = await Promise.all([
    startRole("surfaces", work, { ...env, GEMS_INSTANCE: "s1" }),
    startRole("surfaces", work, { ...env, GEMS_INSTANCE: "s2" }),
    startRole("worker", work, { ...env, GEMS_INSTANCE: "w1" }),
  ]);
}, 120_000);

afterAll(async () => {
  const codes = await Promise.all([surfacesA, surfacesB, worker].filter(Boolean).map((p) => p.stop()));
  await Promise.all([mllm?.close(), generator?.close()]);
  await dropSchema(schema);
  await deletePrefix(prefix);
  rmSync(work, { recursive: true, force: true });
  expect(codes).toEqual([0, 0, 0]);
}, 60_000);

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

async function finishedJob(base: string, jobId: string): Promise<any> {
  return waitFor(
    async () => (await call(base, "GET", `/api/jobs/${jobId}`)).json.job,
    (job) => ["done", "failed", "cancelled"].includes(job.status),
  );
}

async function storedVersions(): Promise<number> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".team_skill_versions`);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe("team skills scaled out", () => {
  it("refuses a malformed skill with the line that is wrong, and stores nothing", async () => {
    const refused = await call(surfacesA.url, "POST", "/api/skills", { text: MALFORMED, name: "Ada" });
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/^The skill was not added\. Line 6: unexpected section "## Notes"/);
    expect(await storedVersions()).toBe(0);
    const listed = await call(surfacesB.url, "GET", "/api/skills");
    expect(listed.json.skills.map((s: { id: string }) => s.id)).not.toContain("ink-line");
  });

  it("a skill added in one surfaces process is used by the next job, submitted in the other and run on the worker, without restart", async () => {
    const added = await call(surfacesA.url, "POST", "/api/skills", { text: SKILL, name: "Ada" });
    expect(added).toMatchObject({ status: 201, json: { ok: true, id: "watercolour-wash", version: 1 } });
    expect(await storedVersions()).toBe(1);
    // The other studio lists it once its library reloaded on the Redis notice.
    await waitFor(
      async () => (await call(surfacesB.url, "GET", "/api/skills")).json.skills.map((s: { id: string }) => s.id),
      (ids: string[]) => ids.includes("watercolour-wash"),
      10_000,
    );

    const rewritesBefore = mllm.callsOf("rewriter").length;
    const submitted = await call(surfacesB.url, "POST", "/api/jobs", { prompt: "a red cube", skill: "watercolour-wash", iterations: 1, name: "Cy" });
    expect(submitted.status).toBe(201);
    const job = await finishedJob(surfacesB.url, submitted.json.jobId);
    expect(job.status).toBe("done");
    expect(job.trajectory.plan.skill).toBe("watercolour-wash");
    // The worker, started before the skill existed, read its instructions into the rewriter's prompt.
    const rewrites = mllm.callsOf("rewriter").slice(rewritesBefore);
    expect(rewrites).toHaveLength(1);
    expect(rewrites[0]!.text).toContain(MARKER);
  });

  it("a default skill set in one surfaces process applies to a submit in the other", async () => {
    await waitFor(
      async () => (await call(surfacesA.url, "GET", "/api/skills")).json.skills.map((s: { id: string }) => s.id),
      (ids: string[]) => ids.includes("watercolour-wash"),
      10_000,
    );
    const set = await call(surfacesA.url, "POST", "/api/me/skill-default", { skill: "watercolour-wash", name: "Bo" });
    expect(set).toMatchObject({ status: 200, json: { skill: "watercolour-wash" } });
    expect((await call(surfacesB.url, "GET", "/api/me/skill-default?name=Bo")).json.skill).toBe("watercolour-wash");

    const submitted = await call(surfacesB.url, "POST", "/api/jobs", { prompt: "a blue sphere", iterations: 1, name: "Bo" });
    expect(submitted.status).toBe(201);
    const job = await finishedJob(surfacesB.url, submitted.json.jobId);
    expect(job.trajectory.request.skill).toBe("watercolour-wash");
    expect(job.trajectory.plan.skill).toBe("watercolour-wash");

    // Someone without a default still gets auto (the planner, which here picks none).
    const other = await call(surfacesB.url, "POST", "/api/jobs", { prompt: "a green cone", iterations: 1, name: "Di" });
    expect((await finishedJob(surfacesB.url, other.json.jobId)).trajectory.request.skill).toBe("auto");
  });
});
