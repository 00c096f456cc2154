/**
 * GET /metrics. The studio sees the job service only through its public contract, so model call
 * latencies are derived from the timestamps of consecutive events (see MODEL_STEPS); the job
 * counts, queue length and model slots come from list() and metrics().
 */
import type { JobEvent } from "../../core/agent/events.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { TrajectoryStatus } from "../../core/memory/trajectory.ts";
import { Histogram, family } from "./prometheus.ts";

type Model = "mllm" | "generator";

interface ModelStep {
  model: Model;
  role: string;
  /** The event types that must come right before; anything else in between spoils the timing. */
  after: ReadonlyArray<JobEvent["type"]>;
}

/**
 * An event that ends one model call, and the event that starts it. The interval includes the
 * wait for a model slot and the store write, so it is an upper bound of the call itself; the
 * verifier's is the wall time of one image's questions asked in parallel.
 */
const MODEL_STEPS: Partial<Record<JobEvent["type"], ModelStep>> = {
  "plan.done": { model: "mllm", role: "planner", after: ["job.started"] },
  requirements: { model: "mllm", role: "decomposer", after: ["plan.done"] },
  "image.ready": { model: "generator", role: "generator", after: ["iteration.started"] },
  verified: { model: "mllm", role: "verifier", after: ["image.ready"] },
  experience: { model: "mllm", role: "compressor", after: ["verified"] },
  "prompt.refined": { model: "mllm", role: "refiner", after: ["experience", "verified"] },
};

const STATES: readonly TrajectoryStatus[] = ["queued", "running", "done", "failed", "cancelled"];
const SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

export interface StudioMetrics {
  /** Every event the studio's subscription receives, in order per job. */
  observe(event: JobEvent): void;
  render(extra: { sseClients: number }): string;
}

export function createStudioMetrics(jobs: JobService): StudioMetrics {
  const modelCalls = new Histogram(
    "gems_model_call_seconds",
    "Model call latency by model and GEMS role, measured between consecutive job events (includes waiting for a model slot).",
    SECONDS_BUCKETS,
  );
  for (const step of Object.values(MODEL_STEPS)) modelCalls.declare({ model: step.model, role: step.role });
  const lastEvent = new Map<string, { type: JobEvent["type"]; atMs: number }>();
  let imagesGenerated = 0;
  let iterationsFailed = 0;
  let feedbackAdded = 0;

  return {
    observe(event) {
      const atMs = Date.parse(event.at);
      const previous = lastEvent.get(event.jobId);
      const step = MODEL_STEPS[event.type];
      if (step && previous && step.after.includes(previous.type) && atMs >= previous.atMs) {
        modelCalls.observe({ model: step.model, role: step.role }, (atMs - previous.atMs) / 1000);
      }
      if (event.type === "image.ready") imagesGenerated++;
      if (event.type === "iteration.failed") iterationsFailed++;
      if (event.type === "feedback.added") feedbackAdded++;
      // A finished job's next event (feedback, continue) comes after an idle gap, never a model call.
      if (event.type === "job.done" || event.type === "job.failed" || event.type === "job.cancelled") lastEvent.delete(event.jobId);
      else lastEvent.set(event.jobId, { type: event.type, atMs });
    },

    render({ sseClients }) {
      const counts = new Map<TrajectoryStatus, number>(STATES.map((state) => [state, 0]));
      for (const job of jobs.list()) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
      const service = jobs.metrics();
      return [
        family("gems_jobs", "gauge", "Stored jobs by state.", STATES.map((state) => ({ labels: { state }, value: counts.get(state) ?? 0 }))),
        family("gems_queue_length", "gauge", "Jobs waiting to run.", [{ value: service.queued }]),
        family("gems_model_in_flight", "gauge", "Model calls in progress across all jobs.", [
          { labels: { model: "mllm" }, value: service.mllmInFlight },
          { labels: { model: "generator" }, value: service.generatorInFlight },
        ]),
        family("gems_model_waiting", "gauge", "Model calls waiting for a free slot.", [
          { labels: { model: "mllm" }, value: service.mllmWaiting },
          { labels: { model: "generator" }, value: service.generatorWaiting },
        ]),
        modelCalls.render(),
        family("gems_images_generated_total", "counter", "Images generated since the studio started (image.ready events).", [{ value: imagesGenerated }]),
        family("gems_iterations_failed_total", "counter", "Iterations whose image could not be generated, since the studio started.", [
          { value: iterationsFailed },
        ]),
        family("gems_feedback_added_total", "counter", "Feedback entries written into job memory, since the studio started.", [{ value: feedbackAdded }]),
        family("gems_corrupt_jobs", "gauge", "Stored job records that could not be read at start.", [{ value: jobs.corruptJobs().length }]),
        family("gems_web_event_streams", "gauge", "Open server-sent event streams to browsers.", [{ value: sseClients }]),
      ].join("");
    },
  };
}
