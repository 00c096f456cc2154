/**
 * What a scaled-out `gems serve` connects to, opened once per process and shared by the job
 * service and team skills: one PostgreSQL pool and one Redis link (a commands connection, a
 * subscriber, and BullMQ's). bots/runtime.ts opens them, since team skills load before the job
 * service exists, and closes them after both have stopped. One-shot commands open their own.
 *
 * Every connection carries the process's name (`gems:<instance>`) as its PostgreSQL
 * application_name and Redis client name, so pg_stat_activity and CLIENT LIST say whose it is.
 */
import { hostname } from "node:os";
import type { ScaleOutConfig } from "../config/schema.ts";
import { connectRedis, type RedisLink } from "../core/jobs/distributed/redis.ts";
import { openDatabase, type Database } from "../core/memory/postgres/database.ts";

/** What the users get: they use the connections and never close them. */
export interface SharedConnections {
  db: Database;
  redis: RedisLink;
}

export interface OpenedConnections extends SharedConnections {
  /** Closes the Redis link, then the pool; only the opener calls it, after every user stopped. */
  close(): Promise<void>;
}

/** This process's name in metrics and owner tokens. */
export function instanceName(scaleOut: ScaleOutConfig): string {
  return scaleOut.instance ?? `${hostname()}:${process.pid}`;
}

/** The name each connection of this process carries (GEMS_INSTANCE has no spaces, as Redis needs). */
export function connectionName(scaleOut: ScaleOutConfig): string {
  return `gems:${instanceName(scaleOut)}`;
}

export async function openSharedConnections(scaleOut: ScaleOutConfig): Promise<OpenedConnections> {
  const name = connectionName(scaleOut);
  const db = await openDatabase(scaleOut.databaseUrl, { schema: scaleOut.databaseSchema, applicationName: name });
  let redis: RedisLink;
  try {
    redis = await connectRedis(scaleOut.redisUrl, scaleOut.redisPrefix, { clientName: name });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    db,
    redis,
    // pg's Pool.end throws when called twice; a second close waits for the first instead.
    close: () =>
      (closing ??= (async () => {
        await redis.close();
        await db.close();
      })()),
  };
}
