/**
 * Trajectories in PostgreSQL through Keyv's PostgreSQL adapter: the same record store as the
 * SQLite default (one whole value per job plus an index key), in the `keyv` table of the GEMS
 * schema that the migrations create. Like the SQLite store it is written by one process at a
 * time (the index is read, changed and written back); the job service's records, which many
 * processes write, live in plain tables instead (core/jobs/postgres/job-store.ts).
 */
import { KeyvPostgres } from "@keyv/postgres";
import { Keyv } from "keyv";
import { createKeyvTrajectoryStore } from "../keyv-trajectory-store.ts";
import type { TrajectoryStore } from "../stores.ts";
import type { Database } from "./database.ts";

const NAMESPACE = "memory";

/** Opens the store on an already migrated database (openDatabase migrates). */
export function openPostgresTrajectoryStore(db: Pick<Database, "url" | "schema">): TrajectoryStore {
  // The adapter shares one pool per URL inside the process; close() ends it.
  const adapter = new KeyvPostgres({ uri: db.url, schema: db.schema, table: "keyv", max: 4 });
  return createKeyvTrajectoryStore(new Keyv({ store: adapter, namespace: NAMESPACE, throwOnErrors: true }));
}
