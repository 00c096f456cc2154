/**
 * The job service scaled out: the same JobService API, with jobs queued in BullMQ, run by any
 * number of worker processes, and every record, event, cursor and image in PostgreSQL. The
 * parts are a distributed backend's (backend.ts: Redis admission and model slots, PostgreSQL
 * storage); what both shapes share is in service-core.ts. Here: the API, and how it is wired.
 *
 *   surfaces role: answers the API from a cache of PostgreSQL (record-cache.ts) and delivers
 *     events to its surfaces from it. Submits go through Redis admission into the BullMQ queue.
 *     Stop and pick of a running job are asked of the worker that runs it (control.ts).
 *   worker role: takes jobs from BullMQ and runs them (job-worker.ts), publishing "wake" after
 *     every commit so the surfaces processes read the job again.
 *   all: both in one process.
 *
 * Who writes what: a job's memory and events are written only by the process that claimed it
 * (a worker running it, or a surfaces process changing a job no worker holds); others add
 * feedback rows, move cursors and change the surface reference (see postgres/job-store.ts).
 */
import { waitAtMost } from "../../bounded-wait.ts";
import { applyFeedback, bestView } from "../../agent/run-job.ts";
import type { JobRequestInput } from "../../agent/request.ts";
import { createLocalAdmission } from "../admission.ts";
import type { DistributedBackend } from "../backend.ts";
import { applyContinue, applyPick, continueRefusal, isFinished, pickProblem } from "../job-actions.ts";
import type { Job } from "../job-table.ts";
import { bestOf, controlled, finishedVerb, isRefusal, refuse, RESTARTING, storageRefusal } from "../job-views.ts";
import { LostJobError } from "../postgres/job-store.ts";
import { createServiceCore, type JobServiceBaseDeps } from "../service-core.ts";
import type { DependencyHealth, FeedbackResult, JobService, Refusal, Result, StartReport } from "../types.ts";
import { notePreference } from "../voting.ts";
import { VOTE_ACTIONS, countVotes } from "../votes.ts";
import { createVoteCounts, showVotesClaimed } from "../voting.ts";
import { enqueueRun } from "./bullmq-queue.ts";
import { createControl } from "./control.ts";
import { createWorkerRole } from "./job-worker.ts";
import { createRecordCache } from "./record-cache.ts";

export type ServiceRole = "all" | "surfaces" | "worker";

export interface DistributedJobServiceDeps extends JobServiceBaseDeps {
  role: ServiceRole;
  /** This process's name in logs, metrics and owner tokens, e.g. "host-1:4242". */
  instance: string;
  /** createDistributedBackend (backend.ts); the service closes it. */
  backend: DistributedBackend;
  /** BullMQ lock duration (GEMS_JOB_LOCK_MS); see bullmq-queue.ts. */
  lockMs?: number;
  /** How often a surfaces process looks for jobs changed without a wake-up reaching it. */
  pollIntervalMs?: number;
  /** How long stop and pick wait for the worker running the job. */
  controlTimeoutMs?: number;
  /** How often a surfaces process puts its unfinished jobs in the queue again (see requeueUnfinished). */
  requeueIntervalMs?: number;
}

export interface DistributedJobService extends JobService {
  readonly role: ServiceRole;
  readonly instance: string;
}

const POSITIONS_DELAY_MS = 100;
const REQUEUE_INTERVAL_MS = 60_000;
/** A health check's round trip to a server: longer than this and the server counts as down. */
const PROBE_TIMEOUT_MS = 2_000;

async function probeDependency(name: DependencyHealth["name"], roundTrip: () => Promise<unknown>): Promise<DependencyHealth> {
  const answered = roundTrip().then(
    () => null,
    (error: unknown) => briefReason(error),
  );
  const waited = await waitAtMost(answered, PROBE_TIMEOUT_MS);
  const problem = waited.isDone ? waited.value : `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  return problem === null ? { name, isUp: true } : { name, isUp: false, problem };
}

/** The error's code, or else its type; never its message, which can name hosts and users. */
function briefReason(error: unknown): string {
  const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
  return code ?? (error instanceof Error ? error.name : "failed");
}

function isLost(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof LostJobError) return true;
  return false;
}

export function createDistributedJobService(deps: DistributedJobServiceDeps): DistributedJobService {
  const { role, instance, limits, backend } = deps;
  const { admission, store, redis } = backend;
  const isSurfaces = role !== "worker";
  const isWorker = role !== "surfaces";
  const wakeChannel = redis.key("wake");
  // Counts this process's runs for metrics; BullMQ's concurrency is what limits them.
  const localRuns = createLocalAdmission(limits);

  const core = createServiceCore(deps, {
    backend,
    log: deps.logger.child({ component: "jobs", role, instance }),
    runQueue: localRuns,
    positionOf: (record) => (record.trajectory.status === "queued" ? admission.positionOf(record.jobId) : null),
    isSelfScheduling: false,
    committed: (jobId) => {
      cache.changed(jobId);
      void redis.commands.publish(wakeChannel, jobId).catch((error: unknown) => core.log.warn({ err: error, jobId }, "could not announce a commit"));
    },
    beforeRunCommit: async (job, events) => {
      control.rememberPending(job);
      // Votes are cast in any process: the job's end counts them as stored now.
      if (events.some((e) => e.type === "job.done")) job.record.votes = await store.votesOf(job.record.jobId);
    },
    // The processor that started the run decides what comes next.
    runEnded: () => undefined,
    // A worker that lost its job must not announce a failure: the job goes on elsewhere.
    shouldRecordUnstoredFailure: (error) => !isLost(error),
  });
  const { state, log, table, delivery, runner, views, intake, now, commit, commitOrRestore } = core;

  /** Jobs between their first write as queued and their own add to the queue. */
  const queueing = new Set<string>();

  /**
   * Puts every unfinished job this process knows in the queue again, and says how many there
   * were. Adding an id BullMQ holds (waiting, or running on a worker) is ignored, so this adds
   * only what the queue lost: a job stored but not queued when a process crashed, or every job,
   * when Redis came back empty (restarted without persistence, failed over, flushed). Those
   * would otherwise wait for good; a job still running on a worker whose queue entry was lost
   * is taken by the next worker, whose claim fences the first one out.
   */
  async function requeueUnfinished(): Promise<number> {
    let unfinished = 0;
    for (const jobId of [...table.ids()]) {
      const status = table.get(jobId)?.record.trajectory.status;
      if (status !== "queued" && status !== "running") continue;
      unfinished++;
      if (state.isClosed || state.isDraining) break;
      // Its submit (or continue) queues it with its turn's priority; added here first, it would
      // keep priority 1, since BullMQ ignores the second add.
      if (queueing.has(jobId)) continue;
      await enqueueRun(backend.queue(), jobId, 1).catch((error: unknown) => log.error({ err: error, jobId }, "could not queue a stored job"));
    }
    return unfinished;
  }
  const onRedisReady = (): void => {
    if (state.isStarted && !state.isClosed) void requeueUnfinished().catch((error: unknown) => log.warn({ err: error }, "could not put the unfinished jobs back in the queue"));
  };

  let positionsTimer: NodeJS.Timeout | undefined;
  function refreshPositionsSoon(): void {
    if (positionsTimer || state.isClosed) return;
    positionsTimer = setTimeout(() => {
      positionsTimer = undefined;
      void admission.refreshPositions();
    }, POSITIONS_DELAY_MS);
    positionsTimer.unref();
  }

  const cache = createRecordCache({ table, store, delivery, log, instance, isClosed: () => state.isClosed, polled: refreshPositionsSoon });
  const control = createControl({
    redis,
    table,
    store,
    admission,
    queue: backend.queue,
    cache,
    commitOrRestore,
    now,
    log,
    controlTimeoutMs: deps.controlTimeoutMs ?? 30_000,
  });
  const show = showVotesClaimed({ table, refresh: (jobId) => cache.reload(jobId), claim: (job, task) => cache.withClaim(job, task), commit });
  const voteCounts = createVoteCounts({ show, isClosed: () => state.isClosed, logger: log });
  const worker = isWorker
    ? createWorkerRole({ instance, isSurfaces, redis, store, table, admission, runner, cache, control, core, limits, log, ...(deps.lockMs ? { lockMs: deps.lockMs } : {}) })
    : undefined;

  function onMessage(channel: string, message: string): void {
    if (channel === wakeChannel && isSurfaces) {
      void cache.reload(message);
      refreshPositionsSoon();
    } else if (channel === control.channel) {
      control.onMessage(message);
    }
  }

  /** The job as stored now (read again first), or why there is none. */
  async function fresh(jobId: string): Promise<Job | Refusal> {
    await cache.reload(jobId);
    return views.find(jobId);
  }

  /** A message to other processes is a hint they also get by polling; failing to send it loses nothing. */
  const hint = (type: "feedback" | "vote", jobId: string): Promise<void> => control.publish({ type, jobId }).catch(() => undefined);

  return {
    role,
    instance,

    async start(): Promise<StartReport> {
      if (state.isStarted) throw new Error("The job service is already started.");
      redis.subscriber.on("message", onMessage);
      await redis.subscriber.subscribe(control.channel, ...(isSurfaces ? [wakeChannel] : []));
      let report: StartReport = { loaded: 0, resumed: 0, corrupt: [] };
      if (isSurfaces) {
        const loaded = await store.load();
        const { now: loadedAt } = await store.changedSince(null).catch(() => ({ now: new Date() }));
        cache.startPollingFrom(loadedAt);
        for (const { record } of core.adopt(loaded)) voteCounts.restored(record);
        const resumed = await requeueUnfinished();
        report = { loaded: loaded.records.length, resumed, corrupt: table.corruptJobs() };
        core.every(deps.pollIntervalMs ?? 2_000, () => cache.poll(), "could not look for changed jobs");
        core.every(deps.requeueIntervalMs ?? REQUEUE_INTERVAL_MS, () => requeueUnfinished().then(() => undefined), "could not put the unfinished jobs back in the queue");
        // A Redis that comes back may have come back empty: no need to wait for the next round.
        redis.commands.on("ready", onRedisReady);
        core.sweepPeriodically();
      }
      await worker?.start();
      await admission.refreshPositions();
      state.isStarted = true;
      if (isSurfaces) delivery.kickAll();
      log.info({ ...report, corrupt: report.corrupt.length }, "job service started");
      return report;
    },

    async submit(input: JobRequestInput, requester, surfaceRef) {
      const accepted = await core.acceptSubmit(input, requester, surfaceRef);
      if ("ok" in accepted) return accepted;
      const { jobId, at } = accepted;
      let admitted;
      try {
        admitted = await admission.admitNew(jobId, requester, at.getTime());
      } catch (error) {
        log.error({ err: error }, "could not reach Redis to admit a job");
        return refuse("unavailable", "GEMS Bot cannot reach its queue right now. Try again in a minute.");
      }
      if (!admitted.ok) return admitted;
      const { position } = admitted;
      const job = table.add(intake.newRecord(jobId, requester, surfaceRef, accepted.request, input, at));
      queueing.add(jobId);
      try {
        await commit(job, job.record.trajectory, [{ type: "job.queued", position }]);
        await enqueueRun(backend.queue(), jobId, admitted.priority);
      } catch (error) {
        // Stored but not queued is repaired at the next start; not stored leaves no trace.
        table.forget(jobId);
        await admission.undoNew(jobId, requester.id, at.getTime()).catch(() => undefined);
        await store.delete(jobId).catch(() => undefined);
        log.error({ err: error, jobId }, "could not store or queue a new job");
        return storageRefusal(error, "the job");
      } finally {
        queueing.delete(jobId);
      }
      log.info({ jobId, user: requester.id, position }, "job queued");
      return { ok: true, jobId, position };
    },

    async cancel(jobId, by) {
      const job = controlled(await fresh(jobId), "stop", by, limits.admins);
      if (isRefusal(job)) return job;
      const { status } = job.record.trajectory;
      if (isFinished(status)) return refuse("conflict", `This job has already ${finishedVerb(status)}.`);
      try {
        const failed = await control.stopJob(job, { kind: "cancel" });
        if (failed) return failed;
      } catch (error) {
        log.error({ err: error, jobId }, "could not stop a job");
        return storageRefusal(error, "the job");
      }
      const ended = job.record.trajectory.status;
      if (ended !== "cancelled") return refuse("conflict", `This job ${finishedVerb(ended)} before it could be stopped.`);
      log.info({ jobId, by: by.id }, "job stopped");
      return { ok: true, best: bestOf(job) };
    },

    async pick(jobId, iteration, by) {
      const job = controlled(await fresh(jobId), "pick", by, limits.admins);
      if (isRefusal(job)) return job;
      const problem = pickProblem(job.record.trajectory, iteration);
      if (problem) return refuse("input", problem);
      try {
        if (!isFinished(job.record.trajectory.status)) {
          const failed = await control.stopJob(job, { kind: "pick", iteration });
          if (failed) return failed;
        }
        const t = job.record.trajectory;
        if (!(t.stopReason === "picked" && t.best?.n === iteration)) {
          const failed = await table.withLock(job, () =>
            cache.withClaim(job, async () => {
              const next = structuredClone(job.record.trajectory);
              applyPick(next, iteration);
              next.updatedAt = now().toISOString();
              return commitOrRestore(job, next, [{ type: "job.done", best: bestView(next.best), reason: "picked" }]);
            }),
          );
          if (failed) return failed;
        }
      } catch (error) {
        log.error({ err: error, jobId }, "could not pick a result");
        return storageRefusal(error, "the job");
      }
      const best = bestOf(job);
      if (!best) return refuse("conflict", "This job has no image to pick.");
      log.info({ jobId, by: by.id, iteration }, "result picked");
      return { ok: true, best };
    },

    async continue(jobId, extraIterations, by) {
      const job = controlled(await fresh(jobId), "continue", by, limits.admins);
      if (isRefusal(job)) return job;
      const closed = core.notTaking();
      if (closed) return closed;
      return table.withLock(job, async (): Promise<Result<{ position: number }>> => {
        const refused = continueRefusal(job.record, extraIterations);
        if (refused) return refused;
        const admitted = await admission.admitContinue(jobId, job.record.requester);
        if (!admitted.ok) return admitted;
        const { position } = admitted;
        queueing.add(jobId);
        try {
          const failed = await cache.withClaim(job, async () => {
            const next = structuredClone(job.record.trajectory);
            applyContinue(next, extraIterations);
            next.updatedAt = now().toISOString();
            // As in one process: a clear team preference becomes a note for the next attempt.
            notePreference(job.record, next, now());
            return commitOrRestore(job, next, [{ type: "job.queued", position }]);
          });
          if (failed) {
            await admission.remove(jobId);
            return failed;
          }
          await enqueueRun(backend.queue(), jobId, admitted.priority);
        } catch (error) {
          await admission.remove(jobId).catch(() => undefined);
          log.error({ err: error, jobId }, "could not continue a job");
          return storageRefusal(error, "the job");
        } finally {
          queueing.delete(jobId);
        }
        log.info({ jobId, by: by.id, extraIterations }, "job continued");
        return { ok: true, position };
      });
    },

    async addFeedback(jobId, author, text, imageHashes): Promise<FeedbackResult> {
      const job = await fresh(jobId);
      if (isRefusal(job)) return job;
      if (state.isClosed) return refuse("unavailable", RESTARTING);
      const checked = intake.checkFeedback(job.record.requester, author, text, imageHashes);
      if (typeof checked !== "string") return checked;
      // Stored before it is acknowledged, so a crash cannot lose it; a row of its own, so the
      // worker's writes of the same job cannot overwrite it. The cached record learns of it from
      // the database (the reload below), never by a local push: a worker may apply it before
      // this line returns, and a push would bring it back.
      try {
        await store.addPending(jobId, intake.pendingEntry(author, checked, imageHashes));
      } catch (error) {
        log.error({ err: error, jobId }, "could not store feedback");
        return storageRefusal(error, "the feedback");
      }
      await hint("feedback", jobId);
      // Read again after storing: a run that ended meanwhile did not see it, so it is applied here.
      await cache.reload(jobId);
      if (!isFinished(job.record.trajectory.status) || state.isDraining) return { ok: true, isApplied: false, questions: [] };
      try {
        const questions = await table.withLock(job, () =>
          cache.withClaim(job, async () => {
            const before = job.record.events.length;
            for (const input of runner.pendingInputs(job)) {
              const t = structuredClone(job.record.trajectory);
              await applyFeedback(t, input, { mllm: core.mllm, images: deps.images, commit: (next, events) => commit(job, next, events) }, undefined, now);
            }
            return job.record.events.slice(before).flatMap((e) => (e.type === "feedback.added" && e.text === checked ? e.questions : []));
          }),
        );
        return { ok: true, isApplied: true, questions };
      } catch (error) {
        log.warn({ err: error, jobId }, "could not apply feedback to a finished job; kept for when it continues");
        return { ok: true, isApplied: false, questions: [] };
      }
    },

    // Votes live in rows of their own (a worker rewrites the job row while people vote); the
    // worker running the job reads them at its next step boundary and at the job's end.
    async vote(jobId, voter, iteration, action) {
      const job = await fresh(jobId);
      if (isRefusal(job)) return job;
      if (state.isClosed) return refuse("unavailable", RESTARTING);
      if (!VOTE_ACTIONS.includes(action)) return refuse("input", `A vote is one of ${VOTE_ACTIONS.join(", ")} (got ${String(action)}).`);
      if (typeof voter?.id !== "string" || voter.id.trim() === "") return refuse("input", "The vote has no voter.");
      const withImages = job.record.trajectory.iterations.filter((it) => it.imageHash !== null).map((it) => it.n);
      if (!withImages.includes(iteration)) {
        const choice = withImages.length > 0 ? `Vote on one of: ${withImages.join(", ")}.` : "This job has no image yet.";
        return refuse("input", `Iteration ${String(iteration)} has no image to vote on. ${choice}`);
      }
      let votes;
      try {
        votes = await store.setVote(jobId, voter, iteration, action, now().toISOString());
      } catch (error) {
        log.error({ err: error, jobId }, "could not store a vote");
        return storageRefusal(error, "the vote");
      }
      // Safe on a job this process runs too: the store never writes votes from the record.
      job.record.votes = votes;
      log.info({ jobId, voter: voter.id, iteration, action }, "vote recorded");
      await hint("vote", jobId);
      voteCounts.changed(jobId);
      return { ok: true, votes: countVotes(votes) };
    },

    ...core.reads,
    setSurfaceRef: (jobId, surfaceRef) => core.setSurfaceRef(jobId, surfaceRef, { isLocked: true }),

    checkDependencies() {
      return Promise.all([
        probeDependency("postgresql", () => store.ping()),
        // Commands wait for a reconnect rather than fail (redis.ts): a ping now would just wait.
        redis.commands.status === "ready"
          ? probeDependency("redis", () => redis.commands.ping())
          : Promise.resolve<DependencyHealth>({ name: "redis", isUp: false, problem: `not connected (${redis.commands.status})` }),
      ]);
    },

    metrics() {
      let running = 0;
      for (const job of table.values()) if (job.record.trajectory.status === "running") running++;
      return core.metrics({ queued: admission.queued, running: isSurfaces ? running : localRuns.running });
    },

    drain(options = {}) {
      // Waits for the processors to hand their jobs back to the queue.
      return core.drain(options.timeoutMs, { afterRuns: () => worker?.close(false) ?? Promise.resolve(), resumesWhere: "on another worker" });
    },

    async close() {
      if (state.isClosed) return;
      voteCounts.close();
      core.beginClose();
      clearTimeout(positionsTimer);
      redis.subscriber.off("message", onMessage);
      redis.commands.off("ready", onRedisReady);
      // Not waiting for running jobs: their locks lapse and other workers resume them.
      await worker?.close(true);
      await Promise.allSettled(table.runs().map((run) => run.done));
      await table.settle();
      await backend.close();
    },
  };
}
