/**
 * What one process asks of another about a job: stop or pick it (a flag `<prefix>:stop:<job>`
 * and a message on `<prefix>:control`), and "feedback or votes were stored for it". Only the
 * process running the job acts on a message; a job no worker holds is changed by the asking
 * process itself, under a claim. Also here: the feedback a running job has already seen, so a
 * stored list read before a commit landed cannot bring applied feedback back.
 */
import type { Logger } from "pino";
import { bestView } from "../../agent/run-job.ts";
import { applyPick, isFinished } from "../job-actions.ts";
import type { Committer } from "../job-commit.ts";
import type { Job, JobTable } from "../job-table.ts";
import { refuse } from "../job-views.ts";
import type { PostgresJobStore } from "../postgres/job-store.ts";
import type { PendingFeedback, Refusal } from "../types.ts";
import { queueJobId, type JobQueue } from "./bullmq-queue.ts";
import type { RecordCache } from "./record-cache.ts";
import type { DistributedAdmission } from "./redis-admission.ts";
import type { RedisLink } from "./redis.ts";

export type StopRequest = { kind: "cancel" } | { kind: "pick"; iteration: number };
export type ControlMessage = { type: "stop"; jobId: string } | { type: "feedback"; jobId: string } | { type: "vote"; jobId: string };

/** A stop flag outlives any run it could concern, and then goes by itself. */
const STOP_FLAG_TTL_S = 24 * 60 * 60;

const pendingKey = (p: PendingFeedback): string => `${p.receivedAt}\u0000${p.text}`;

export interface ControlHost {
  redis: RedisLink;
  table: JobTable;
  store: PostgresJobStore;
  admission: DistributedAdmission;
  queue(): JobQueue;
  cache: RecordCache;
  commitOrRestore: Committer["commitOrRestore"];
  now(): Date;
  log: Logger;
  /** How long stop and pick wait for the worker running the job. */
  controlTimeoutMs: number;
}

export interface Control {
  readonly channel: string;
  /** Tells every process; a lost message is covered by the worker's own checks. */
  publish(message: ControlMessage): Promise<void>;
  /** A message on the control channel: acted on only by the process running the job. */
  onMessage(message: string): void;
  /** Stop or pick: directly when no worker holds the job, else asked of the worker that does. */
  stopJob(job: Job, stop: StopRequest): Promise<Refusal | null>;
  /** The stop asked for a job, if any (a worker checks before it runs one). */
  stopOf(jobId: string): Promise<StopRequest | null>;
  clearStop(jobId: string): Promise<void>;
  /** Stop or pick of a job that no worker runs: changed here (the caller holds its claim). */
  applyStopToIdle(job: Job, stop: StopRequest): Promise<Refusal | null>;
  /** A stop was asked for a job this process runs: abort it; the run's commit records the outcome. */
  applyStopToRun(job: Job): Promise<void>;
  /** A run of this job begins here with the feedback the claimed record holds. */
  runStarts(job: Job): void;
  runEnds(jobId: string): void;
  /** Notes the feedback a running job holds before a commit may apply (and drop) some of it. */
  rememberPending(job: Job): void;
  /** Feedback and votes stored by other processes join a job this one runs, before its next step. */
  mergePendingFromStore(job: Job): Promise<void>;
}

export function createControl(host: ControlHost): Control {
  const { redis, table, store, cache, log } = host;
  const channel = redis.key("control");
  const stopKey = (jobId: string): string => redis.key("stop", jobId);
  /** Per job this process runs: every pending feedback key it has seen, so applied ones never return. */
  const seenPending = new Map<string, Set<string>>();

  function rememberPending(job: Job): Set<string> {
    const { jobId } = job.record;
    const seen = seenPending.get(jobId) ?? new Set<string>();
    seenPending.set(jobId, seen);
    for (const entry of job.record.pendingFeedback) seen.add(pendingKey(entry));
    return seen;
  }

  async function mergePendingFromStore(job: Job): Promise<void> {
    const { jobId } = job.record;
    job.record.votes = await store.votesOf(jobId);
    rememberPending(job);
    const stored = await store.pendingOf(jobId);
    const seen = rememberPending(job);
    for (const entry of stored) {
      const key = pendingKey(entry);
      if (seen.has(key)) continue;
      seen.add(key);
      job.record.pendingFeedback.push(entry);
    }
  }

  async function stopOf(jobId: string): Promise<StopRequest | null> {
    const raw = await redis.commands.get(stopKey(jobId));
    return raw ? (JSON.parse(raw) as StopRequest) : null;
  }

  async function applyStopToRun(job: Job): Promise<void> {
    const stop = await stopOf(job.record.jobId);
    const run = job.run;
    if (!stop || !run) return;
    if (stop.kind === "pick") run.pickedIteration = stop.iteration;
    run.controller.abort();
  }

  async function applyStopToIdle(job: Job, stop: StopRequest): Promise<Refusal | null> {
    const t = structuredClone(job.record.trajectory);
    t.updatedAt = host.now().toISOString();
    let failed: Refusal | null;
    if (stop.kind === "pick") {
      applyPick(t, stop.iteration);
      failed = await host.commitOrRestore(job, t, [{ type: "job.done", best: bestView(t.best), reason: "picked" }]);
    } else {
      t.status = "cancelled";
      t.stopReason = "stopped";
      failed = await host.commitOrRestore(job, t, [{ type: "job.cancelled", best: bestView(t.best) }]);
    }
    if (!failed) await redis.commands.del(stopKey(job.record.jobId));
    return failed;
  }

  const publish = async (message: ControlMessage): Promise<void> => {
    await redis.commands.publish(channel, JSON.stringify(message));
  };

  return {
    channel,
    publish,
    stopOf,
    applyStopToIdle,
    applyStopToRun,
    mergePendingFromStore,
    rememberPending: (job) => void rememberPending(job),

    async clearStop(jobId) {
      await redis.commands.del(stopKey(jobId));
    },

    onMessage(message) {
      let control: ControlMessage;
      try {
        control = JSON.parse(message) as ControlMessage;
      } catch {
        log.warn("ignored a control message that is not JSON");
        return;
      }
      const job = table.get(control.jobId);
      if (!job?.run) return;
      const handled = control.type === "stop" ? applyStopToRun(job) : mergePendingFromStore(job);
      handled.catch((error: unknown) => log.warn({ err: error, jobId: control.jobId }, "could not act on a control message"));
    },

    async stopJob(job, stop) {
      const { jobId } = job.record;
      await redis.commands.set(stopKey(jobId), JSON.stringify(stop), "EX", STOP_FLAG_TTL_S);
      // 1: it was waiting (or had no queue entry) and is gone from the queue; 0: a worker holds it.
      const removed = await host.queue().remove(queueJobId(jobId));
      if (removed === 1) {
        await host.admission.remove(jobId);
        return table.withLock(job, () => cache.withClaim(job, async () => (isFinished(job.record.trajectory.status) ? null : applyStopToIdle(job, stop))));
      }
      await publish({ type: "stop", jobId });
      if (await cache.waitForFinish(jobId, host.controlTimeoutMs)) return null;
      return refuse("unavailable", "The worker running this job did not answer in time. Try again in a minute.");
    },

    runStarts(job) {
      seenPending.set(job.record.jobId, new Set(job.record.pendingFeedback.map(pendingKey)));
    },

    runEnds(jobId) {
      seenPending.delete(jobId);
    },
  };
}
