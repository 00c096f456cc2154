/**
 * The scaled-out DayUsage (../usage-quota.ts): the jobs one person or one channel created on a
 * UTC day, read from the jobs table through the expression indexes of migration 4, so the query
 * touches that day's rows of that person or channel and no others. Only what a quota needs
 * leaves the server: the usage records, the models, and the number of iterations with an image.
 *
 * Why a query and not a running total per person and day: the trajectory already is the record
 * of what was spent, written in the commit of each step; a second counter would have to be
 * updated in that same commit (the job store's write path) and would drift from the records on
 * any bug, while the query costs a few rows per check.
 *
 * A job this process holds in memory may be ahead of its row (the process running it), or
 * behind it (a surfaces process's cache between wake-ups); usage only grows, so the larger wins.
 */
import type { Database } from "../../memory/postgres/database.ts";
import type { ModelNames, Trajectory } from "../../memory/trajectory.ts";
import type { JobUsage, PriceTable, UsageSource } from "../usage-ledger.ts";
import { channelOf, countsFrom, jobUsageFrom, usageOfJob } from "../usage-ledger.ts";
import type { DayUsage } from "../usage-quota.ts";
import type { Person, SurfaceRef } from "../types.ts";

interface UsageRow {
  job_id: string;
  requester: Person;
  surface_ref: SurfaceRef;
  created_at: string;
  usage: Trajectory["usage"] | null;
  models: ModelNames | null;
  images: number;
}

const isAhead = (a: JobUsage, b: JobUsage): boolean => a.calls + a.images > b.calls + b.images;

export function createPostgresDayUsage(db: Database, options: { models: ModelNames; prices: PriceTable; local?: Pick<UsageSource, "status"> }): DayUsage {
  const jobs = db.table("jobs");
  // The expressions must match the indexes' (migrations.ts, version 4) for the planner to use them.
  const select = `SELECT job_id, requester, surface_ref, trajectory->>'createdAt' AS created_at, trajectory->'usage' AS usage,
      trajectory->'models' AS models,
      (SELECT count(*) FROM jsonb_array_elements(trajectory->'iterations') AS it WHERE it->>'imageHash' IS NOT NULL)::int AS images
    FROM ${jobs}`;
  const day = `left(trajectory->>'createdAt', 10)`;

  return async (utcDay, owner) => {
    let rows: UsageRow[];
    if ("personId" in owner) {
      ({ rows } = await db.pool.query<UsageRow>(`${select} WHERE requester->>'id' = $1 AND ${day} = $2`, [owner.personId, utcDay]));
    } else {
      const colon = owner.channel.indexOf(":");
      if (colon < 0) return [];
      ({ rows } = await db.pool.query<UsageRow>(
        `${select} WHERE surface_ref->>'surface' = $1 AND coalesce(surface_ref->>'channelId', surface_ref->>'channel') = $2 AND ${day} = $3`,
        [owner.channel.slice(0, colon), owner.channel.slice(colon + 1), utcDay],
      ));
      // The index reads a numeric channel id as text too; channelOf counts only string ids.
      rows = rows.filter((row) => channelOf(row.surface_ref) === owner.channel);
    }
    return rows.map((row) => {
      const job = { jobId: row.job_id, requester: row.requester, surfaceRef: row.surface_ref, createdAt: row.created_at };
      const stored = jobUsageFrom(job, countsFrom(row.usage ?? [], row.images), row.models ?? options.models, options.prices);
      const held = options.local?.status(row.job_id);
      if (!held?.ok) return stored;
      const inMemory = usageOfJob(held.job, options.models, options.prices);
      return isAhead(inMemory, stored) ? inMemory : stored;
    });
  };
}
