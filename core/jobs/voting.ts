/**
 * The job service's vote action: checks a vote, stores it in the job record (so it survives a
 * restart) and, while a later iteration is still to run, turns a clear team preference into a
 * note for the next attempt. Kept out of job-service.ts behind this small interface.
 */
import type { Logger } from "pino";
import { GemsError, describeError } from "../errors.ts";
import type { Trajectory } from "../memory/trajectory.ts";
import type { JobRecord, Person, Result } from "./types.ts";
import { VOTE_ACTIONS, applyVote, countVotes, preferenceNote, type VoteAction, type VoteCount } from "./votes.ts";

export interface VotingDeps<J extends { record: JobRecord }> {
  /** Writes the whole record (coalesced with the job's other writes). */
  persist(job: J): Promise<void>;
  now(): Date;
  logger: Logger;
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
    return { ok: true, votes: countVotes(record.votes) };
  }

  return { vote };
}
