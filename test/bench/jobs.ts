/**
 * Job-service measurements: latency overhead of one job, makespan and fairness of a burst,
 * peak memory with 200 jobs, and kill -9 recovery. Each runs in its own process against the sim
 * server (MLLM 50 ms, generator 150 ms, generator capacity 4).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";

const root = resolve(import.meta.dirname, "../..");
const node = process.execPath;

function start(args: string[]): ChildProcess {
  return spawn(node, ["--import", "tsx", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
}

/** Resolves with the first stdout line that matches, or rejects when the process ends first. */
function lineMatching(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
    lines.on("line", (line) => {
      if (!pattern.test(line)) return;
      clearTimeout(timer);
      lines.close();
      resolvePromise(line);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${pattern}`));
    });
  });
}

async function runChild(suite: string, dataDir: string, simUrl: string): Promise<any> {
  const child = start(["test/bench/jobs-child.ts", suite, dataDir, simUrl]);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    return JSON.parse(await lineMatching(child, /^\{/, 600_000));
  } catch (error) {
    throw new Error(`${suite}: ${String(error)}\n${stderr}`);
  }
}

/** Small seeded generator, so the kill moments are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface CrashReport {
  kills: number;
  killsMidRun: number;
  jobs: number;
  finished: number;
  duplicatedIterations: number;
  feedbackPresent: number;
}

/** kill -9 the job service at 20 random moments of a 10-job run, then let it finish. */
export async function killNine(dataDir: string, kills = 20, jobs = 10): Promise<CrashReport> {
  const random = mulberry32(20261123);
  // One generator slot and up to 5 iterations stretch the run to ~8 s, so that 20 kills ~250 ms
  // apart all land while jobs are still working.
  const args = ["test/jobs/crash-child.ts", "--data-dir", dataDir, "--jobs", String(jobs), "--iterations", "5", "--generator-concurrency", "1"];
  let killsMidRun = 0;
  for (let k = 0; k < kills; k++) {
    const child = start(args);
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    child.stdout!.resume();
    await lineMatching(child, /"type":"started"/, 30_000);
    await new Promise((r) => setTimeout(r, random() * 500));
    if (child.exitCode === null) {
      child.kill("SIGKILL");
      killsMidRun++;
    }
    await exited;
  }
  const last = start(args);
  await lineMatching(last, /"type":"finished"/, 120_000);
  await new Promise((done) => last.once("exit", done));

  const store = await openSqliteJobStore(dataDir);
  const { records } = await store.load();
  await store.close();
  let duplicatedIterations = 0;
  let feedbackPresent = 0;
  for (const record of records) {
    const started = record.events.filter((e) => e.type === "iteration.started").map((e) => (e as { n: number }).n);
    const imaged = record.events.filter((e) => e.type === "image.ready").map((e) => (e as { n: number }).n);
    duplicatedIterations += started.length - new Set(started).size + (imaged.length - new Set(imaged).size);
    if (record.trajectory.feedback.some((f) => f.text.includes("make the red ring twice as large"))) feedbackPresent++;
  }
  return {
    kills,
    killsMidRun,
    jobs: records.length,
    finished: records.filter((r) => r.trajectory.status === "done").length,
    duplicatedIterations,
    feedbackPresent,
  };
}

const fmt = (n: number, digits = 2): string => n.toFixed(digits);

export async function benchJobs(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), "gems-bench-jobs-"));
  const sim = start(["servers/sim/main.ts", "--port", "0", "--mllm-latency", "50", "--generator-latency", "150", "--quiet"]);
  try {
    const simUrl = /(http:\/\/127\.0\.0\.1:\d+)/.exec(await lineMatching(sim, /listening on/, 30_000))?.[1] as string;
    const oneJob = await runChild("one-job", join(work, "one"), simUrl);
    const burst = await runChild("burst", join(work, "burst"), simUrl);
    const rss = await runChild("rss", join(work, "rss"), simUrl);
    const crash = await killNine(join(work, "crash"));
    const ratios = oneJob.ratios as number[];
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    return [
      "## Job service (sim server: MLLM 50 ms, generator 150 ms, generator capacity 4)",
      "",
      "| measurement | result | target |",
      "|---|---:|---:|",
      `| one job: wall time ÷ critical-path model time (${ratios.length} prompts) | mean ${fmt(mean, 3)}, max ${fmt(Math.max(...ratios), 3)} | ≤ 1.05 |`,
      `| ${burst.jobs} jobs from 12 people: makespan ÷ lower bound (generator time ÷ 4) | ${fmt(burst.makespanMs / burst.lowerBoundMs, 3)} (${fmt(burst.makespanMs / 1000, 1)} s vs ${fmt(burst.lowerBoundMs / 1000, 1)} s, ${burst.generatorCalls} images) | ≤ 1.15 |`,
      `| same burst: longest first-job wait ÷ average wait | ${fmt(burst.maxFirstJobWaitMs / burst.averageWaitMs)} (${fmt(burst.maxFirstJobWaitMs / 1000, 1)} s vs ${fmt(burst.averageWaitMs / 1000, 1)} s) | ≤ 2 |`,
      `| ${rss.jobs} jobs queued + running: peak RSS | ${fmt(rss.peakRssMb, 0)} MB (${fmt(rss.baselineRssMb, 0)} MB at start) | < 400 MB |`,
      `| kill -9 at ${crash.kills} random moments (${crash.killsMidRun} while jobs ran) of a ${crash.jobs}-job run (generator capacity 1, ≤5 iterations) | ${crash.finished}/${crash.jobs} done, ${crash.duplicatedIterations} duplicated iterations, feedback in ${crash.feedbackPresent}/${crash.jobs} | 10/10, 0, 10/10 |`,
    ].join("\n");
  } finally {
    sim.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}
