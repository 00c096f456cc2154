/**
 * The job service in one process: the JobService API over the parts a local backend chooses
 * (backend.ts): admission with its fair run queue, semaphores for model calls, delivery over
 * the records held here, and the JobStore given (SQLite or in memory). What both shapes share
 * (intake, views, the commit, the runner, drain) is in service-core.ts; this file holds what
 * the user actions do to a job when this process is the only one.
 */
import type { JobRequestInput } from "../agent/request.ts";
import { applyFeedback, bestView } from "../agent/run-job.ts";
import { createLocalBackend, type LocalBackend } from "./backend.ts";
import { applyContinue, applyPick, continueRefusal, isFinished, pickProblem } from "./job-actions.ts";
import type { JobStore } from "./job-store.ts";
import type { Job } from "./job-table.ts";
import { bestOf, controlled, finishedVerb, isRefusal, refuse, RESTARTING, storageRefusal } from "./job-views.ts";
import { createServiceCore, type JobServiceBaseDeps } from "./service-core.ts";
import { createVoteCounts, createVoting, notePreference, showVotesLocally } from "./voting.ts";
import type { FeedbackResult, JobService, Person, Result, SurfaceRef } from "./types.ts";
import { waitAtMost } from "../bounded-wait.ts";

export interface JobServiceDeps extends JobServiceBaseDeps {
  /** The store, with every other part local; or give `backend` instead. */
  store?: JobStore;
  /** A whole local backend (createLocalBackend); its store is the one used. */
  backend?: LocalBackend;
}

const CLOSE_WAIT_MS = 5_000;

export function createJobService(deps: JobServiceDeps): JobService {
  const { limits } = deps;
  const backend = deps.backend ?? (deps.store ? createLocalBackend(limits, deps.store) : undefined);
  if (!backend) throw new Error("createJobService needs a store or a backend.");
  const { admission } = backend;
  const core = createServiceCore(deps, {
    backend,
    log: deps.logger.child({ component: "jobs" }),
    runQueue: admission,
    positionOf: (record) => admission.positionOf(record.jobId),
    isSelfScheduling: true,
  });
  const { state, log, table, delivery, runner, views, intake, now, commit, commitOrRestore } = core;
  const voteCounts = createVoteCounts({ show: showVotesLocally(table, commit), isClosed: () => state.isClosed, logger: log });
  const voting = createVoting<Job>({ persist: (job) => table.persist(job), now, logger: log, counts: voteCounts });

  const leftoverFeedback = (job: Job): void => {
    void runner.applyLeftoverFeedback(job).catch((error: unknown) => log.error({ err: error, jobId: job.record.jobId }, "could not apply leftover feedback"));
  };

  return {
    async start() {
      if (state.isStarted) throw new Error("The job service is already started.");
      const loaded = await table.load();
      const nowMs = now().getTime();
      let resumed = 0;
      for (const job of core.adopt(loaded)) {
        const { record } = job;
        const { status, createdAt } = record.trajectory;
        const isUnfinished = status === "running" || status === "queued";
        admission.restore(record.jobId, record.requester.id, Date.parse(createdAt), isUnfinished ? status : "finished", nowMs);
        if (isUnfinished) resumed++;
        else if (record.pendingFeedback.length > 0) leftoverFeedback(job);
        voteCounts.restored(record);
      }
      state.isStarted = true;
      await core.sweep().catch((error: unknown) => log.error({ err: error }, "the retention sweep failed"));
      core.sweepPeriodically();
      runner.schedule();
      delivery.kickAll();
      log.info({ loaded: loaded.records.length, resumed, corrupt: loaded.corrupt.length }, "job service started");
      return { loaded: loaded.records.length, resumed, corrupt: table.corruptJobs() };
    },

    async submit(input: JobRequestInput, requester: Person, surfaceRef: SurfaceRef) {
      const accepted = await core.acceptSubmit(input, requester, surfaceRef);
      if ("ok" in accepted) return accepted;
      const { jobId, at } = accepted;
      // In line before the first write, so two quick submits see each other's place in line;
      // the runner starts it only once its record is in the table.
      const admitted = await admission.admitNew(jobId, requester, at.getTime());
      if (!admitted.ok) return admitted;
      const job = table.add(intake.newRecord(jobId, requester, surfaceRef, accepted.request, input, at));
      const { position } = admitted;
      try {
        // Runs only once stored: a job the store refused must leave no trace.
        await commit(job, job.record.trajectory, [{ type: "job.queued", position }]);
      } catch (error) {
        table.forget(jobId);
        await admission.undoNew(jobId, requester.id, at.getTime());
        log.error({ err: error, jobId }, "could not store a new job");
        return storageRefusal(error, "the job");
      }
      runner.schedule();
      log.info({ jobId, user: requester.id, position }, "job queued");
      return { ok: true, jobId, position };
    },

    async cancel(jobId, by) {
      const job = controlled(views.find(jobId), "stop", by, limits.admins);
      if (isRefusal(job)) return job;
      return table.withLock(job, async (): Promise<Result<{ best: ReturnType<typeof bestOf> }>> => {
        const { status } = job.record.trajectory;
        // The run may still be winding down after its last commit; the record has the final word.
        if (isFinished(status)) return refuse("conflict", `This job has already ${finishedVerb(status)}.`);
        if (job.run) {
          job.run.controller.abort();
          await job.run.done;
        }
        const ended = job.record.trajectory.status;
        if (isFinished(ended) && ended !== "cancelled") return refuse("conflict", `This job ${finishedVerb(ended)} before it could be stopped.`);
        // Queued, or paused at a step boundary by a drain: nothing runs, so the record is changed directly.
        if (ended !== "cancelled") {
          await admission.remove(jobId);
          const t = structuredClone(job.record.trajectory);
          t.status = "cancelled";
          t.stopReason = "stopped";
          t.updatedAt = now().toISOString();
          const failed = await commitOrRestore(job, t, [{ type: "job.cancelled", best: bestView(t.best) }]);
          if (failed) return failed;
        }
        log.info({ jobId, by: by.id }, "job stopped");
        return { ok: true, best: bestOf(job) };
      });
    },

    async pick(jobId, iteration, by) {
      const job = controlled(views.find(jobId), "pick", by, limits.admins);
      if (isRefusal(job)) return job;
      return table.withLock(job, async (): Promise<Result<{ best: NonNullable<ReturnType<typeof bestOf>> }>> => {
        const problem = pickProblem(job.record.trajectory, iteration);
        if (problem) return refuse("input", problem);
        if (job.run && !isFinished(job.record.trajectory.status)) {
          job.run.pickedIteration = iteration;
          job.run.controller.abort();
          await job.run.done;
        }
        // Already recorded by the run's commit, unless the job finished on its own just before.
        if (!(job.record.trajectory.stopReason === "picked" && job.record.trajectory.best?.n === iteration)) {
          await admission.remove(jobId);
          const t = structuredClone(job.record.trajectory);
          applyPick(t, iteration);
          t.updatedAt = now().toISOString();
          const failed = await commitOrRestore(job, t, [{ type: "job.done", best: bestView(t.best), reason: "picked" }]);
          if (failed) return failed;
        }
        log.info({ jobId, by: by.id, iteration }, "result picked");
        return { ok: true, best: bestOf(job) as NonNullable<ReturnType<typeof bestOf>> };
      });
    },

    async continue(jobId, extraIterations, by) {
      const job = controlled(views.find(jobId), "continue", by, limits.admins);
      if (isRefusal(job)) return job;
      const closed = core.notTaking();
      if (closed) return closed;
      return table.withLock(job, async (): Promise<Result<{ position: number }>> => {
        const { record } = job;
        const refused = continueRefusal(record, extraIterations);
        if (refused) return refused;
        const t = structuredClone(record.trajectory);
        // In line from here; the runner starts it once the commit below says it is queued.
        const admitted = await admission.admitContinue(jobId, record.requester);
        if (!admitted.ok) return admitted;
        applyContinue(t, extraIterations);
        t.updatedAt = now().toISOString();
        notePreference(record, t, now());
        const { position } = admitted;
        const failed = await commitOrRestore(job, t, [{ type: "job.queued", position }]);
        if (failed) {
          await admission.remove(jobId);
          return failed;
        }
        runner.schedule();
        log.info({ jobId, by: by.id, extraIterations }, "job continued");
        return { ok: true, position };
      });
    },

    async addFeedback(jobId, author, text, images): Promise<FeedbackResult> {
      const job = views.find(jobId);
      if (isRefusal(job)) return job;
      if (state.isClosed) return refuse("unavailable", RESTARTING);
      const checked = intake.checkFeedback(job.record.requester, author, text, images);
      if (typeof checked !== "string") return checked;
      return table.withLock(job, async (): Promise<FeedbackResult> => {
        const { record } = job;
        // Stored before it is acknowledged, so a crash cannot lose it.
        const entry = intake.pendingEntry(author, checked, images);
        record.pendingFeedback.push(entry);
        try {
          await table.persist(job);
        } catch (error) {
          record.pendingFeedback = record.pendingFeedback.filter((p) => p !== entry);
          log.error({ err: error, jobId }, "could not store feedback");
          return storageRefusal(error, "the feedback");
        }
        if (!isFinished(record.trajectory.status) || state.isDraining) return { ok: true, isApplied: false, questions: [] };
        const t = structuredClone(record.trajectory);
        const before = record.events.length;
        try {
          const input = { author: author.name, text: checked, ...(entry.imageHashes ? { imageHashes: entry.imageHashes } : {}) };
          await applyFeedback(t, input, { mllm: core.mllm, images: deps.images, commit: (next, events) => commit(job, next, events) }, undefined, now);
        } catch (error) {
          log.warn({ err: error, jobId }, "could not apply feedback to a finished job; kept for when it continues");
          return { ok: true, isApplied: false, questions: [] };
        }
        const added = record.events.slice(before).find((e) => e.type === "feedback.added");
        return { ok: true, isApplied: true, questions: added?.type === "feedback.added" ? added.questions : [] };
      });
    },

    async vote(jobId, voter, iteration, action) {
      const job = views.find(jobId);
      if (isRefusal(job)) return job;
      return voting.vote(job, voter, iteration, action);
    },

    ...core.reads,
    // Not behind the job's lock: a surface names its thread right after submit, while a stop may wait for a run.
    setSurfaceRef: (jobId, surfaceRef) => core.setSurfaceRef(jobId, surfaceRef, { isLocked: false }),
    metrics: () => core.metrics({ queued: admission.queued, running: admission.running }),

    drain(options = {}) {
      admission.stopStarting();
      return core.drain(options.timeoutMs, { resumesWhere: "at the next start" });
    },

    async close() {
      if (state.isClosed) return;
      voteCounts.close();
      admission.stopStarting();
      const runs = core.beginClose();
      // Aborted calls end quickly; a model call that ignores its signal is not worth hanging on.
      await waitAtMost(Promise.allSettled(runs.map((run) => run.done)), CLOSE_WAIT_MS);
      await table.settle();
      await backend.close();
    },
  };
}
