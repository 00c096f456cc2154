/**
 * A job service on the sim models and a data directory, for the kill -9 benchmark: the parent
 * starts this script, kills it at random moments and starts it again until it reports that every
 * job finished. Each launch resumes what the last one stored, submits the jobs still missing and
 * gives each job one piece of feedback once its first image was verified.
 *
 *   node --import tsx test/jobs/crash-child.ts --data-dir /tmp/run --jobs 10 [--people 3]
 *     [--iterations 3] [--mllm-latency 50] [--generator-latency 150] [--generator-concurrency 4]
 *
 * stdout is JSON lines: {"type":"started",…} per launch, {"type":"submitted",jobId,index},
 * {"type":"feedback",jobId,text} once the feedback is stored (acknowledged), and finally
 * {"type":"finished",jobs:[{jobId,status,iterations,feedback}]} before a clean exit 0. SIGTERM
 * drains and exits 0 without the final line.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createJobService } from "../../core/jobs/job-service.ts";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import { isFinished } from "../../core/jobs/job-actions.ts";
import type { JobService, Person } from "../../core/jobs/types.ts";
import { createDiskImageStore } from "../../core/memory/image-store.ts";
import { silentLogger } from "../../core/logger.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { childProcessLimits } from "../support/limits.ts";
import { emitLine, feedbackFor, indexOfPrompt, promptFor, workloadPeople } from "./child-workload.ts";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    jobs: { type: "string", default: "10" },
    people: { type: "string", default: "3" },
    iterations: { type: "string", default: "3" },
    "mllm-latency": { type: "string", default: "50" },
    "generator-latency": { type: "string", default: "150" },
    "generator-concurrency": { type: "string", default: "4" },
  },
});
const dataDir = values["data-dir"];
if (!dataDir) {
  process.stderr.write("crash-child: --data-dir is required\n");
  process.exit(2);
}
const jobCount = Number(values.jobs);
const people = workloadPeople(Number(values.people));

const service: JobService = createJobService({
  mllm: createSimMllm({ latencyMs: Number(values["mllm-latency"]) }),
  generator: createSimGenerator({ latencyMs: Number(values["generator-latency"]) }),
  skills: await loadSkillLibrary(join(import.meta.dirname, "../../skills")),
  images: createDiskImageStore(join(dataDir, "images")),
  store: await openSqliteJobStore(dataDir),
  logger: silentLogger,
  limits: childProcessLimits({
    maxRunningJobs: jobCount,
    generatorConcurrency: Number(values["generator-concurrency"]),
    maxQueuedPerPerson: jobCount,
    defaultIterations: Number(values.iterations),
  }),
});

/** Gives a job its feedback once, however often the event that prompts it is delivered. */
async function giveFeedback(jobId: string): Promise<void> {
  const status = service.status(jobId);
  if (!status.ok) return;
  const index = indexOfPrompt(status.job.request.prompt);
  if (index === null) return;
  const text = feedbackFor(index);
  const stored = service.events(jobId);
  const isGiven =
    status.job.trajectory.feedback.some((f) => f.text === text) ||
    status.job.pendingFeedback > 0 ||
    (stored.ok && stored.events.some((e) => e.type === "feedback.added" && e.text === text));
  if (isGiven) return;
  const result = await service.addFeedback(jobId, people[index % people.length] as Person, text);
  if (result.ok) emitLine({ type: "feedback", jobId, text });
}

let isFinishing = false;
async function finishIfDone(): Promise<void> {
  const jobs = service.list();
  if (isFinishing || jobs.length < jobCount || !jobs.every((job) => isFinished(job.status))) return;
  isFinishing = true;
  emitLine({
    type: "finished",
    jobs: jobs.map((job) => {
      const status = service.status(job.jobId);
      return {
        jobId: job.jobId,
        status: job.status,
        iterations: status.ok ? status.job.trajectory.iterations.map((it) => it.n) : [],
        feedback: status.ok ? status.job.trajectory.feedback.map((f) => f.text) : [],
      };
    }),
  });
  await service.drain();
  await service.close();
  process.exit(0);
}

service.subscribe("bench", async (event) => {
  if (event.type === "verified" && event.n === 1) await giveFeedback(event.jobId);
  // Not awaited: drain() waits for this very handler to return.
  if (event.type === "job.done" || event.type === "job.failed" || event.type === "job.cancelled") void finishIfDone().catch(fail);
});

function fail(error: unknown): void {
  process.stderr.write(`crash-child: ${String(error)}\n`);
  process.exit(1);
}

process.once("SIGTERM", () => {
  void service
    .drain()
    .then(() => service.close())
    .then(() => process.exit(0));
});

const report = await service.start();
emitLine({ type: "started", loaded: report.loaded, resumed: report.resumed, corrupt: report.corrupt });
const present = new Set(service.list().flatMap((job) => indexOfPrompt(job.request.prompt) ?? []));
for (let index = 1; index <= jobCount; index++) {
  if (present.has(index)) continue;
  const result = await service.submit({ prompt: promptFor(index), skill: "none" }, people[index % people.length] as Person, {
    surface: "bench",
    index,
  });
  if (result.ok) emitLine({ type: "submitted", jobId: result.jobId, index });
  else emitLine({ type: "refused", index, message: result.message });
}
await finishIfDone();
