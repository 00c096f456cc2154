/**
 * How the services answer about jobs: finding one (or saying why not), its summary and status,
 * the list and the event log, all read from the records this process holds. Shared by the
 * single-process and distributed services; only where a job stands in line differs, so that is
 * asked of the caller.
 */
import { GemsError, describeError } from "../errors.ts";
import type { Job, JobTable } from "./job-table.ts";
import type { JobService, JobStatus, JobSummary, JobRecord, Person, Refusal, RefusalReason } from "./types.ts";
import { checkControl, type ControlAction } from "./permissions.ts";
import { countVotes } from "./votes.ts";

export const refuse = (reason: RefusalReason, message: string): Refusal => ({ ok: false, reason, message });

/** A failed write as the person sees it: the store's own message when it wrote one for people. */
export const storageRefusal = (error: unknown, what: string): Refusal =>
  refuse("storage", error instanceof GemsError ? error.message : `Could not save ${what}: ${describeError(error)}`);

export const isRefusal = (value: Job | Refusal): value is Refusal => "ok" in value;

/** The job found, if `by` may `action` it (its requester or an admin); else the refusal that says who may. */
export function controlled(found: Job | Refusal, action: ControlAction, by: Person, admins: readonly string[]): Job | Refusal {
  if (isRefusal(found)) return found;
  return checkControl(action, found.record.requester, by, admins) ?? found;
}

export const RESTARTING = "GEMS Bot is restarting. Try again in a minute.";
export const STARTING = "GEMS Bot is starting. Try again in a few seconds.";

export function bestOf(job: Job) {
  const best = job.record.trajectory.best;
  return best ? { ...best } : null;
}

/** How a finished job is described in a refusal: "This job has already …". */
export function finishedVerb(status: string): string {
  return status === "cancelled" ? "been stopped" : status === "failed" ? "failed" : "finished";
}

export interface JobViews extends Pick<JobService, "status" | "list" | "events" | "corruptJobs"> {
  /** The job, or a refusal that says why there is none (corrupt, or never was / swept). */
  find(jobId: string): Job | Refusal;
  summaryOf(job: Job): JobSummary;
  statusOf(job: Job): JobStatus;
}

export function createJobViews(table: JobTable, positionOf: (record: JobRecord) => number | null): JobViews {
  function find(jobId: string): Job | Refusal {
    const job = table.get(jobId);
    if (job) return job;
    const broken = table.corrupt(jobId);
    if (broken) return refuse("corrupt", `Job ${jobId} cannot be read: ${broken.problem}`);
    return refuse("not-found", `There is no job ${jobId}. It may have finished long ago and been cleaned up.`);
  }

  function summaryOf(job: Job): JobSummary {
    const { record } = job;
    const t = record.trajectory;
    return {
      jobId: record.jobId,
      status: t.status,
      position: positionOf(record),
      requester: { ...record.requester },
      request: { ...t.request },
      iterations: t.iterations.length,
      best: t.best ? { ...t.best } : null,
      stopReason: t.stopReason,
      error: t.error,
      pendingFeedback: record.pendingFeedback.length,
      lastSeq: record.events.length,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
      finishedAt: record.finishedAt,
    };
  }

  function statusOf(job: Job): JobStatus {
    const { record } = job;
    return { ...summaryOf(job), surfaceRef: structuredClone(record.surfaceRef), trajectory: structuredClone(record.trajectory), votes: countVotes(record.votes ?? []) };
  }

  return {
    find,
    summaryOf,
    statusOf,

    status(jobId) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      return { ok: true, job: statusOf(job) };
    },

    list(requesterId) {
      const summaries: JobSummary[] = [];
      for (const job of table.values()) {
        if (requesterId !== undefined && job.record.requester.id !== requesterId) continue;
        summaries.push(summaryOf(job));
      }
      return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },

    events(jobId, afterSeq = 0) {
      const job = find(jobId);
      if (isRefusal(job)) return job;
      return { ok: true, events: job.record.events.slice(Math.max(0, afterSeq)) };
    },

    corruptJobs: () => table.corruptJobs(),
  };
}
