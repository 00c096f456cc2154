/**
 * One process of a scaled-out GEMS on the sim models, for the multi-process tests and the
 * benchmark: the parent starts one surfaces process and several workers over one PostgreSQL
 * schema and one Redis key prefix, and kills workers with SIGKILL while jobs run.
 *
 *   node --import tsx test/jobs/cluster-child.ts --role worker --schema S --prefix P
 *     [--lock-ms 1000] [--mllm-latency 5] [--generator-latency 30] [--generator-concurrency 4]
 *     [--max-running 4] [--instance w1]
 *   node --import tsx test/jobs/cluster-child.ts --role surfaces --schema S --prefix P
 *     --jobs 30 --people 6 [--iterations 3] [--feedback] [--log-events]
 *   --role local --data-dir D: the same surfaces logic on one single-process service (SQLite),
 *     for side-by-side benchmarks. --sim-url U uses the sim server through the real adapters;
 *     --bench submits the benchmark prompts person by person (the worst order for fairness).
 *
 * stdout is JSON lines. Every process: {"type":"started"}. Surfaces: {"type":"submitted",jobId,
 * index}, {"type":"feedback",jobId,text} once stored, {"type":"event",jobId,seq,event,n} per
 * delivered event with --log-events, and {"type":"finished",jobs:[…],firstSubmitMs,lastDoneMs}
 * when every job ended; then it exits 0. SIGTERM drains and exits 0.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createDistributedBackend } from "../../core/jobs/backend.ts";
import { createDistributedJobService, type ServiceRole } from "../../core/jobs/distributed/distributed-job-service.ts";
import { connectRedis } from "../../core/jobs/distributed/redis.ts";
import { isFinished } from "../../core/jobs/job-actions.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import type { Person } from "../../core/jobs/types.ts";
import { createLogger } from "../../core/logger.ts";
import { createJobService } from "../../core/jobs/job-service.ts";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import type { JobService } from "../../core/jobs/types.ts";
import { createDiskImageStore } from "../../core/memory/image-store.ts";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import { createGemsHttpGenerator } from "../../core/models/gems-http-generator.ts";
import { BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";
import { createPostgresImageStore } from "../../core/memory/postgres/image-store.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { childProcessLimits } from "../support/limits.ts";
import { emitLine, feedbackFor, promptFor, workloadPeople } from "./child-workload.ts";

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    schema: { type: "string" },
    prefix: { type: "string" },
    "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
    "redis-url": { type: "string", default: "redis://127.0.0.1:6379" },
    "lock-ms": { type: "string", default: "1000" },
    "mllm-latency": { type: "string", default: "5" },
    "generator-latency": { type: "string", default: "30" },
    "generator-concurrency": { type: "string", default: "4" },
    "max-running": { type: "string", default: "4" },
    instance: { type: "string", default: `child-${process.pid}` },
    jobs: { type: "string", default: "10" },
    people: { type: "string", default: "3" },
    iterations: { type: "string", default: "3" },
    feedback: { type: "boolean", default: false },
    "log-events": { type: "boolean", default: false },
    "log-level": { type: "string", default: "silent" },
    "sim-url": { type: "string" },
    "data-dir": { type: "string" },
    bench: { type: "boolean", default: false },
  },
});
const role = values.role as ServiceRole | "local";
const isLocal = role === "local";
if (!["surfaces", "worker", "all", "local"].includes(role) || (isLocal ? !values["data-dir"] : !values.schema || !values.prefix)) {
  process.stderr.write("cluster-child: --role surfaces|worker|all with --schema and --prefix, or --role local with --data-dir\n");
  process.exit(2);
}
const jobCount = Number(values.jobs);
const people = workloadPeople(Number(values.people));

const limits = childProcessLimits({
  maxRunningJobs: Number(values["max-running"]),
  generatorConcurrency: Number(values["generator-concurrency"]),
  maxQueuedPerPerson: jobCount,
  defaultIterations: Number(values.iterations),
});
const simUrl = values["sim-url"];
const mllm = simUrl
  ? createOpenAiCompatibleMllm({ baseUrl: `${simUrl}/v1`, model: "gems-sim", apiKey: "sim" })
  : createSimMllm({ latencyMs: Number(values["mllm-latency"]) });
const generator = simUrl ? createGemsHttpGenerator({ url: `${simUrl}/generate` }) : createSimGenerator({ latencyMs: Number(values["generator-latency"]) });
const skills = await loadSkillLibrary(join(import.meta.dirname, "../../skills"));
// Logs go to stderr, which the parent keeps for the failure message.
const logger = createLogger(values["log-level"], process.stderr);

const db = isLocal ? undefined : await openDatabase(values["database-url"], { schema: values.schema as string, maxConnections: 8 });
const service: JobService = db
  ? createDistributedJobService({
      role: role as ServiceRole,
      instance: values.instance,
      mllm,
      generator,
      skills,
      images: createPostgresImageStore(db),
      backend: await createDistributedBackend({
        limits,
        store: createPostgresJobStore(db, { isShared: true }),
        redis: await connectRedis(values["redis-url"], values.prefix as string),
        logger,
      }),
      logger,
      lockMs: Number(values["lock-ms"]),
      pollIntervalMs: 1_000,
      limits,
    })
  : createJobService({
      mllm,
      generator,
      skills,
      images: createDiskImageStore(join(values["data-dir"] as string, "images")),
      store: await openSqliteJobStore(values["data-dir"] as string),
      logger,
      limits,
    });

function fail(error: unknown): void {
  process.stderr.write(`cluster-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}

process.once("SIGTERM", () => {
  void service
    .drain({ timeoutMs: 10_000 })
    .then(() => service.close())
    .then(() => process.exit(0), fail);
});

if (role === "worker") {
  await service.start();
  emitLine({ type: "started" });
} else {
  const indexOf = new Map<string, number>();
  const given = new Set<string>();
  let firstSubmitMs = 0;
  let isFinishing = false;

  const finishIfDone = async (): Promise<void> => {
    const jobs = service.list();
    if (isFinishing || jobs.length < jobCount || !jobs.every((job) => isFinished(job.status))) return;
    isFinishing = true;
    let lastDoneMs = 0;
    const storedPending = new Map<string, number>();
    if (db) {
      const stored = createPostgresJobStore(db, { ownsDatabase: false });
      for (const job of jobs) storedPending.set(job.jobId, (await stored.pendingOf(job.jobId)).length);
    }
    const summaries = jobs.map((job) => {
      const status = service.status(job.jobId);
      const log = service.events(job.jobId);
      const events = log.ok ? log.events : [];
      const startedAt = events.find((e) => e.type === "job.started")?.at ?? null;
      const endedAt = events.findLast((e) => e.type === "job.done" || e.type === "job.failed")?.at ?? null;
      if (endedAt) lastDoneMs = Math.max(lastDoneMs, Date.parse(endedAt));
      return {
        jobId: job.jobId,
        index: indexOf.get(job.jobId),
        person: job.requester.id,
        status: job.status,
        error: job.error,
        iterations: status.ok ? status.job.trajectory.iterations.map((it) => it.n) : [],
        feedback: status.ok ? status.job.trajectory.feedback.map((f) => f.text) : [],
        pendingFeedback: job.pendingFeedback,
        storedPendingFeedback: storedPending.get(job.jobId),
        createdAt: job.createdAt,
        startedAt,
        endedAt,
      };
    });
    emitLine({ type: "finished", firstSubmitMs, lastDoneMs, jobs: summaries });
    await service.drain({ timeoutMs: 10_000 });
    await service.close();
    process.exit(0);
  };

  service.subscribe(
    "cluster",
    async (event) => {
      if (values["log-events"]) emitLine({ type: "event", jobId: event.jobId, seq: event.seq, event: event.type, ...("n" in event ? { n: event.n } : {}) });
      if (values.feedback && event.type === "verified" && event.n === 1 && !given.has(event.jobId)) {
        given.add(event.jobId);
        const index = indexOf.get(event.jobId) ?? 0;
        const text = feedbackFor(index);
        // Not awaited inside the handler: feedback goes through the service like a chat reply.
        void service
          .addFeedback(event.jobId, people[index % people.length] as Person, text)
          .then((result) => {
            if (result.ok) emitLine({ type: "feedback", jobId: event.jobId, text });
            else emitLine({ type: "feedback-refused", jobId: event.jobId, message: result.message });
          })
          .catch(fail);
      }
      if (event.type === "job.done" || event.type === "job.failed" || event.type === "job.cancelled") void finishIfDone().catch(fail);
    },
    { isAllJobs: true },
  );

  await service.start();
  emitLine({ type: "started" });
  firstSubmitMs = Date.now();
  const perPerson = Math.ceil(jobCount / people.length);
  for (let index = 1; index <= jobCount; index++) {
    // --bench: person by person, each person's jobs together (the worst order for fairness).
    const person = (values.bench ? people[Math.floor((index - 1) / perPerson)] : people[index % people.length]) as Person;
    const prompt = values.bench ? (BENCH_PROMPTS[(index - 1) % BENCH_PROMPTS.length] as string) : promptFor(index);
    const result = await service.submit({ prompt, skill: "none" }, person, { surface: "cluster", index });
    if (result.ok) {
      indexOf.set(result.jobId, index);
      emitLine({ type: "submitted", jobId: result.jobId, index });
    } else emitLine({ type: "refused", index, message: result.message });
  }
  await finishIfDone();
}
