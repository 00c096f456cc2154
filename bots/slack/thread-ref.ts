/**
 * What the Slack surface stores with each job (the job's SurfaceRef): where its thread is and
 * how far the thread has been rendered. Kept in the job record so that, after a restart, the
 * bot finds the thread again and does not post what it already posted.
 */
import { z } from "zod";
import type { JobContext, SurfaceRef } from "../../core/jobs/types.ts";

export const SURFACE = "slack";

const threadRefSchema = z.object({
  surface: z.literal(SURFACE),
  team: z.string(),
  channel: z.string(),
  /** ts of the job's first channel message: the thread's root and the job's status card. */
  threadTs: z.string().nullable(),
  /** Highest event seq whose thread posts are done; a re-delivered event at or below it is dropped. */
  renderedSeq: z.number().int().nonnegative(),
  /** File id of each iteration's uploaded image, by iteration number: posted once, reused by the final reply. */
  files: z.record(z.string(), z.string()),
  /** ts of the job's latest final reply (its result), updated when votes change after the end. */
  finalTs: z.string().optional(),
  /** Links the job to the in-memory responder of the request that created it (see submit-job.ts). */
  requestId: z.string(),
});

export type ThreadRef = z.infer<typeof threadRefSchema>;

export function newThreadRef(team: string, channel: string, requestId: string): ThreadRef {
  return { surface: SURFACE, team, channel, threadTs: null, renderedSeq: 0, files: {}, requestId };
}

/** The stored ref, or null when the job was not created by this surface's code. */
export function readThreadRef(job: JobContext): ThreadRef | null {
  const parsed = threadRefSchema.safeParse(job.surfaceRef);
  return parsed.success ? parsed.data : null;
}

export function toSurfaceRef(ref: ThreadRef): SurfaceRef {
  return { ...ref, files: { ...ref.files } };
}

/** The key a thread is found by when a reply arrives. */
export const threadKey = (channel: string, threadTs: string): string => `${channel}/${threadTs}`;
