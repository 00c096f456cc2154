/**
 * What comes in from the surfaces, checked the same way in one process and scaled out: a new
 * job's request (requester, surface, the request itself, the daily quota) and the record it
 * starts as; feedback (who may give it, its text and images) and the pending entry it is kept
 * as until the loop applies it. Limits that need counting (queue, rate) are admission's.
 */
import { randomUUID } from "node:crypto";
import { MAX_REFERENCE_IMAGES, parseRefineMode, validateFeedbackText, validateJobRequest, type JobRequestInput } from "../agent/request.ts";
import { InputError } from "../errors.ts";
import { createTrajectory, REFERENCE_MODES, type JobRequest, type LoopModes } from "../memory/trajectory.ts";
import type { SkillLibrary } from "../skills/types.ts";
import type { JobLimits } from "./limits.ts";
import { checkControl } from "./permissions.ts";
import type { JobRecord, PendingFeedback, Person, Refusal, SurfaceRef } from "./types.ts";
import type { QuotaCheck } from "./usage-ledger.ts";
import { refuse } from "./job-views.ts";

export interface IntakeDeps {
  skills: SkillLibrary;
  limits: JobLimits;
  now: () => Date;
  quota?: QuotaCheck;
  modes?: LoopModes;
  createJobId?: () => string;
}

export interface JobIntake {
  /** The request as it will run, or why not (bad input, no surface, over the daily quota). */
  checkSubmit(input: JobRequestInput, requester: Person, surfaceRef: SurfaceRef): Promise<{ request: JobRequest } | Refusal>;
  /** A fresh id that `isTaken` does not know. */
  newJobId(isTaken: (jobId: string) => boolean): string;
  /** The record a new job starts as: queued, no events yet. */
  newRecord(jobId: string, requester: Person, surfaceRef: SurfaceRef, request: JobRequest, input: JobRequestInput, at: Date): JobRecord;
  /** The checked feedback text, or why it is refused (who may give it, its text, its images). */
  checkFeedback(requester: Person, author: Person, text: string, images: readonly string[] | undefined): string | Refusal;
  pendingEntry(author: Person, text: string, images: readonly string[] | undefined): PendingFeedback;
}

export function surfaceProblem(surfaceRef: SurfaceRef | undefined): Refusal | null {
  return typeof surfaceRef?.surface !== "string" || surfaceRef.surface.trim() === "" ? refuse("input", "The job has no surface to report to.") : null;
}

export function createJobIntake(deps: IntakeDeps): JobIntake {
  const { skills, limits, now } = deps;
  const createJobId = deps.createJobId ?? (() => randomUUID().replaceAll("-", "").slice(0, 12));

  return {
    async checkSubmit(input, requester, surfaceRef) {
      if (requester.id.trim() === "") return refuse("input", "The requester has no id.");
      const noSurface = surfaceProblem(surfaceRef);
      if (noSurface) return noSurface;
      let request;
      try {
        request = validateJobRequest(input, skills, limits.defaultIterations);
      } catch (error) {
        if (error instanceof InputError) return refuse("input", error.message);
        throw error;
      }
      const overQuota = await deps.quota?.(requester, surfaceRef);
      if (overQuota) return refuse("quota", overQuota);
      return { request };
    },

    newJobId(isTaken) {
      let jobId = createJobId();
      while (isTaken(jobId)) jobId = createJobId();
      return jobId;
    },

    newRecord(jobId, requester, surfaceRef, request, input, at) {
      return {
        version: 1,
        jobId,
        requester: { id: requester.id, name: requester.name },
        surfaceRef: structuredClone(surfaceRef),
        trajectory: createTrajectory(jobId, request, at, {
          ...(deps.modes ?? REFERENCE_MODES),
          // A per-job choice (validated with the request) outranks the deployment's GEMS_REFINE_MODE.
          ...(input.refineMode !== undefined ? { refine: parseRefineMode(input.refineMode) } : {}),
        }),
        events: [],
        cursors: {},
        pendingFeedback: [],
        finishedAt: null,
      };
    },

    checkFeedback(requester, author, text, images) {
      if (limits.feedbackRequesterOnly) {
        const denied = checkControl("feedback", requester, author, limits.admins);
        if (denied) return denied;
      }
      try {
        const checked = validateFeedbackText(text);
        if (images && images.length > MAX_REFERENCE_IMAGES) {
          throw new InputError(`${images.length} images came with the feedback; the limit is ${MAX_REFERENCE_IMAGES}. Attach the ones that matter most.`);
        }
        return checked;
      } catch (error) {
        if (error instanceof InputError) return refuse("input", error.message);
        throw error;
      }
    },

    pendingEntry(author, text, images) {
      return {
        author: { id: author.id, name: author.name },
        text,
        receivedAt: now().toISOString(),
        ...(images && images.length > 0 ? { imageHashes: [...images] } : {}),
      };
    },
  };
}
