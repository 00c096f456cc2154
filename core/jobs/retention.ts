/** What the sweep may delete: finished jobs past the retention age, and images only they used. */
import { referenceHashes, type Trajectory } from "../memory/trajectory.ts";
import type { JobRecord } from "./types.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Finished before `now - retentionDays`. Queued and running jobs never expire. */
export function isExpired(record: JobRecord, now: Date, retentionDays: number): boolean {
  if (record.finishedAt === null) return false;
  return Date.parse(record.finishedAt) < now.getTime() - retentionDays * DAY_MS;
}

/** Every image a job's memory refers to. */
export function imageHashesOf(trajectory: Trajectory): string[] {
  const hashes = trajectory.iterations.flatMap((it) => (it.imageHash === null ? [] : [it.imageHash]));
  if (trajectory.best) hashes.push(trajectory.best.imageHash);
  // Reference images (the request's and feedback's) live as long as the job that uses them.
  hashes.push(...referenceHashes(trajectory));
  return [...new Set(hashes)];
}
