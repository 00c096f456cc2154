/**
 * The commit that ties a step, its events and their delivery together: stamps the events with
 * seq and time, puts them into the record with the trajectory, stores both in one write, and
 * only then says the job has new events. Shared by the single-process and distributed services.
 */
import type { Logger } from "pino";
import { bestView } from "../agent/run-job.ts";
import type { AgentEvent, JobEvent, UsageView } from "../agent/events.ts";
import { feedbackAuthorName } from "../agent/request.ts";
import { CancelledError, GemsError, describeError } from "../errors.ts";
import type { Trajectory } from "../memory/trajectory.ts";
import { applyPick, isFinished } from "./job-actions.ts";
import type { Job, JobTable } from "./job-table.ts";
import type { JobRecord, Refusal } from "./types.ts";
import { withVotes, type ResultBy } from "./votes.ts";

export interface CommitHost {
  table: JobTable;
  now: () => Date;
  logger: Logger;
  isClosed(): boolean;
  /** The commit is stored: deliver its events (and tell other processes). */
  committed(jobId: string): void;
  /** GEMS_RESULT_BY: whether the most voted image becomes the result at the job's end. */
  resultBy?: ResultBy;
  /** What the job spent, put on its final event (job.done, job.failed, job.cancelled); see usage-ledger.ts. */
  usageOf?(t: Trajectory): UsageView;
}

export interface Committer {
  commit(job: Job, t: Trajectory, events: AgentEvent[]): Promise<void>;
  /** commit() for operations outside a run: on a failed write the in-memory job goes back to what is stored. */
  commitOrRestore(job: Job, t: Trajectory, events: AgentEvent[]): Promise<Refusal | null>;
}

export function createCommitter(host: CommitHost): Committer {
  const { table, now } = host;

  async function commit(job: Job, t: Trajectory, events: AgentEvent[]): Promise<void> {
    if (host.isClosed()) throw new CancelledError("The job service has stopped.");
    const { record } = job;
    let batch = events;
    const picked = job.run?.pickedIteration ?? null;
    if (picked !== null && events.some((e) => e.type === "job.cancelled")) {
      // The abort that stopped the job was a pick: record it as one, in the same write.
      applyPick(t, picked);
      batch = events.map((e) => (e.type === "job.cancelled" ? { type: "job.done", best: bestView(t.best), reason: "picked" } : e));
    }
    batch = withVotes(t, batch, record.votes ?? [], host.resultBy ?? "passes");
    const at = now().toISOString();
    record.trajectory = structuredClone(t);
    // Retention counts from the first finish; feedback or a pick later does not restart it.
    record.finishedAt = isFinished(t.status) ? (record.finishedAt ?? at) : null;
    for (const event of batch) {
      if (event.type === "feedback.added") settlePendingFeedback(record, event.author, event.text);
      const usage = isFinal(event) ? host.usageOf?.(t) : undefined;
      record.events.push({ ...event, ...(usage ? { usage } : {}), jobId: record.jobId, seq: record.events.length + 1, at } as JobEvent);
    }
    if (job.run) {
      // A stored step is progress: the next failure starts a new outage.
      job.run.outageStartedMs = null;
      job.run.outageWaits = 0;
    }
    await table.persist(job);
    host.committed(record.jobId);
  }

  async function commitOrRestore(job: Job, t: Trajectory, events: AgentEvent[]): Promise<Refusal | null> {
    const { record } = job;
    const before = { trajectory: record.trajectory, finishedAt: record.finishedAt, events: record.events.length, pending: [...record.pendingFeedback] };
    try {
      await commit(job, t, events);
      return null;
    } catch (error) {
      record.trajectory = before.trajectory;
      record.finishedAt = before.finishedAt;
      record.events.length = before.events;
      record.pendingFeedback = before.pending;
      host.logger.error({ err: error, jobId: record.jobId }, "could not store a change to a job");
      return { ok: false, reason: "storage", message: error instanceof GemsError ? error.message : `Could not save the job: ${describeError(error)}` };
    }
  }

  return { commit, commitOrRestore };
}

const isFinal = (event: AgentEvent): boolean => event.type === "job.done" || event.type === "job.failed" || event.type === "job.cancelled";

function settlePendingFeedback(record: JobRecord, author: string, text: string): void {
  const index = record.pendingFeedback.findIndex((p) => feedbackAuthorName(p.author.name) === author && p.text === text);
  // runJob applies pending feedback in order, so without an exact match the oldest is the one
  // applied; leaving it would apply it again at every step.
  record.pendingFeedback.splice(index >= 0 ? index : 0, 1);
}
