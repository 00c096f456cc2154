/**
 * Scaled out for real: one surfaces process and three workers as separate processes over one
 * PostgreSQL schema and one Redis prefix, with a worker killed by SIGKILL at ten random moments
 * (a fresh one started each time, so three keep running). Every job must finish, no iteration
 * may run twice, no acknowledged feedback may be lost, and the surface must see every event
 * exactly once, in order.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_DATABASE_URL, dropSchema, uniqueSchemaName } from "../support/postgres.ts";
import { TEST_REDIS_URL, deletePrefix, uniquePrefix } from "../support/redis.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";

const root = resolve(import.meta.dirname, "../..");
const CHILD = join(root, "test/jobs/cluster-child.ts");
const JOBS = 30;
const PEOPLE = 6;
const KILLS = 10;

interface Line {
  type: string;
  [key: string]: unknown;
}

interface Child {
  process: ChildProcess;
  lines: Line[];
  started: Promise<void>;
  exited: Promise<number | null>;
  waitFor(match: (line: Line) => boolean): Promise<Line>;
  stderr: () => string;
}

const everyone: ChildProcess[] = [];
afterAll(() => {
  for (const child of everyone) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function startChild(args: string[]): Child {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, "--database-url", TEST_DATABASE_URL, "--redis-url", TEST_REDIS_URL, ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  everyone.push(child);
  const lines: Line[] = [];
  const waiters: Array<{ match: (line: Line) => boolean; resolve: (line: Line) => void }> = [];
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on("line", (text) => {
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      return;
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const waitFor = (match: (line: Line) => boolean): Promise<Line> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      waiters.push({ match, resolve: resolveLine });
      void exited.then((code) => reject(new Error(`child exited (${code}) before the line came:\n${stderr}`)));
    });
  };
  const started = waitFor((l) => l.type === "started").then(() => undefined);
  // A worker killed while starting never says so; only callers that wait for it care.
  started.catch(() => undefined);
  return { process: child, lines, started, exited, waitFor, stderr: () => stderr };
}

/** A small seeded generator, so a failing run can be repeated (the seed is in the message). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The unfinished jobs as PostgreSQL has them, for a failure message. */
async function describeStuck(schema: string): Promise<string> {
  const db = await openDatabase(TEST_DATABASE_URL, { schema });
  try {
    const { rows } = await db.pool.query(
      `SELECT job_id, trajectory->>'status' AS status, owner, (SELECT count(*) FROM ${db.table("job_events")} e WHERE e.job_id = j.job_id) AS events FROM ${db.table("jobs")} j WHERE trajectory->>'status' NOT IN ('done', 'failed', 'cancelled')`,
    );
    return `timed out; unfinished jobs: ${JSON.stringify(rows)}`;
  } finally {
    await db.close();
  }
}

describe("three workers and a surfaces process", () => {
  it(
    "finish 30 jobs from 6 people through 10 SIGKILLs without repeating an iteration, losing feedback or delivering an event twice",
    async () => {
      const seed = Number(process.env["GEMS_TEST_SEED"] ?? Date.now() % 100_000);
      const random = seeded(seed);
      const schema = uniqueSchemaName("crash");
      const prefix = uniquePrefix("crash");
      // Migrated once up front, so the children's start-up is quick (their own migrate finds nothing).
      const db = await openDatabase(TEST_DATABASE_URL, { schema });
      await db.close();
      const common = ["--schema", schema, "--prefix", prefix, "--lock-ms", "1000", "--mllm-latency", "3", "--generator-latency", "60"];
      // Set when the test ends, however it ends: no worker may be started after the cleanup.
      let isEnding = false;
      let killing: Promise<void> = Promise.resolve();
      try {
        let workerNumber = 0;
        const startWorker = (): Child => startChild([...common, "--role", "worker", "--max-running", "4", "--instance", `w${++workerNumber}`, "--log-level", "warn"]);
        const workers = [startWorker(), startWorker(), startWorker()];
        await Promise.all(workers.map((w) => w.started));
        const surfaces = startChild([...common, "--role", "surfaces", "--jobs", String(JOBS), "--people", String(PEOPLE), "--iterations", "3", "--feedback", "--log-events"]);
        const finished = surfaces.waitFor((l) => l.type === "finished");
        await surfaces.started;

        let kills = 0;
        killing = (async () => {
          while (kills < KILLS && !surfaces.lines.some((l) => l.type === "finished")) {
            await new Promise((r) => setTimeout(r, 100 + random() * 500));
            if (isEnding) return;
            const live = workers.filter((w) => w.process.exitCode === null && w.process.signalCode === null);
            const victim = live[Math.floor(random() * live.length)];
            if (!victim) continue;
            victim.process.kill("SIGKILL");
            await victim.exited;
            kills++;
            if (isEnding) return;
            // Not waited for: the next kill may come while it is still starting, as in real life.
            workers.push(startWorker());
          }
        })();
        // A stuck job fails the test with what is stored, not with a bare timeout.
        let watchdog: NodeJS.Timeout | undefined;
        const stuck = new Promise<never>((_, reject) => {
          watchdog = setTimeout(() => void describeStuck(schema).then((text) => reject(new Error(`${text}\nworker logs:\n${workers.map((w) => w.stderr()).join("").slice(-4000)}`))), 120_000);
        });
        const result = await Promise.race([finished, stuck]);
        clearTimeout(watchdog);
        await killing;

        const context = `seed ${seed}, ${kills} kills`;
        const jobs = result["jobs"] as Array<{ jobId: string; status: string; iterations: number[]; feedback: string[]; pendingFeedback: number }>;
        expect(jobs.length, context).toBe(JOBS);
        expect(jobs.filter((j) => j.status !== "done"), context).toEqual([]);
        expect(kills, context).toBe(KILLS);
        for (const job of jobs) {
          // No iteration twice: the stored iterations count 1, 2, 3…
          expect(job.iterations, `${context}: ${job.jobId}`).toEqual(job.iterations.map((_, i) => i + 1));
        }
        // No feedback lost: every acknowledged piece is in its job's memory, exactly once.
        const acknowledged = surfaces.lines.filter((l) => l.type === "feedback") as Array<Line & { jobId: string; text: string }>;
        expect(acknowledged.length, context).toBeGreaterThan(0);
        for (const { jobId, text } of acknowledged) {
          const job = jobs.find((j) => j.jobId === jobId);
          expect(job?.feedback.filter((f) => f === text), `${context}: ${jobId}`).toEqual([text]);
          expect(job?.pendingFeedback, `${context}: ${jobId} ${JSON.stringify(job)} ${JSON.stringify(surfaces.lines.filter((l) => l["jobId"] === jobId && l.type !== "event"))}`).toBe(0);
        }
        // No event twice to the surface, none missing, in order; iteration.started once per n.
        const delivered = surfaces.lines.filter((l) => l.type === "event") as Array<Line & { jobId: string; seq: number; event: string; n?: number }>;
        for (const job of jobs) {
          const mine = delivered.filter((e) => e.jobId === job.jobId);
          expect(
            mine.map((e) => e.seq),
            `${context}: ${job.jobId}`,
          ).toEqual(mine.map((_, i) => i + 1));
          const started = mine.filter((e) => e.event === "iteration.started").map((e) => e.n);
          expect(started, `${context}: ${job.jobId}`).toEqual(job.iterations);
        }
        expect(await surfaces.exited).toBe(0);
      } finally {
        isEnding = true;
        await killing;
        // Every child gone before the cleanup: a command already on its way would recreate keys.
        const alive = everyone.filter((child) => child.exitCode === null && child.signalCode === null);
        for (const child of alive) child.kill("SIGKILL");
        await Promise.all(alive.map((child) => new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done(null) : child.once("exit", done)))));
        await dropSchema(schema);
        await deletePrefix(prefix);
      }
    },
    240_000,
  );
});
