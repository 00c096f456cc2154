/**
 * What /healthz says about the servers a scaled-out process depends on, for the studio's and a
 * worker's listener alike: each checked now, and 503 "degraded" when one does not answer, so a
 * load balancer or an orchestrator's readiness probe sees it. One process on SQLite has none.
 */
import type { DependencyHealth, JobService } from "../../core/jobs/types.ts";

export interface HealthVerdict {
  httpStatus: 200 | 503;
  status: "ok" | "degraded";
  dependencies?: DependencyHealth[];
}

export async function checkHealth(jobs: JobService): Promise<HealthVerdict> {
  if (!jobs.checkDependencies) return { httpStatus: 200, status: "ok" };
  const dependencies = await jobs.checkDependencies();
  const isUp = dependencies.every((dependency) => dependency.isUp);
  return { httpStatus: isUp ? 200 : 503, status: isUp ? "ok" : "degraded", dependencies };
}
