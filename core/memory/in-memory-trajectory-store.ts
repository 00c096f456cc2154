import type { TrajectoryStore } from "./stores.ts";
import type { Trajectory } from "./trajectory.ts";

/**
 * A TrajectoryStore held in a Map, for tests and benchmarks. Values are cloned both ways so a
 * caller mutating its object cannot change what is stored, as with a real backend.
 */
export function createInMemoryTrajectoryStore(): TrajectoryStore {
  // A Map keeps first-insertion order, and re-setting a key keeps its place: oldest first for free.
  const trajectories = new Map<string, Trajectory>();
  return {
    async get(jobId) {
      const stored = trajectories.get(jobId);
      return stored === undefined ? undefined : structuredClone(stored);
    },
    async put(trajectory) {
      trajectories.set(trajectory.jobId, structuredClone(trajectory));
    },
    async delete(jobId) {
      trajectories.delete(jobId);
    },
    async listJobIds() {
      return [...trajectories.keys()];
    },
    async close() {},
  };
}
