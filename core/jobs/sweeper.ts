/**
 * Retention: deletes finished jobs past GEMS_RETENTION_DAYS, then the images no remaining job
 * refers to. One sweep at a time, so the hourly timer and a manual call never delete twice.
 */
import type { Logger } from "pino";
import type { ImageStore } from "../memory/stores.ts";
import type { JobTable } from "./job-table.ts";
import { imageHashesOf, isExpired } from "./retention.ts";
import type { SweepReport } from "./types.ts";

export interface SweeperHost {
  table: JobTable;
  images: ImageStore;
  retentionDays: number;
  logger: Logger;
}

export function createSweeper(host: SweeperHost): (at: Date) => Promise<SweepReport> {
  const { table, images, retentionDays } = host;
  const log = host.logger;
  let sweeping: Promise<SweepReport> | undefined;

  async function sweepOnce(at: Date): Promise<SweepReport> {
    const expired = [...table.values()].filter((job) => !job.run && isExpired(job.record, at, retentionDays));
    const candidates = new Set<string>();
    let jobsRemoved = 0;
    for (const job of expired) {
      let isDeleted = false;
      try {
        isDeleted = await table.withLock(job, async () => {
          // Someone may have continued the job while the sweep waited for its turn.
          if (job.run || !isExpired(job.record, at, retentionDays)) return false;
          await table.store.delete(job.record.jobId);
          table.forget(job.record.jobId);
          return true;
        });
      } catch (error) {
        log.error({ err: error, jobId: job.record.jobId }, "could not delete an expired job");
      }
      if (!isDeleted) continue;
      jobsRemoved++;
      for (const hash of imageHashesOf(job.record.trajectory)) candidates.add(hash);
    }
    let imagesRemoved = 0;
    for (const hash of candidates) {
      // Checked per image, just before deleting: a job may have stored the same bytes meanwhile.
      const isUsed = [...table.values()].some((job) => imageHashesOf(job.record.trajectory).includes(hash));
      if (isUsed) continue;
      try {
        await images.delete(hash);
        imagesRemoved++;
      } catch (error) {
        log.error({ err: error, hash }, "could not delete an expired image");
      }
    }
    if (jobsRemoved > 0) log.info({ jobsRemoved, imagesRemoved }, "removed expired jobs");
    return { jobsRemoved, imagesRemoved };
  }

  return (at) => {
    sweeping ??= sweepOnce(at).finally(() => {
      sweeping = undefined;
    });
    return sweeping;
  };
}
