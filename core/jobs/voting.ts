/**
 * The job service's vote action: checks a vote, stores it in the job record (so it survives a
 * restart) and, while a later iteration is still to run, turns a clear team preference into a
 * note for the next attempt. Kept out of job-service.ts behind this small interface.
 *
 * Votes cast after a job ended (the common case: people react once they see the result) reach
 * its final message through a `votes.changed` event, committed to the job's log like any other,
 * so every surface, in any process, learns of it once through the ordinary delivery. Both
 * services use `createVoteCounts` for that; only how they may write a job differs (`show`).
 */
import type { Logger } from "pino";
import type { AgentEvent, JobEvent } from "../agent/events.ts";
import { GemsError, describeError } from "../errors.ts";
import type { Trajectory } from "../memory/trajectory.ts";
import type { Committer } from "./job-commit.ts";
import type { Job, JobTable } from "./job-table.ts";
import type { JobRecord, Person, Result } from "./types.ts";
import { VOTE_ACTIONS, applyVote, countVotes, preferenceNote, type VoteAction, type VoteCount } from "./votes.ts";

export interface VotingDeps<J extends { record: JobRecord }> {
  /** Writes the whole record (coalesced with the job's other writes). */
  persist(job: J): Promise<void>;
  now(): Date;
  logger: Logger;
  /** Told of every stored vote, so a finished job's final message gets the new counts. */
  counts?: VoteCounts;
}

export interface Voting<J extends { record: JobRecord }> {
  vote(job: J, voter: Person, iteration: number, action: VoteAction): Promise<Result<{ votes: VoteCount[] }>>;
}

/**
 * Queues "the team preferred iteration k" as pending feedback of `record` when the votes show a
 * clear preference memory does not hold yet; `t` is the trajectory about to run on. Called where
 * the next attempt is certain: at a running job's step boundary (while it has attempts left) and
 * when a finished job is continued. Votes alone never write memory, so a preference that a later
 * vote undoes never reaches it.
 */
export function notePreference(record: JobRecord, t: Trajectory, at: Date): void {
  if (t.status === "running" && t.iterations.length >= t.request.maxIterations) return;
  const note = preferenceNote(t, record.votes ?? [], record.pendingFeedback, at.toISOString());
  if (note) record.pendingFeedback.push(note);
}

export function createVoting<J extends { record: JobRecord }>(deps: VotingDeps<J>): Voting<J> {
  async function vote(job: J, voter: Person, iteration: number, action: VoteAction): Promise<Result<{ votes: VoteCount[] }>> {
    const { record } = job;
    if (!VOTE_ACTIONS.includes(action)) return { ok: false, reason: "input", message: `A vote is one of ${VOTE_ACTIONS.join(", ")} (got ${String(action)}).` };
    if (typeof voter?.id !== "string" || voter.id.trim() === "") return { ok: false, reason: "input", message: "The vote has no voter." };
    const t = record.trajectory;
    const withImages = t.iterations.filter((it) => it.imageHash !== null).map((it) => it.n);
    if (!withImages.includes(iteration)) {
      const choice = withImages.length > 0 ? `Vote on one of: ${withImages.join(", ")}.` : "This job has no image yet.";
      return { ok: false, reason: "input", message: `Iteration ${String(iteration)} has no image to vote on. ${choice}` };
    }
    const before = record.votes;
    record.votes = applyVote(record.votes ?? [], voter, iteration, action, deps.now().toISOString());
    try {
      await deps.persist(job);
    } catch (error) {
      record.votes = before;
      deps.logger.error({ err: error, jobId: record.jobId }, "could not store a vote");
      return { ok: false, reason: "storage", message: error instanceof GemsError ? error.message : `Could not save the vote: ${describeError(error)}` };
    }
    deps.logger.info({ jobId: record.jobId, voter: voter.id, iteration, action }, "vote recorded");
    deps.counts?.changed(record.jobId);
    return { ok: true, votes: countVotes(record.votes) };
  }

  return { vote };
}

// ---- the counts on a finished job's final message -------------------------------------------

/**
 * A burst of votes (a few people reacting at once, someone flipping 👍 to 👎) becomes one event:
 * the counts are shown once no vote came for VOTE_SETTLE_MS, or VOTE_MAX_WAIT_MS after the
 * burst's first vote while votes keep coming. Debounced here, in the service, rather than
 * skipped by the surfaces: the log then holds one event per burst, so every surface makes one
 * edit for it (Discord and Slack rate-limit edits per channel) and a replay after a restart has
 * little to skip; surfaces still skip one that a later event superseded (isVotesSuperseded).
 */
export const VOTE_SETTLE_MS = 1_000;
export const VOTE_MAX_WAIT_MS = 5_000;

/**
 * The counts a job's final message shows now, from the latest votes.changed or job.done; null
 * when the job's latest end is not a job.done (it failed, was stopped, or was continued since),
 * as then there is no final message with votes to bring up to date.
 */
export function shownVoteCounts(events: readonly JobEvent[]): VoteCount[] | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i] as JobEvent;
    if (event.type === "votes.changed") return event.votes;
    if (event.type === "job.done") return event.votes ?? [];
    if (event.type === "job.failed" || event.type === "job.cancelled" || event.type === "job.queued" || event.type === "job.started") return null;
  }
  return null;
}

const isSameCounts = (a: readonly VoteCount[], b: readonly VoteCount[]): boolean =>
  a.length === b.length && a.every((c, i) => c.n === b[i]?.n && c.up === b[i]?.up && c.down === b[i]?.down);

/**
 * The votes.changed a finished job needs, or null when its final message already shows the
 * stored votes (or it has none to show them on). The result is not chosen again: with
 * GEMS_RESULT_BY=votes it was fixed when the job ended, and the message says so.
 */
export function votesChangedEvent(record: JobRecord): AgentEvent | null {
  if (record.trajectory.status !== "done") return null;
  const shown = shownVoteCounts(record.events);
  if (shown === null) return null;
  const now = countVotes(record.votes ?? []);
  return isSameCounts(shown, now) ? null : { type: "votes.changed", votes: now };
}

/** Commits the job's votes.changed when it needs one; the caller may write the job (lock or claim). */
export async function commitVotesChanged(job: Job, commit: Committer["commit"]): Promise<void> {
  const event = votesChangedEvent(job.record);
  if (event) await commit(job, job.record.trajectory, [event]);
}

export interface VoteCountsDeps {
  /** Commits the job's votes.changed if it needs one, writing the job the way this service may. */
  show(jobId: string): Promise<void>;
  isClosed(): boolean;
  logger: Logger;
  settleMs?: number;
  maxWaitMs?: number;
}

export interface VoteCounts {
  /** A vote on this job was stored: its counts are shown once the burst settles. */
  changed(jobId: string): void;
  /**
   * A job loaded at start: shows counts a crash kept from its final message (votes are stored at
   * once, the event only when the burst settles).
   */
  restored(record: JobRecord): void;
  /** Drops the bursts not shown yet; `restored` finds them again at the next start. */
  close(): void;
}

export function createVoteCounts(deps: VoteCountsDeps): VoteCounts {
  const settleMs = deps.settleMs ?? VOTE_SETTLE_MS;
  const maxWaitMs = deps.maxWaitMs ?? VOTE_MAX_WAIT_MS;
  const bursts = new Map<string, { firstMs: number; timer: NodeJS.Timeout }>();

  function show(jobId: string): void {
    bursts.delete(jobId);
    if (deps.isClosed()) return;
    deps.show(jobId).catch((error: unknown) => deps.logger.warn({ err: error, jobId }, "could not show the new vote counts"));
  }

  function changed(jobId: string): void {
    const nowMs = Date.now();
    const burst = bursts.get(jobId);
    if (burst) clearTimeout(burst.timer);
    const firstMs = burst?.firstMs ?? nowMs;
    const timer = setTimeout(() => show(jobId), Math.max(0, Math.min(settleMs, firstMs + maxWaitMs - nowMs)));
    // Housekeeping: a pending burst must not keep a finished process alive (restored() catches up).
    timer.unref();
    bursts.set(jobId, { firstMs, timer });
  }

  return {
    changed,
    restored(record) {
      if (votesChangedEvent(record)) changed(record.jobId);
    },
    close() {
      for (const burst of bursts.values()) clearTimeout(burst.timer);
      bursts.clear();
    },
  };
}

/** `show` for the single-process service: under the job's lock, as its other changes. */
export function showVotesLocally(table: JobTable, commit: Committer["commit"]): (jobId: string) => Promise<void> {
  return async (jobId) => {
    const job = table.get(jobId);
    if (job) await table.withLock(job, () => commitVotesChanged(job, commit));
  };
}

/**
 * `show` for the scaled-out service: a finished job has no worker, so the process that recorded
 * the votes reads the job again and, when its message is behind, claims the job and commits
 * (the "who writes what" rule for a job no worker holds). A job this process runs is left to its
 * run, and one still running elsewhere to its worker, which reads the votes again after its end.
 */
export function showVotesClaimed(host: {
  table: JobTable;
  refresh(jobId: string): Promise<void>;
  claim<T>(job: Job, task: () => Promise<T>): Promise<T>;
  commit: Committer["commit"];
}): (jobId: string) => Promise<void> {
  return async (jobId) => {
    await host.refresh(jobId);
    const job = host.table.get(jobId);
    if (!job || job.run || !votesChangedEvent(job.record)) return;
    await host.table.withLock(job, () => host.claim(job, () => commitVotesChanged(job, host.commit)));
  };
}
