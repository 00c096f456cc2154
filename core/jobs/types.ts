/**
 * The job service's contract with the surfaces: who asks, where the answer goes, what they get
 * back. Surfaces depend on this file and on events.ts, never on the service's internals.
 */
import type { JobEvent, RequirementView } from "../agent/events.ts";
import type { JobRequestInput } from "../agent/request.ts";
import type { BestImage, JobRequest, StopReason, Trajectory, TrajectoryStatus } from "../memory/trajectory.ts";
import type { ModelCallSeries } from "./model-call-stats.ts";
import type { VoteAction, VoteCount, VoteEntry } from "./votes.ts";

/** Someone on a surface. `id` carries the surface ("discord:123") so ids never collide across platforms. */
export interface Person {
  id: string;
  /** Display name, used in refusals and as the author of feedback. */
  name: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Where a job's events go: the surface's name plus whatever it needs to find its thread again
 * after a restart (channel and thread ids). Stored with the job as plain JSON.
 */
export type SurfaceRef = { surface: string } & { [key: string]: JsonValue };

/** Feedback acknowledged but not yet in the job's memory (the job is queued or mid-step). */
export interface PendingFeedback {
  author: Person;
  /** Already validated and trimmed. */
  text: string;
  receivedAt: string;
  /** Hashes of images attached to the feedback, already in the image store. */
  imageHashes?: string[];
  /** A note for memory only (the team's preference from votes): no questions are derived from it. */
  isNote?: boolean;
}

/**
 * Everything the service keeps about one job, written as one Keyv value per commit so the
 * trajectory, its events and the delivery cursors never disagree after a crash.
 */
export interface JobRecord {
  version: 1;
  jobId: string;
  requester: Person;
  surfaceRef: SurfaceRef;
  trajectory: Trajectory;
  /** seq 1, 2, 3…; events[i].seq === i + 1. */
  events: JobEvent[];
  /** Per surface name: the highest seq its handler has accepted. */
  cursors: Record<string, number>;
  pendingFeedback: PendingFeedback[];
  /** Set when the job reached done, failed or cancelled; retention counts from here. */
  finishedAt: string | null;
  /** Team votes, one per person per iteration; absent in records from before votes existed. */
  votes?: VoteEntry[];
}

/** Why the service said no; surfaces may pick wording or an icon by it. */
export type RefusalReason =
  | "input"
  | "not-found"
  | "forbidden"
  | "queue-full"
  | "rate-limited"
  | "quota"
  | "conflict"
  | "unavailable"
  | "storage"
  | "corrupt"
  /** The content filter refused the text or an image; surfaces show it only to the requester. */
  | "moderation";

/** A refusal is an answer, not an exception: `message` is written for the person who asked. */
export interface Refusal {
  ok: false;
  reason: RefusalReason;
  message: string;
}

export type Result<T extends object = object> = ({ ok: true } & T) | Refusal;

/** 0: it starts right away; n ≥ 1: n-th in line. */
export type SubmitResult = Result<{ jobId: string; position: number }>;

export interface JobStatus {
  jobId: string;
  status: TrajectoryStatus;
  /** For queued jobs, as in SubmitResult; null otherwise. */
  position: number | null;
  requester: Person;
  surfaceRef: SurfaceRef;
  request: JobRequest;
  iterations: number;
  best: BestImage | null;
  stopReason: StopReason | null;
  error: string | null;
  /** Feedback acknowledged but not yet in memory. */
  pendingFeedback: number;
  /** The seq of the job's latest event. */
  lastSeq: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** The committed memory (a copy): plan, checklist, iterations, feedback. */
  trajectory: Trajectory;
  /**
   * Team votes per iteration that has any, in iteration order. The service always fills it;
   * optional so hand-built statuses (tests, older callers) need not.
   */
  votes?: VoteCount[];
}

/** The short form that list() returns. */
export type JobSummary = Omit<JobStatus, "trajectory" | "surfaceRef" | "votes">;

/** Feedback on a finished job goes into memory at once; on a queued or running one before its next step. */
export type FeedbackResult = Result<{ isApplied: boolean; questions: RequirementView[] }>;

/** What a surface is told about the job an event belongs to, so it can find its thread. */
export interface JobContext {
  jobId: string;
  requester: Person;
  surfaceRef: SurfaceRef;
}

/**
 * Renders one event. Resolving means "delivered": the cursor moves past it. Throwing means
 * "try again later"; the same event comes back, in order, after a backoff.
 */
export type EventHandler = (event: JobEvent, job: JobContext) => Promise<void> | void;

export interface SubscribeOptions {
  /** Every job's events, not only those whose surfaceRef names this surface (web studio, metrics). */
  isAllJobs?: boolean;
}

export interface CorruptJob {
  jobId: string;
  problem: string;
}

export interface StartReport {
  loaded: number;
  resumed: number;
  corrupt: CorruptJob[];
}

export interface SweepReport {
  jobsRemoved: number;
  imagesRemoved: number;
}

export interface JobServiceMetrics {
  jobs: number;
  queued: number;
  running: number;
  generatorInFlight: number;
  generatorWaiting: number;
  mllmInFlight: number;
  mllmWaiting: number;
  /** Model call latencies since start, by model and role, timed once a call holds its slot. */
  modelCalls: ModelCallSeries[];
  /** The upper bounds, in seconds, of every series' cumulative buckets. */
  modelCallBucketsSeconds: readonly number[];
}

/** A server the job service depends on, as a health check found it. */
export interface DependencyHealth {
  name: "postgresql" | "redis";
  isUp: boolean;
  /** Why it is down, in a few words (no address, no credentials). */
  problem?: string;
}

export interface JobService {
  /** Loads the store, resumes unfinished jobs from their last committed step, starts the sweeper. */
  start(): Promise<StartReport>;
  /** Queues a job; the answer comes once the job is stored, not when it runs. */
  submit(input: JobRequestInput, requester: Person, surfaceRef: SurfaceRef): Promise<SubmitResult>;
  /** Stops a queued or running job; a running one keeps its best image. */
  cancel(jobId: string, by: Person): Promise<Result<{ best: BestImage | null }>>;
  /** Ends the job with iteration `iteration`'s image as the result (reason "picked"). */
  pick(jobId: string, iteration: number, by: Person): Promise<Result<{ best: BestImage }>>;
  /** Runs up to `extraIterations` more iterations of a finished job, from its memory. */
  continue(jobId: string, extraIterations: number, by: Person): Promise<Result<{ position: number }>>;
  /** `images`: hashes of images attached to the feedback, already checked and in the image store. */
  addFeedback(jobId: string, author: Person, text: string, images?: string[]): Promise<FeedbackResult>;
  /**
   * Records `voter`'s 👍/👎 on iteration `iteration` (one vote per person per iteration, the last
   * counts; "remove-up"/"remove-down" clear it only while it is still that vote). Anyone may vote.
   */
  vote(jobId: string, voter: Person, iteration: number, action: VoteAction): Promise<Result<{ votes: VoteCount[] }>>;
  /** Points a job at a new place on its surface (e.g. the thread created after submit). */
  setSurfaceRef(jobId: string, surfaceRef: SurfaceRef): Promise<Result>;
  status(jobId: string): Result<{ job: JobStatus }>;
  /** A person's jobs, newest first; every job when `requesterId` is undefined. */
  list(requesterId?: string): JobSummary[];
  /** The stored events of a job after `afterSeq`, for re-rendering a thread. */
  events(jobId: string, afterSeq?: number): Result<{ events: JobEvent[] }>;
  /** Delivers events to a surface in order, at least once. Returns an unsubscribe function. */
  subscribe(surface: string, handler: EventHandler, options?: SubscribeOptions): () => void;
  /** Deletes finished jobs past the retention age, and images no remaining job refers to. */
  sweep(now?: Date): Promise<SweepReport>;
  /** Records that could not be read at start. */
  corruptJobs(): CorruptJob[];
  metrics(): JobServiceMetrics;
  /**
   * Scaled out: whether PostgreSQL and Redis answer now (one bounded round trip each), for the
   * health checks. One process on SQLite has nothing to check and does not have it.
   */
  checkDependencies?(): Promise<DependencyHealth[]>;
  /**
   * SIGTERM: stops taking work, lets each running job finish its current step, persists
   * everything and resolves. Jobs stay "running" in the store and resume at the next start().
   */
  drain(options?: { timeoutMs?: number }): Promise<void>;
  /** Stops at once (nothing more is written) and closes the store. drain() first for a clean stop. */
  close(): Promise<void>;
}
