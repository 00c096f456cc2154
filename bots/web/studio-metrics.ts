/**
 * GET /metrics. Job counts, queue length, model slots and model call latencies come from the job
 * service (list() and metrics()); the counters below count the events the studio receives.
 */
import type { JobEvent } from "../../core/agent/events.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { TrajectoryStatus } from "../../core/memory/trajectory.ts";
import { modelCallFamilies } from "./model-call-metrics.ts";
import { family, labelSamples, type Labels } from "./prometheus.ts";

const STATES: readonly TrajectoryStatus[] = ["queued", "running", "done", "failed", "cancelled"];

/** One server of a model pool, as the pool counts it (core/models/server-pool.ts ServerStats). */
export interface ModelServerStats {
  model: "mllm" | "generator";
  server: string;
  capacity: number;
  inFlight: number;
  calls: number;
  failures: number;
  healthy: boolean;
}

export interface StudioMetrics {
  /** Every event the studio's subscription receives, in order per job. */
  observe(event: JobEvent): void;
  render(extra: { sseClients: number }): string;
}

/**
 * `modelServers` is given when a model runs as a pool of servers; each gets its own series.
 * `processLabels` (role and instance, when scaled out) go on every sample, so the metrics of
 * several surfaces and worker processes stay apart in one Prometheus.
 */
export function createStudioMetrics(jobs: JobService, modelServers?: () => ModelServerStats[], processLabels: Labels = {}): StudioMetrics {
  let imagesGenerated = 0;
  let iterationsFailed = 0;
  let feedbackAdded = 0;

  return {
    observe(event) {
      if (event.type === "image.ready") imagesGenerated++;
      if (event.type === "iteration.failed") iterationsFailed++;
      if (event.type === "feedback.added") feedbackAdded++;
    },

    render({ sseClients }) {
      const counts = new Map<TrajectoryStatus, number>(STATES.map((state) => [state, 0]));
      for (const job of jobs.list()) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
      const service = jobs.metrics();
      return [
        family("gems_jobs", "gauge", "Stored jobs by state.", STATES.map((state) => ({ labels: { state }, value: counts.get(state) ?? 0 }))),
        family("gems_queue_length", "gauge", "Jobs waiting to run.", [{ value: service.queued }]),
        ...modelCallFamilies(service),
        family("gems_images_generated_total", "counter", "Images generated since the studio started (image.ready events).", [{ value: imagesGenerated }]),
        family("gems_iterations_failed_total", "counter", "Iterations whose image could not be generated, since the studio started.", [
          { value: iterationsFailed },
        ]),
        family("gems_feedback_added_total", "counter", "Feedback entries written into job memory, since the studio started.", [{ value: feedbackAdded }]),
        family("gems_corrupt_jobs", "gauge", "Stored job records that could not be read at start.", [{ value: jobs.corruptJobs().length }]),
        family("gems_web_event_streams", "gauge", "Open server-sent event streams to browsers.", [{ value: sseClients }]),
        ...serverFamilies(modelServers?.() ?? []),
      ]
        .map((text) => labelSamples(text, processLabels))
        .join("");
    },
  };
}

function serverFamilies(servers: ModelServerStats[]): string[] {
  if (servers.length === 0) return [];
  const series = (value: (s: ModelServerStats) => number) => servers.map((s) => ({ labels: { model: s.model, server: s.server }, value: value(s) }));
  return [
    family("gems_model_server_healthy", "gauge", "1 while a pooled model server takes calls, 0 while it is out and probed.", series((s) => (s.healthy ? 1 : 0))),
    family("gems_model_server_in_flight", "gauge", "Calls in progress on a pooled model server.", series((s) => s.inFlight)),
    family("gems_model_server_capacity", "gauge", "Calls a pooled model server takes at once.", series((s) => s.capacity)),
    family("gems_model_server_calls_total", "counter", "Calls sent to a pooled model server.", series((s) => s.calls)),
    family("gems_model_server_failures_total", "counter", "Calls that failed on a pooled model server for a server reason.", series((s) => s.failures)),
  ];
}
