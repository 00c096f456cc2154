/**
 * A worker process's own small HTTP listener (GEMS_WORKER_PORT): /healthz and /metrics for
 * the jobs it runs, labelled with role and instance like the studio's, so every worker can be
 * scraped. A worker has no studio; this is all it serves.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { JobService } from "../core/jobs/types.ts";
import { checkHealth } from "./web/dependency-health.ts";
import { modelCallFamilies } from "./web/model-call-metrics.ts";
import { EXPOSITION_CONTENT_TYPE, family, labelSamples } from "./web/prometheus.ts";

export interface WorkerHealth {
  url: string;
  stop(): Promise<void>;
}

export function renderWorkerMetrics(jobs: JobService, labels: { role: string; instance: string }): string {
  const service = jobs.metrics();
  return [
    family("gems_worker_running_jobs", "gauge", "Jobs this process is running.", [{ value: service.running }]),
    family("gems_queue_length", "gauge", "Jobs waiting to run, across all workers.", [{ value: service.queued }]),
    ...modelCallFamilies(service),
  ]
    .map((text) => labelSamples(text, labels))
    .join("");
}

export async function startWorkerHealth(
  jobs: JobService,
  options: { host: string; port: number; role: string; instance: string },
): Promise<WorkerHealth> {
  const startedAt = Date.now();
  const labels = { role: options.role, instance: options.instance };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://worker").pathname;
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (path === "/healthz") {
      void checkHealth(jobs).then(({ httpStatus, status, dependencies }) => {
        res.writeHead(httpStatus, { "content-type": "application/json" });
        res.end(JSON.stringify({ status, ...labels, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), ...(dependencies ? { dependencies } : {}), jobs: jobs.metrics() }));
      });
      return;
    }
    if (path === "/metrics") {
      res.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" });
      res.end(renderWorkerMetrics(jobs, labels));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "A worker serves only /healthz and /metrics." }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
