/**
 * Versioned schema changes, applied at start-up. Each runs once, recorded in
 * `schema_migrations`; all of them run in one transaction that first takes an advisory lock
 * keyed by the schema, so two processes starting at once apply them one after the other (the
 * second finds nothing left to do). Append new versions; never edit an applied one.
 */
import type { Database } from "./database.ts";

export interface Migration {
  version: number;
  name: string;
  /** SQL with `{schema}` standing for the quoted schema name. */
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "jobs, events, delivery cursors, pending feedback, images, keyv",
    sql: `
      -- One row per job; ord keeps the oldest-first order listings promise.
      CREATE TABLE {schema}.jobs (
        job_id      text PRIMARY KEY,
        ord         bigserial NOT NULL UNIQUE,
        requester   jsonb NOT NULL,
        surface_ref jsonb NOT NULL,
        trajectory  jsonb NOT NULL,
        finished_at timestamptz,
        updated_at  timestamptz NOT NULL DEFAULT now()
      );
      -- The event log: seq 1, 2, 3… per job, never rewritten.
      CREATE TABLE {schema}.job_events (
        job_id text NOT NULL REFERENCES {schema}.jobs (job_id) ON DELETE CASCADE,
        seq    integer NOT NULL CHECK (seq >= 1),
        event  jsonb NOT NULL,
        PRIMARY KEY (job_id, seq)
      );
      -- Per surface and job: the highest seq the surface accepted. Only ever moves forward.
      CREATE TABLE {schema}.delivery_cursors (
        job_id  text NOT NULL REFERENCES {schema}.jobs (job_id) ON DELETE CASCADE,
        surface text NOT NULL,
        seq     integer NOT NULL,
        PRIMARY KEY (job_id, surface)
      );
      -- Feedback acknowledged but not yet in memory; rows of their own so that a surfaces
      -- process adding one never overwrites the worker's record of the job, or the reverse.
      CREATE TABLE {schema}.pending_feedback (
        id          bigserial PRIMARY KEY,
        job_id      text NOT NULL REFERENCES {schema}.jobs (job_id) ON DELETE CASCADE,
        author      jsonb NOT NULL,
        text        text NOT NULL,
        received_at timestamptz NOT NULL,
        UNIQUE (job_id, received_at, text)
      );
      -- Content-addressed images: the key is the sha256 of the bytes.
      CREATE TABLE {schema}.images (
        hash         char(64) PRIMARY KEY,
        content_type text NOT NULL,
        bytes        bytea NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      );
      -- Keyv's PostgreSQL adapter (trajectory store) expects this shape; created here so the
      -- adapter's own CREATE TABLE IF NOT EXISTS finds it and never races another process.
      CREATE TABLE {schema}.keyv (key varchar(255) PRIMARY KEY, value text);
    `,
  },
  {
    version: 2,
    name: "job owner (fencing token of the worker running it)",
    sql: `
      -- Set when a worker takes a job; its writes carry the token, so a worker that lost the job
      -- (its queue lock expired and another worker took over) can no longer commit a step.
      ALTER TABLE {schema}.jobs ADD COLUMN owner text;
      CREATE INDEX jobs_updated_at ON {schema}.jobs (updated_at);
    `,
  },
  {
    version: 3,
    name: "team votes; images and the note flag on pending feedback",
    sql: `
      -- One row per person per iteration (the last vote counts): rows of their own, so a
      -- surfaces process recording a vote never overwrites the job row a worker is writing.
      CREATE TABLE {schema}.job_votes (
        job_id     text NOT NULL REFERENCES {schema}.jobs (job_id) ON DELETE CASCADE,
        iteration  integer NOT NULL CHECK (iteration >= 1),
        voter      jsonb NOT NULL,
        voter_id   text NOT NULL,
        vote       text NOT NULL CHECK (vote IN ('up', 'down')),
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (job_id, iteration, voter_id)
      );
      -- Feedback images (hashes into images) and the team-preference note flag travel with the row.
      ALTER TABLE {schema}.pending_feedback ADD COLUMN image_hashes text[];
      ALTER TABLE {schema}.pending_feedback ADD COLUMN is_note boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 4,
    name: "team skills and skill defaults; daily usage indexes for quotas",
    sql: `
      -- Every version of every team skill, never updated: the newest per id is the one in use.
      CREATE TABLE {schema}.team_skill_versions (
        skill_id text NOT NULL,
        version  integer NOT NULL CHECK (version >= 1),
        text     text NOT NULL,
        added_by text NOT NULL,
        added_at timestamptz NOT NULL,
        PRIMARY KEY (skill_id, version)
      );
      -- A person's default skill for jobs that name none: a skill id, auto or none.
      CREATE TABLE {schema}.skill_defaults (
        person_id  text PRIMARY KEY,
        choice     text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      -- A quota check reads one person's (or one channel's) jobs of one UTC day. The day is the
      -- first 10 characters of the trajectory's ISO createdAt (always UTC), which unlike a cast
      -- to timestamptz is immutable and so may be indexed.
      CREATE INDEX jobs_requester_day ON {schema}.jobs ((requester->>'id'), (left(trajectory->>'createdAt', 10)));
      CREATE INDEX jobs_channel_day ON {schema}.jobs (
        (surface_ref->>'surface'), (coalesce(surface_ref->>'channelId', surface_ref->>'channel')), (left(trajectory->>'createdAt', 10))
      );
    `,
  },
];

/** Applies every migration not yet recorded; returns the versions it applied. */
export async function migrate(database: Database): Promise<number[]> {
  const schema = `"${database.schema}"`;
  return database.transaction(async (client) => {
    // Transaction-scoped: released by COMMIT or ROLLBACK, even if this process dies.
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`gems-migrations:${database.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const done: number[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql.replaceAll("{schema}", schema));
      await client.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      done.push(migration.version);
    }
    return done;
  });
}
