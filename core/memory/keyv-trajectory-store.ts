import type { Keyv } from "keyv";
import { createKeyvRecordStore } from "./keyv-record-store.ts";
import { openSqliteKeyv } from "./sqlite-keyv.ts";
import type { TrajectoryStore } from "./stores.ts";
import type { Trajectory } from "./trajectory.ts";
import { parseStoredTrajectory } from "./trajectory-schema.ts";

// Not "trajectory": Keyv skips its prefix for keys that already start with `<namespace>:`.
const SQLITE_NAMESPACE = "memory";

/**
 * A TrajectoryStore over any Keyv: one key per trajectory (one atomic upsert of the whole
 * record), listed oldest first. Takes ownership of `keyv`; give it `throwOnErrors: true`, or a
 * failed read looks like a missing job.
 */
export function createKeyvTrajectoryStore(keyv: Keyv): TrajectoryStore {
  const records = createKeyvRecordStore<Trajectory>(keyv, {
    kind: "trajectory",
    idOf: (trajectory) => trajectory.jobId,
    parse: parseStoredTrajectory,
  });
  return {
    get: (jobId) => records.get(jobId),
    put: (trajectory) => records.put(trajectory),
    delete: (jobId) => records.delete(jobId),
    listJobIds: () => records.listIds(),
    close: () => records.close(),
  };
}

/** The default TrajectoryStore: `<dataDir>/gems.sqlite`, created with its directory if missing. */
export async function openSqliteTrajectoryStore(dataDir: string): Promise<TrajectoryStore> {
  return createKeyvTrajectoryStore(await openSqliteKeyv(dataDir, SQLITE_NAMESPACE));
}
