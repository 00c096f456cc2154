/**
 * The model-call families every /metrics endpoint exposes (the studio's and a worker's own), so
 * the two cannot drift apart. Counts are this process's: in the single-process shape that is every
 * job; scaled out, each worker reports its own and the slots are global.
 */
import type { JobServiceMetrics } from "../../core/jobs/types.ts";
import { family, histogramFamily } from "./prometheus.ts";

export function modelCallFamilies(service: JobServiceMetrics): string[] {
  const byModelAndRole = (series: JobServiceMetrics["modelCalls"][number]) => ({ model: series.model, role: series.role });
  return [
    family("gems_model_in_flight", "gauge", "Model calls of this process holding a model slot.", [
      { labels: { model: "mllm" }, value: service.mllmInFlight },
      { labels: { model: "generator" }, value: service.generatorInFlight },
    ]),
    family("gems_model_waiting", "gauge", "Model calls of this process waiting for a model slot.", [
      { labels: { model: "mllm" }, value: service.mllmWaiting },
      { labels: { model: "generator" }, value: service.generatorWaiting },
    ]),
    histogramFamily(
      "gems_model_call_seconds",
      "Model call latency by model and GEMS role, timed once the call holds a model slot.",
      service.modelCallBucketsSeconds,
      service.modelCalls.map((series) => ({ labels: byModelAndRole(series), buckets: series.buckets, sum: series.sumSeconds, count: series.count })),
    ),
    family(
      "gems_model_call_failures_total",
      "counter",
      "Model calls that failed after the adapter's retries, by model and GEMS role.",
      service.modelCalls.map((series) => ({ labels: byModelAndRole(series), value: series.failures })),
    ),
  ];
}
