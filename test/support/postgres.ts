/**
 * A PostgreSQL schema of its own for each test (or test file), created and migrated on open and
 * dropped at cleanup, so test files run in parallel against one real server. The server is the
 * machine's (127.0.0.1:5432, trust auth); GEMS_TEST_DATABASE_URL points elsewhere.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "../../core/memory/postgres/database.ts";
import { onCleanup } from "./cleanup.ts";

export const TEST_DATABASE_URL = process.env.GEMS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function uniqueSchemaName(label = "t"): string {
  return `gems_${label}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** Drops a schema and everything in it (tests only). */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A migrated database on a fresh schema; closed and dropped after the test unless `isManual`. */
export async function testDatabase(options: { schema?: string; isManual?: boolean } = {}): Promise<Database> {
  const schema = options.schema ?? uniqueSchemaName();
  const db = await openDatabase(TEST_DATABASE_URL, { schema, maxConnections: 4 });
  if (!options.isManual) onCleanup(() => dropSchema(schema), () => db.close().catch(() => undefined));
  return db;
}
