import { CorruptRecordError } from "./storage-errors.ts";
import type { TrajectoryStore } from "./stores.ts";
import type { Trajectory } from "./trajectory.ts";

export interface LoadedTrajectories {
  /** Oldest first. */
  trajectories: Trajectory[];
  /** One per record that could not be read back; `jobId` names the job. */
  corrupt: CorruptRecordError[];
}

/**
 * Reads every stored trajectory, oldest first. A corrupt record is collected instead of failing
 * the whole read; any other storage error (the database is gone) still throws.
 */
export async function loadTrajectories(store: TrajectoryStore): Promise<LoadedTrajectories> {
  const trajectories: Trajectory[] = [];
  const corrupt: CorruptRecordError[] = [];
  for (const jobId of await store.listJobIds()) {
    try {
      const trajectory = await store.get(jobId);
      // An id without a record is what a put interrupted between its index and record writes leaves.
      if (trajectory !== undefined) trajectories.push(trajectory);
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      corrupt.push(error);
    }
  }
  return { trajectories, corrupt };
}
