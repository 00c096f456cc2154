/**
 * Scale-out measurements, side by side in one run: 60 jobs from 12 people submitted person by
 * person, generator capacity 8 (GEMS_GENERATOR_CONCURRENCY, held in Redis when scaled out), on one
 * process with SQLite and on 1, 2 and 4 worker processes plus a surfaces process over PostgreSQL
 * and Redis, each against a sim server reached through the real HTTP adapters. Three settings:
 *
 * - makespan: model calls at a pace a team's servers could keep (MLLM 200 ms, generator 600 ms;
 *   real ones are slower still) and a running limit that never binds, so the generator is the
 *   bottleneck and makespan ÷ lower bound is the scheduling overhead of the shape;
 * - fairness: the same pace with 32 running jobs in all, split over the processes, so a queue
 *   forms in every shape and the order people are served in shows;
 * - CPU-bound: the calls 4× faster (MLLM 50 ms, generator 150 ms, ~53 pictures a second), where
 *   the processes' own CPU per image, not the scheduling, decides on 2 cores.
 *
 * Then the cost of one step's commit: PostgreSQL against SQLite, on the same growing record.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import type { JobEvent } from "../../core/agent/events.ts";
import { deleteKeysWithPrefix } from "../../core/jobs/distributed/redis.ts";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import type { JobRecord } from "../../core/jobs/types.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";
import { createTrajectory } from "../../core/memory/trajectory.ts";

const root = resolve(import.meta.dirname, "../..");
const DATABASE_URL = process.env["GEMS_BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env["GEMS_BENCH_REDIS_URL"] ?? "redis://127.0.0.1:6379";
const JOBS = 60;
const PEOPLE = 12;
const CAPACITY = 8;
// A real generator draws on its own machine; the sim draws on the cores the workers use, and at
// 512 pixels (~34 ms of CPU each) the CPU-bound setting's ~53 a second would take most of two cores.
const IMAGE_SIZE = 128;

interface Setting {
  name: string;
  mllmMs: number;
  generatorMs: number;
  /** Running jobs allowed in all; scaled out, split evenly over the worker processes. */
  running: number;
}

// A step of the loop is generate + verify, compress and refine (an MLLM call each): a running
// job wants the generator about half the time, so 16 running jobs would leave it no slack.
const SETTINGS = {
  makespan: { name: "makespan", mllmMs: 200, generatorMs: 600, running: JOBS },
  fairness: { name: "fairness", mllmMs: 200, generatorMs: 600, running: 32 },
  cpuBound: { name: "CPU-bound", mllmMs: 50, generatorMs: 150, running: JOBS },
} satisfies Record<string, Setting>;

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
}

function lineMatching(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    lines.on("line", (line) => {
      if (!pattern.test(line)) return;
      clearTimeout(timer);
      resolvePromise(line);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${pattern}\n${stderr}`));
    });
  });
}

interface Summary {
  firstSubmitMs: number;
  lastDoneMs: number;
  jobs: Array<{ person: string; status: string; iterations: number[]; createdAt: string; startedAt: string | null }>;
}

interface Row {
  shape: string;
  makespanMs: number;
  lowerBoundMs: number;
  images: number;
  maxFirstWaitMs: number;
  meanWaitMs: number;
  done: number;
}

function rowOf(shape: string, setting: Setting, summary: Summary): Row {
  const images = summary.jobs.reduce((sum, job) => sum + job.iterations.length, 0);
  const waits = summary.jobs.map((job) => Date.parse(job.startedAt ?? job.createdAt) - Date.parse(job.createdAt));
  const firstByPerson = new Map<string, { createdAt: string; wait: number }>();
  summary.jobs.forEach((job, i) => {
    const seen = firstByPerson.get(job.person);
    if (!seen || job.createdAt < seen.createdAt) firstByPerson.set(job.person, { createdAt: job.createdAt, wait: waits[i] as number });
  });
  return {
    shape,
    makespanMs: summary.lastDoneMs - summary.firstSubmitMs,
    // No image starts before a job's checklist is written (one MLLM call), the generator cannot
    // do its work faster than at full capacity, and the last image is verified after it is drawn
    // (another call). The longest job's own chain (5 × (generate + verify + compress + refine))
    // is a third of this or less, so it never binds here.
    lowerBoundMs: setting.mllmMs + (images * setting.generatorMs) / CAPACITY + setting.mllmMs,
    images,
    maxFirstWaitMs: Math.max(...[...firstByPerson.values()].map((f) => f.wait)),
    meanWaitMs: waits.reduce((a, b) => a + b, 0) / waits.length,
    done: summary.jobs.filter((job) => job.status === "done").length,
  };
}

const common = (simUrl: string): string[] => [
  "--sim-url", simUrl, "--generator-concurrency", String(CAPACITY), "--iterations", "5",
];
const surfacesArgs = ["--jobs", String(JOBS), "--people", String(PEOPLE), "--bench"];

async function runLocal(simUrl: string, setting: Setting, dataDir: string): Promise<Row> {
  const child = start(["test/jobs/cluster-child.ts", "--role", "local", "--data-dir", dataDir, "--max-running", String(setting.running), ...common(simUrl), ...surfacesArgs]);
  const summary = JSON.parse(await lineMatching(child, /"type":"finished"/, 600_000)) as Summary;
  return rowOf("1 process, SQLite", setting, summary);
}

async function runCluster(simUrl: string, setting: Setting, workers: number): Promise<Row> {
  const schema = `gems_bench_${randomBytes(4).toString("hex")}`;
  const prefix = `gems-bench-${randomBytes(4).toString("hex")}`;
  const db = await openDatabase(DATABASE_URL, { schema });
  await db.close();
  // The production lock (GEMS_JOB_LOCK_MS), not cluster-child's 1 s meant for fast crash tests: on
  // a loaded machine an event loop late by a second would hand running jobs to another run.
  const shared = ["--schema", schema, "--prefix", prefix, "--database-url", DATABASE_URL, "--redis-url", REDIS_URL, "--lock-ms", "10000", ...common(simUrl)];
  const perWorker = String(Math.ceil(setting.running / workers));
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      const worker = start(["test/jobs/cluster-child.ts", "--role", "worker", "--max-running", perWorker, "--instance", `w${i + 1}`, ...shared]);
      children.push(worker);
      await lineMatching(worker, /"type":"started"/, 60_000);
    }
    const surfaces = start(["test/jobs/cluster-child.ts", "--role", "surfaces", ...shared, ...surfacesArgs]);
    children.push(surfaces);
    const summary = JSON.parse(await lineMatching(surfaces, /"type":"finished"/, 600_000)) as Summary;
    return rowOf(`${workers} worker process${workers === 1 ? "" : "es"} + surfaces, PostgreSQL + Redis`, setting, summary);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    const redis = new Redis(REDIS_URL);
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
}

/** A record like a job's after `steps` commits: trajectory plus an event per step. */
function recordAfter(jobId: string, steps: number): JobRecord {
  const at = new Date("2026-01-01T00:00:00Z");
  const trajectory = createTrajectory(jobId, { prompt: "three green cones left of two yellow cubes", skill: "none", maxIterations: 5, seed: 1 }, at);
  trajectory.status = "running";
  const events = Array.from({ length: steps }, (_, i) => ({ type: "experience", n: 1, text: `step ${i}: ${"the cubes are too small ".repeat(4)}`, jobId, seq: i + 1, at: at.toISOString() }) as unknown as JobEvent);
  trajectory.updatedAt = new Date(at.getTime() + steps).toISOString();
  return { version: 1, jobId, requester: { id: "bench:1", name: "Bench" }, surfaceRef: { surface: "bench" }, trajectory, events, cursors: { bench: steps }, pendingFeedback: [], finishedAt: null };
}

/** Mean ms per commit of 10 jobs × 40 steps, each step one put of the grown record. */
async function commitCost(): Promise<{ sqliteMs: number; postgresMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "gems-bench-commit-"));
  const schema = `gems_bench_${randomBytes(4).toString("hex")}`;
  const sqlite = await openSqliteJobStore(dir);
  const db = await openDatabase(DATABASE_URL, { schema });
  const postgres = createPostgresJobStore(db, { isShared: true, ownsDatabase: false });
  const time = async (put: (record: JobRecord) => Promise<void>, label: string): Promise<number> => {
    const started = performance.now();
    let commits = 0;
    for (let job = 0; job < 10; job++) {
      for (let step = 1; step <= 40; step++) {
        await put(recordAfter(`${label}-${job}`, step));
        commits++;
      }
    }
    return (performance.now() - started) / commits;
  };
  try {
    // Alternated twice, so neither store always runs on the colder machine.
    // As a worker commits: the job is created, claimed once, then every step is a fenced write.
    const postgresPut = async (r: JobRecord): Promise<void> => {
      await postgres.put(r);
      if (r.events.length === 1) await postgres.claim(r.jobId, "bench");
    };
    const s1 = await time((r) => sqlite.put(r), "s1");
    const p1 = await time(postgresPut, "p1");
    const s2 = await time((r) => sqlite.put(r), "s2");
    const p2 = await time(postgresPut, "p2");
    return { sqliteMs: (s1 + s2) / 2, postgresMs: (p1 + p2) / 2 };
  } finally {
    await sqlite.close();
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number, digits = 2): string => n.toFixed(digits);

async function startSim(setting: Setting): Promise<{ url: string; stop(): void }> {
  const sim = start([
    "servers/sim/main.ts", "--port", "0", "--mllm-latency", String(setting.mllmMs), "--generator-latency", String(setting.generatorMs), "--image-size", String(IMAGE_SIZE), "--quiet",
  ]);
  try {
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(await lineMatching(sim, /listening on/, 30_000))?.[1] as string;
    return { url, stop: () => void sim.kill("SIGTERM") };
  } catch (error) {
    sim.kill("SIGKILL");
    throw error;
  }
}

/** The four shapes in one setting, one after another against one sim server. */
async function runShapes(setting: Setting, work: string): Promise<Row[]> {
  const sim = await startSim(setting);
  try {
    const rows = [await runLocal(sim.url, setting, join(work, `local-${setting.name}`))];
    for (const workers of [1, 2, 4]) rows.push(await runCluster(sim.url, setting, workers));
    return rows;
  } finally {
    sim.stop();
  }
}

const settingLine = (setting: Setting): string =>
  `MLLM ${setting.mllmMs} ms, generator ${setting.generatorMs} ms; ${setting.running === JOBS ? "every job running at once" : `${setting.running} running jobs in all (per worker: ${setting.running} ÷ workers)`}`;

const makespanCell = (row: Row): string =>
  `${fmt(row.makespanMs / row.lowerBoundMs, 3)} (${fmt(row.makespanMs / 1000, 1)} s vs ${fmt(row.lowerBoundMs / 1000, 1)} s, ${row.images} images)`;

const fairnessCell = (row: Row): string => `${fmt(row.maxFirstWaitMs / row.meanWaitMs)} (${fmt(row.maxFirstWaitMs / 1000, 1)} s vs ${fmt(row.meanWaitMs / 1000, 1)} s)`;

export async function benchScaleOut(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), "gems-bench-scale-"));
  // The machine is shared: the load around the run says how far to trust its numbers.
  const loadBefore = loadavg()[0] as number;
  try {
    const makespan = await runShapes(SETTINGS.makespan, work);
    const fairness = await runShapes(SETTINGS.fairness, work);
    const cpuBound = await runShapes(SETTINGS.cpuBound, work);
    const commits = await commitCost();
    const single = (rows: Row[]): Row => rows[0] as Row;
    const vsSingle = (row: Row, rows: Row[]): string => fmt(row.makespanMs / row.lowerBoundMs / (single(rows).makespanMs / single(rows).lowerBoundMs));
    return [
      `## Scale-out (sim server, ${IMAGE_SIZE}-pixel pictures; generator capacity ${CAPACITY}; ${JOBS} jobs from ${PEOPLE} people, person by person, up to 5 iterations)`,
      "",
      `Makespan: ${settingLine(SETTINGS.makespan)}. Fairness: ${settingLine(SETTINGS.fairness)}. CPU-bound: ${settingLine(SETTINGS.cpuBound)}.`,
      "",
      "| shape | done | makespan ÷ lower bound | fairness: longest first-job wait ÷ mean wait (its makespan ÷ bound) | CPU-bound: makespan ÷ bound (÷ the single process's) |",
      "|---|---:|---:|---:|---:|",
      ...makespan.map((row, i) => {
        const fair = fairness[i] as Row;
        const fast = cpuBound[i] as Row;
        return `| ${row.shape} | ${row.done + fair.done + fast.done}/${3 * JOBS} | ${makespanCell(row)} | ${fairnessCell(fair)} (${fmt(fair.makespanMs / fair.lowerBoundMs, 3)}) | ${fmt(fast.makespanMs / fast.lowerBoundMs, 3)} (${vsSingle(fast, cpuBound)}) |`;
      }),
      "",
      `| one step's commit (10 jobs × 40 steps, the record growing) | SQLite | PostgreSQL | ratio |`,
      "|---|---:|---:|---:|",
      `| mean time per commit | ${fmt(commits.sqliteMs)} ms | ${fmt(commits.postgresMs)} ms | ${fmt(commits.postgresMs / commits.sqliteMs)} |`,
      "",
      "Targets: makespan within 1.15 of the lower bound (MLLM + images × generator ÷ 8 + MLLM; real calls take a little longer than the sim's sleep, so the bound is strict), fairness ≤ 2.",
      `Load average (1 min) before the run ${fmt(loadBefore, 1)}, after it ${fmt(loadavg()[0] as number, 1)}, on ${availableParallelism()} cores.`,
    ].join("\n");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
